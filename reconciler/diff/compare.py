"""The diff: desired resources vs live resources -> a tenant plan.

A purely computational function with no side effects (STYLE 4): no I/O, no HTTP, no clock.
Resources are matched on ``(kind, key)``, then their canonical content is compared field by
field; ``None`` on the desired side means "not managed". Unknown live state is never turned
into a create or a delete.
"""

from __future__ import annotations

from collections.abc import Iterable

from reconciler.config.models import Prune
from reconciler.config.types import version_tuple
from reconciler.diff.desired import ANY_KEY, DesiredState
from reconciler.diff.manual import consent_step, export_step, solution_step
from reconciler.plan import (
    Action,
    Change,
    Create,
    Delete,
    FieldChange,
    Manual,
    SafetySettings,
    TenantPlan,
    UnknownChange,
    Update,
)
from reconciler.resources import (
    KIND_INFO,
    KINDS,
    NEW_TECHNICIAN_PREFIX,
    ApplicationUser,
    Consent,
    LiveState,
    RescueGroup,
    RescueTechnician,
    Resource,
    Sensitive,
    SessionKey,
    Solution,
    TechnicianSettings,
    Unmanaged,
)


def field_changes(desired: Resource, live: Resource) -> tuple[FieldChange, ...]:
    """Field-level differences over the fields the desired side manages (not None)."""
    items: list[FieldChange] = []
    live_content = live.content()
    for name, want in desired.content().items():
        if want is None:
            continue
        have = live_content.get(name)
        if isinstance(want, frozenset) or isinstance(have, frozenset):
            continue  # sets (roles) have their own rule
        if isinstance(want, Sensitive):
            if not isinstance(have, Sensitive) or want != have:
                items.append(FieldChange(name, None, None, sensitive=True))
            continue
        if want != have:
            items.append(FieldChange(name, have, want))
    return tuple(items)


