"""`--target KIND:KEY`: narrow a plan to chosen objects (pure; like terraform's -target).

Rules (README, "Acting on chosen objects"):
- KIND must be one of the resource kinds; anything else is an error listing them.
- KEY matches a change's key case-insensitively (e-mail addresses and group paths are).
- A targeted change keeps what it depends on (``depends_on``, transitively): applying a
  technician's settings without the Rescue technician it needs would fail half-way, so the
  dependency is included and a note on the tenant says so. Nothing else is kept: other
  changes, manual steps and unknown objects of other objects drop out of the plan. An unknown
  outside the targets so no longer makes the narrowed plan incomplete (exit 3): it is not acted
  on, and a note on the tenant names it. An unknown the targets are or depend on stays (exit 3).
- A target that matches no change in any tenant is an error: nothing is written, and the
  message says which target matched nothing (a typo, or the object is already in sync);
  unless a tenant could not be planned at all, which may hold it (its error is shown).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from reconciler.errors import InputError
from reconciler.plan.changes import Change
from reconciler.plan.model import Plan, TenantPlan
from reconciler.resources import kinds


@dataclass(frozen=True)
class Target:
    kind: str
    key: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.key}"

    def matches(self, change: Change) -> bool:
        return change.kind == self.kind and change.key.casefold() == self.key.casefold()


def parse_targets(texts: Sequence[str]) -> tuple[Target, ...]:
    """``KIND:KEY`` texts -> targets; every bad one is reported at once."""
    targets: list[Target] = []
    problems: list[str] = []
    for text in texts:
        kind, sep, key = text.partition(":")
        kind, key = kind.strip(), key.strip()
        if not sep or not key:
            problems.append(f"--target {text!r}: expected KIND:KEY, e.g. technician:alice@contoso.com")
        elif kind not in kinds():
            problems.append(f"--target {text!r}: unknown kind {kind!r}; kinds: {', '.join(kinds())}")
        else:
            targets.append(Target(kind, key))
    if problems:
        raise InputError("\n".join(problems))
    return tuple(dict.fromkeys(targets))


def _with_dependencies(tenant: TenantPlan, targets: Sequence[Target]) -> TenantPlan:
    by_id = {c.id: c for c in tenant.changes}
    chosen = {c.id for c in tenant.changes if any(t.matches(c) for t in targets)}
    wanted = set(chosen)
    pending = list(chosen)
    while pending:
        for dep in by_id[pending.pop()].depends_on:
            if dep in by_id and dep not in wanted:
                wanted.add(dep)
                pending.append(dep)
    added = sorted(wanted - chosen)
    notes = tenant.notes
    if added:
        notes += (f"--target: also included, as targeted changes depend on them: {', '.join(added)}",)
    left_out = [u.id for u in tenant.unknown if u.id not in wanted]
    if left_out:
        notes += (f"--target: not known, left out as outside the targets: {', '.join(left_out)}",)
    return replace(tenant, changes=tuple(c for c in tenant.changes if c.id in wanted), notes=notes)


def select_targets(plan: Plan, targets: Sequence[Target]) -> Plan:
    """The plan with only the targeted changes (and their dependencies); no targets: unchanged."""
    if not targets:
        return plan
    unmatched = [
        str(t) for t in targets if not any(t.matches(c) for tenant in plan.tenants for c in tenant.changes)
    ]
    if unmatched and not plan.failed:  # a tenant that could not be planned may hold the target
        raise InputError(
            "nothing to do for --target "
            + ", ".join(unmatched)
            + ": no tenant of this run has a change, manual step or unknown for it "
            "(check the spelling, or it is already in sync)"
        )
    return replace(plan, tenants=tuple(_with_dependencies(t, targets) for t in plan.tenants))
