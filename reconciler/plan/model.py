"""The plan is a value (STYLE 6): changes per tenant, their safety evaluation, and what was read."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.errors import EXIT_CHANGES, EXIT_ERROR, EXIT_INCOMPLETE, EXIT_OK, UnsafePlanError
from reconciler.plan.changes import OPS, Change, Delete, Manual, Op, UnknownChange, Update
from reconciler.resources import Kind, Unmanaged, kinds

FORMAT_VERSION = 2  # history in docs/plan-format.md


@dataclass(frozen=True)
class SafetySettings:
    """Thresholds of DESIGN §5 (from the tenant's `safety:`)."""

    max_change_fraction: float = 0.3
    min_objects: int = 10


@dataclass(frozen=True)
class SafetyViolation:
    """A reason this plan needs --force."""

    kind: Kind
    reason: str


@dataclass(frozen=True)
class TenantPlan:
    """What should change in one tenant, and what could not be known."""

    tenant: str
    desired_digest: str
    changes: tuple[Change, ...] = ()
    unmanaged: tuple[Unmanaged, ...] = ()
    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    # Drift seen in the integration's effect (`--health`): nothing apply can change, but drift.
    findings: tuple[str, ...] = ()
    live_counts: Mapping[str, int] = field(default_factory=dict)
    requests: Mapping[str, Any] = field(default_factory=dict)  # per service: requests, retries, endpoints
    safety: SafetySettings = field(default_factory=SafetySettings)
    error: str = ""  # the tenant could not be planned at all (e.g. credentials refused)

    @property
    def actionable(self) -> tuple[Change, ...]:
        """Changes apply would carry out (creates, updates, deletes, actions)."""
        return tuple(c for c in self.changes if c.is_change)

    @property
    def manual(self) -> tuple[Manual, ...]:
        return tuple(c for c in self.changes if isinstance(c, Manual))

    @property
    def unknown(self) -> tuple[UnknownChange, ...]:
        return tuple(c for c in self.changes if isinstance(c, UnknownChange))

    @property
    def has_changes(self) -> bool:
        return bool(self.actionable)

    @property
    def has_drift(self) -> bool:
        return self.has_changes or bool(self.findings)

    @property
    def incomplete(self) -> bool:
        """Some live state is unknown or a reference could not be resolved."""
        return bool(self.unknown or self.problems)

    def counts(self) -> dict[str, dict[str, int]]:
        """{kind: {op: n}} for the kinds and ops present, in display order."""
        counter = Counter((c.kind, c.op) for c in self.changes)
        out: dict[str, dict[str, int]] = {}
        for kind in kinds():
            row: dict[str, int] = {op: counter[(kind, op)] for op in OPS if counter[(kind, op)]}
            if row:
                out[kind] = row
        return out

    def violations(self) -> tuple[SafetyViolation, ...]:
        """Safety rails (DESIGN §5): what needs --force in this plan."""
        found: list[SafetyViolation] = []
        for change in self.changes:
            if isinstance(change, Delete):
                found.append(SafetyViolation(change.kind, f"deletes {change.kind} {change.key} (prune)"))
            if (
                isinstance(change, Update)
                and change.kind == "application_user"
                and any(item.path == "roles" for item in change.items)
            ):
                found.append(SafetyViolation(change.kind, "changes the application user's security roles"))
        touched = Counter(c.kind for c in self.changes if isinstance(c, Update | Delete))
        for kind, n in touched.items():
            total = self.live_counts.get(kind, 0)
            if total >= self.safety.min_objects and n / total > self.safety.max_change_fraction:
                found.append(
                    SafetyViolation(
                        kind,
                        f"changes or deletes {n} of {total} {kind} objects "
                        f"(more than {self.safety.max_change_fraction:.0%})",
                    )
                )
        return tuple(found)


@dataclass(frozen=True)
class Plan:
    """Plans of every tenant of one run."""

    tenants: tuple[TenantPlan, ...]
    created_at: str = ""
    tool_version: str = ""
    format_version: int = FORMAT_VERSION

    @property
    def has_changes(self) -> bool:
        return any(t.has_changes for t in self.tenants)

    @property
    def has_drift(self) -> bool:
        return any(t.has_drift for t in self.tenants)

    @property
    def incomplete(self) -> bool:
        return any(t.incomplete for t in self.tenants)

    @property
    def failed(self) -> tuple[TenantPlan, ...]:
        return tuple(t for t in self.tenants if t.error)

    def violations(self) -> dict[str, tuple[SafetyViolation, ...]]:
        return {t.tenant: v for t in self.tenants if (v := t.violations())}

    def raise_if_unsafe(self, *, force: bool = False) -> None:
        """Refuse (``UnsafePlanError``, exit 4) a plan a safety rail holds back, unless forced."""
        violations = self.violations()
        if violations and not force:
            lines = [f"{tenant}: {v.reason}" for tenant, vs in violations.items() for v in vs]
            raise UnsafePlanError(
                "refused by the safety rails (review, then re-run with --force):\n  " + "\n  ".join(lines)
            )

    def exit_code(self, *, changes_exit: bool) -> int:
        """1 when a tenant could not be planned, 3 when incomplete, 2 for changes or health
        findings (when asked)."""
        if self.failed:
            return EXIT_ERROR
        if self.incomplete:
            return EXIT_INCOMPLETE
        if changes_exit and self.has_drift:
            return EXIT_CHANGES
        return EXIT_OK

    def totals(self) -> dict[Op, int]:
        counter: Counter[Op] = Counter(c.op for t in self.tenants for c in t.changes)
        return {op: counter[op] for op in OPS}
