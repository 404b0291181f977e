"""One checklist of the manual steps across a fleet (pure): each distinct step once, with the
tenants that need it, and the tenants whose steps are not known: they could not be planned, or the
live state of an object that may need a step (a Rescue group's export, consent, the solution, the
Session Key) could not be read, so its step is neither listed nor ruled out."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from reconciler.plan.changes import Manual
from reconciler.plan.model import Plan, TenantPlan


@dataclass(frozen=True)
class ChecklistItem:
    """A manual step and every tenant that needs it (the same kind, key, title, reason and steps)."""

    kind: str
    key: str
    title: str
    reason: str
    steps: tuple[str, ...]
    tenants: tuple[str, ...]


@dataclass(frozen=True)
class Checklist:
    items: tuple[ChecklistItem, ...]
    unplanned: tuple[tuple[str, str], ...]  # (tenant, why): some or all of its manual steps are not known

    @property
    def step_count(self) -> int:
        """Boxes to tick: one per tenant of each item."""
        return sum(len(item.tenants) for item in self.items)


def fleet_checklist(plan: Plan, *, manual_step_kinds: Collection[str]) -> Checklist:
    """``manual_step_kinds``: the kinds whose comparison can end in a manual step
    (``reconciler.kinds.MANUAL_STEP_KINDS``, from each kind's module; this layer is below it)."""
    items = group_steps((t.tenant, t.manual) for t in plan.tenants)
    unplanned = tuple(
        (t.tenant, why) for t in plan.tenants if (why := t.error or _unknown_steps(t, manual_step_kinds))
    )
    return Checklist(items, unplanned)


def group_steps(by_tenant: Iterable[tuple[str, Iterable[Manual]]]) -> tuple[ChecklistItem, ...]:
    """Each distinct manual step once (the same kind, key, title, reason and steps), with every
    tenant that has it, in the order first seen."""
    grouped: dict[tuple[str, str, str, str, tuple[str, ...]], list[str]] = {}
    for tenant, steps in by_tenant:
        for step in steps:
            key = (step.kind, step.key, step.title, step.reason, step.steps)
            grouped.setdefault(key, []).append(tenant)
    return tuple(
        ChecklistItem(kind, key, title, reason, steps, tuple(tenants))
        for (kind, key, title, reason, steps), tenants in grouped.items()
    )


def _unknown_steps(tenant: TenantPlan, manual_step_kinds: Collection[str]) -> str:
    """Why some of a planned tenant's steps are not known ("" when all are)."""
    unknown = [c for c in tenant.unknown if c.kind in manual_step_kinds]
    if not unknown:
        return ""
    objects = ", ".join(c.id for c in unknown)
    reasons = "; ".join(dict.fromkeys(c.reason for c in unknown))
    return f"the manual steps of {objects} are not known: {reasons}"
