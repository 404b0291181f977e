"""One checklist of the manual steps across a fleet (pure): each distinct step once, with the
tenants that need it, and the tenants whose steps are not known because they could not be planned."""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.plan.model import Plan


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
    unplanned: tuple[tuple[str, str], ...]  # (tenant, why): its manual steps are not known

    @property
    def step_count(self) -> int:
        """Boxes to tick: one per tenant of each item."""
        return sum(len(item.tenants) for item in self.items)


def fleet_checklist(plan: Plan) -> Checklist:
    grouped: dict[tuple[str, str, str, str, tuple[str, ...]], list[str]] = {}
    for tenant in plan.tenants:
        for step in tenant.manual:
            grouped.setdefault((step.kind, step.key, step.title, step.reason, step.steps), []).append(
                tenant.tenant
            )
    items = tuple(
        ChecklistItem(kind, key, title, reason, steps, tuple(tenants))
        for (kind, key, title, reason, steps), tenants in grouped.items()
    )
    unplanned = tuple((t.tenant, t.error) for t in plan.tenants if t.error)
    return Checklist(items, unplanned)
