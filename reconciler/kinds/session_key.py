"""The Session Key alternate key on the session table: Active, or repaired."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from reconciler.config.models import Tenant
from reconciler.kinds.base import Comparison, DesiredContext, ExportContext, ResourceKind
from reconciler.kinds.needs import TenantNeeds
from reconciler.plan import Action, Manual, UnknownChange
from reconciler.profile import SolutionProfile
from reconciler.resources import Kind, Resource, register


@register
@dataclass(frozen=True, slots=True)
class SessionKey(Resource):
    """The Session Key alternate key; status is Pending, InProgress, Active or Failed."""

    kind: ClassVar[Kind] = "session_key"
    key_fields: ClassVar[tuple[str, ...]] = ("table", "key_name")
    table: str
    key_name: str
    status: str | None = None


class SessionKeyKind(ResourceKind):
    type = SessionKey
    title = "session key"
    depends_on = ("solution",)
    section = "session_key"
    not_compared: ClassVar[dict[str, str]] = {}
    manual_steps = True

    def desired(self, tenant: Tenant, context: DesiredContext) -> list[Resource]:
        if tenant.session_key is None:
            return []
        session = context.profile.session
        return [SessionKey(table=session.table, key_name=session.key_logical_name, status="Active")]

    def plan(
        self, want: Resource, have: Resource | None, deps: tuple[str, ...], comparison: Comparison
    ) -> None:
        """Never created or updated: a missing key is a damaged solution (a manual step, unless
        the solution is being imported, which brings it); an index job in progress is unknown
        until it ends; a Failed key is repaired (delete the failed job, reactivate the key)."""
        assert isinstance(want, SessionKey)
        live = have if isinstance(have, SessionKey) else None
        if live is None:
            if not deps:
                comparison.add(missing_step(want))
            return
        if live.status == "Active":
            return
        if live.status == "InProgress":
            reason = "the Session Key index job is in progress; plan again later"
            comparison.add(UnknownChange(self.name, want.key, deps, reason=reason))
            return
        job = live.meta.get("async_job")
        message = live.meta.get("job_message")
        steps = (
            f"delete the failed index system job {job} (asyncoperation, operationtype 63)"
            if job
            else "no failed index job to delete",
            f"ReactivateEntityKey {want.table}/{want.key_name}",
            "wait until the key is Active",
        )
        reason = f"Session Key is {live.status}" + (f": {message}" if message else "")
        comparison.add(Action(self.name, want.key, deps, "repair_session_key", want, live, reason, steps))

    def needs(self, tenant: Tenant, profile: SolutionProfile, need: TenantNeeds) -> None:
        if tenant.session_key is None:
            return
        need.section("session")
        need.privilege("prvCreateEntityKey", "session_key (reactivate the Session Key)")
        need.table(
            ["Read", "Delete"], "AsyncOperation", "session_key (the failed index job is deleted first)"
        )

    def export(self, context: ExportContext) -> list[str]:
        key = next((r for r in context.live.of_kind(self.name) if isinstance(r, SessionKey)), None)
        if key is None:
            return []
        if key.status == "Active":
            return ["", "session_key:", "  status: active"]
        return [
            "",
            f"# session_key is {key.status} now: not managed here (null also overrides _defaults.yaml).",
            "# Set `session_key: {status: active}` to have apply repair it.",
            "session_key: null",
        ]


def missing_step(key: SessionKey) -> Manual:
    return Manual(
        key.kind,
        key.key,
        (),
        title=f"Session Key is missing on {key.table}",
        reason="the alternate key does not exist; the solution may be damaged",
        steps=("Reinstall or upgrade the LogMeIn Rescue solution, then run reconcile plan again.",),
    )


KIND = SessionKeyKind()