class _Differ:
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

    def pending(self, change_id: str) -> tuple[str, ...]:
        """``(change_id,)`` when that change is planned and actionable, else ``()``."""
        change = self.by_id.get(change_id)
        return (change_id,) if change is not None and change.is_change else ()

    def solution_dependency(self) -> tuple[str, ...]:
        for change in self.changes:
            if change.kind == "solution" and change.is_change:
                return (change.id,)
        return ()

    def run(self) -> None:
        order = {kind: i for i, kind in enumerate(KINDS)}
        for resource in sorted(self.desired.resources, key=lambda r: order[r.kind]):
            self.one(resource)
        self.unmanaged_and_prune()

    def one(self, want: Resource) -> None:
        unknown = self.live.unknown_for(want.kind, want.key)
        deps = self.solution_dependency() if "solution" in KIND_INFO[want.kind].depends_on else ()
        if unknown is not None and not (
            isinstance(want, RescueTechnician) and want.technician_id.startswith(NEW_TECHNICIAN_PREFIX)
        ):
            self.add(UnknownChange(want.kind, want.key, deps, reason=unknown.reason))
            return
        have = self.live.get(want.kind, want.key)
        if isinstance(want, Solution):
            self.solution(want, have if isinstance(have, Solution) else None)
        elif isinstance(want, SessionKey):
            self.session_key(want, have if isinstance(have, SessionKey) else None, deps)
        elif isinstance(want, RescueGroup):
            self.group(want, have)
        elif isinstance(want, Consent):
            if not (isinstance(have, Consent) and have.granted):
                self.add(consent_step(want, self.entra_tenant_id))
        elif have is None:
            self.add(Create(want.kind, want.key, deps + self.create_deps(want), desired=want))
        else:
            items = field_changes(want, have)
            if isinstance(want, ApplicationUser) and isinstance(have, ApplicationUser):
                items += self.roles(want, have)
            if items:
                self.add(Update(want.kind, want.key, deps + self.create_deps(want), want, have, items))

    def create_deps(self, want: Resource) -> tuple[str, ...]:
        if isinstance(want, TechnicianSettings) and want.technician_id:
            return self.pending(f"rescue_technician:{want.technician_id}")
        if isinstance(want, RescueTechnician) and want.create_group:
            return self.pending(f"rescue_group:{want.create_group}")
        return ()

    def roles(self, want: ApplicationUser, have: ApplicationUser) -> tuple[FieldChange, ...]:
        wanted = {r.casefold(): r for r in want.roles or ()}
        present = {r.casefold(): r for r in have.roles or ()}
        extra = [present[r] for r in present if r not in wanted]
        for role in sorted(extra):
            if not self.prune.application_user_roles:
                self.unmanaged.append(
                    Unmanaged("application_user", want.key, f"extra security role {role!r} (not declared)")
                )
        target = set(wanted) | (set() if self.prune.application_user_roles else set(present))
        if target == set(present):
            return ()
        new = sorted(wanted.get(r) or present[r] for r in target)
        return (FieldChange("roles", sorted(present.values()), new),)

    def solution(self, want: Solution, have: Solution | None) -> None:
        version = want.version or "0"
        if have is not None and have.managed and version_tuple(have.version or "0") >= version_tuple(version):
            return
        if have is None:
            reason = f"solution {want.unique_name} is not installed"
        elif not have.managed:
            reason = (
                f"solution {want.unique_name} {have.version} is unmanaged; a managed solution is required"
            )
        else:
            reason = f"solution {want.unique_name} is {have.version}, older than {version}"
        if want.package and (have is None or have.managed):
            steps = (
                f"import {want.package} with ImportSolution (PublishWorkflows: true)",
                f"verify {want.unique_name} is managed and at least {version}",
            )
            self.add(Action("solution", want.key, (), "import_solution", want, have, reason, steps))
        else:
            self.add(solution_step(want, reason))

    def session_key(self, want: SessionKey, have: SessionKey | None, deps: tuple[str, ...]) -> None:
        if have is None:
            if deps:
                return  # the key arrives with the solution being imported
            self.add(
                Manual(
                    "session_key",
                    want.key,
                    (),
                    title=f"Session Key is missing on {want.table}",
                    reason="the alternate key does not exist; the solution may be damaged",
                    steps=(
                        "Reinstall or upgrade the LogMeIn Rescue solution, then run reconcile plan again.",
                    ),
                )
            )
            return
        if have.status == "Active":
            return
        if have.status == "InProgress":
            self.add(
                UnknownChange(
                    "session_key",
                    want.key,
                    deps,
                    reason="the Session Key index job is in progress; plan again later",
                )
            )
            return
        job = have.meta.get("async_job")
        message = have.meta.get("job_message")
        steps = (
            f"delete the failed index system job {job} (asyncoperation, operationtype 63)"
            if job
            else "no failed index job to delete",
            f"ReactivateEntityKey {want.table}/{want.key_name}",
            "wait until the key is Active",
        )
        reason = f"Session Key is {have.status}" + (f": {message}" if message else "")
        self.add(Action("session_key", want.key, deps, "repair_session_key", want, have, reason, steps))

    def group(self, want: RescueGroup, have: Resource | None) -> None:
        created = have is None
        if created:
            parent = want.path.rsplit("/", 1)[0] if "/" in want.path else ""
            deps = self.pending(f"rescue_group:{parent}") if parent else ()
            self.add(Create("rescue_group", want.key, deps, desired=want))
        elif want.permissions is not None and isinstance(have, RescueGroup):
            self.group_permissions(want, have)
        if want.export is not None and (created or want.confirmed is None):
            self.add(export_step(want, created=created))

    def group_permissions(self, want: RescueGroup, have: RescueGroup) -> None:
        """Declared permissions are set exactly (setGroup_v2 replaces the whole list)."""
        if have.permissions is None:
            self.add(UnknownChange("rescue_group", want.key, (), reason="its permissions were not read"))
        elif have.permissions != want.permissions:
            item = FieldChange("permissions", list(have.permissions), list(want.permissions or ()))
            self.add(Update("rescue_group", want.key, (), want, have, (item,)))

    def unmanaged_and_prune(self) -> None:
        # Listed but unresolved (a problem or unknown): neither unmanaged nor pruned.
        wanted = {r.ident for r in self.desired.resources} | self.desired.declared
        if ("technician", ANY_KEY) in wanted:
            return  # a technician rule's source is unknown: any row might be one it maps
        for live in self.live.of_kind("technician"):
            if live.ident in wanted:
                continue
            if self.prune.technicians:
                self.add(Delete("technician", live.key, (), live=live))
            else:
                self.unmanaged.append(
                    Unmanaged(
                        "technician", live.key, "LogMeIn settings row of a user the tenant files do not list"
                    )
                )


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
