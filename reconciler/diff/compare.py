"""The diff: desired resources vs live resources -> a tenant plan.

A purely computational function with no side effects (STYLE 4): no I/O, no HTTP, no clock.
Resources are matched on ``(kind, key)``, then each kind's module (``reconciler/kinds/``) says
what differs and what that means (its ``plan`` hook); this loop knows no kind (STYLE 14).
Unknown live state is never turned into a create or a delete.
"""

from __future__ import annotations

from collections.abc import Iterable

from reconciler.config.models import Prune
from reconciler.diff.desired import DesiredState
from reconciler.kinds import REGISTRY, ResourceKind, kind_of
from reconciler.plan import Change, SafetySettings, TenantPlan, UnknownChange
from reconciler.resources import LiveState, Resource, Unmanaged


class _Differ:
    """One tenant's comparison: the ``Comparison`` the kinds' hooks record into."""

    def __init__(self, desired: DesiredState, live: LiveState, prune: Prune, entra_tenant_id: str) -> None:
        self.desired = desired
        self.live = live
        self.prune = prune
        self.entra_tenant_id = entra_tenant_id
        self.changes: list[Change] = []
        self.unmanaged: list[Unmanaged] = []
        self.by_id: dict[str, Change] = {}

    def add(self, change: Change) -> None:
        self.changes.append(change)
        # A group's create and its manual steps share an id: dependencies follow the create.
        if change.is_change or change.id not in self.by_id:
            self.by_id[change.id] = change

    def add_unmanaged(self, item: Unmanaged) -> None:
        self.unmanaged.append(item)

    def pending(self, change_id: str) -> tuple[str, ...]:
        change = self.by_id.get(change_id)
        return (change_id,) if change is not None and change.is_change else ()

    def declared(self) -> set[tuple[str, str]]:
        # Listed but unresolved (a problem or unknown) counts: neither unmanaged nor pruned.
        return {r.ident for r in self.desired.resources} | self.desired.declared

    def prerequisites(self, kind: ResourceKind) -> tuple[str, ...]:
        """The actionable changes of the prerequisite kinds ``kind`` depends on."""
        found: list[str] = []
        for dependency in kind.depends_on:
            if not kind_of(dependency).prerequisite:
                continue
            change = next((c for c in self.changes if c.kind == dependency and c.is_change), None)
            if change is not None:
                found.append(change.id)
        return tuple(found)

    def run(self) -> None:
        order = {kind.name: i for i, kind in enumerate(REGISTRY)}
        for resource in sorted(self.desired.resources, key=lambda r: order[r.kind]):
            self.one(resource)
        for kind in REGISTRY:
            kind.after_all(self)

    def one(self, want: Resource) -> None:
        kind = kind_of(want.kind)
        deps = self.prerequisites(kind)
        unknown = self.live.unknown_for(want.kind, want.key)
        if unknown is not None and not kind.planned_while_unknown(want):
            self.add(UnknownChange(want.kind, want.key, deps, reason=unknown.reason))
            return
        kind.plan(want, self.live.get(want.kind, want.key), deps, self)


def diff_tenant(
    tenant: str,
    desired: DesiredState,
    live: LiveState,
    *,
    prune: Prune,
    entra_tenant_id: str,
    desired_digest: str,
    safety: SafetySettings,
    extra_problems: Iterable[str] = (),
) -> TenantPlan:
    """The plan for one tenant (no requests counted yet: the engine adds them)."""
    differ = _Differ(desired, live, prune, entra_tenant_id)
    for unknown in desired.unknown:
        differ.add(UnknownChange(unknown.kind, unknown.key, (), reason=unknown.reason))
    differ.run()
    return TenantPlan(
        tenant=tenant,
        desired_digest=desired_digest,
        changes=tuple(differ.changes),
        unmanaged=tuple(differ.unmanaged),
        problems=tuple(desired.problems) + tuple(extra_problems),
        notes=tuple(live.notes),
        findings=tuple(live.findings),
        live_counts=live.counts(),
        safety=safety,
    )
