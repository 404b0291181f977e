"""The integration's traffic: Rescue sessions end, and the integration writes them into Dynamics.

When a session ends, Rescue posts its details to the URL set on the technician's group
("Exporting session data", Admin Center only). The LogMeIn integration service then writes a
LogMeIn Session row, upserted by its Session Key, into the org, acting as the application user.
That only works when everything it needs is in place; otherwise nothing arrives, as in reality,
and why is recorded on the session (``delivery``), visible only through the sandbox controls:

- ``no_export``: the group does not post to the integration URL at session end;
- ``consent_missing``: no service principal of the LogMeIn app in the Entra tenant;
- ``application_user_missing`` / ``role_missing``: no application user, or without its role;
- ``technician_unmapped``: no LogMeIn settings row holds the technician's ID;
- ``session_key_not_active``: the Session Key index is not Active, so the upsert fails.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rescue_sandbox.errors import InputError
from rescue_sandbox.rescue import Node
from rescue_sandbox.rescue.sessions import RescueSession
from rescue_sandbox.tenant import SandboxTenant

# Where the integration listens (production and beta); the vendor's help text names the first.
INTEGRATION_URLS = (
    "https://dynamics.logmeinrescue.com/api/integration",
    "https://dynamicsbeta.logmeinrescue.com/api/integration",
)
DELIVERED = "delivered"


@dataclass(frozen=True)
class SolutionNames:
    """The logical names the integration writes and checks, from the sandbox's own org schema."""

    session_table: str
    session_key: str
    session_key_column: str
    session_technician_column: str
    session_start_column: str
    session_end_column: str
    settings_table: str
    settings_user_column: str
    settings_technician_column: str
    app_id: str
    role: str


def solution_names(tenant: SandboxTenant) -> SolutionNames:
    """The one place that reads the solution's names, through the org the sandbox already has."""
    schema = tenant.org.schema
    sess, tech = schema.session, schema.technician_settings
    return SolutionNames(
        session_table=sess.table,
        session_key=sess.key_logical_name,
        session_key_column=sess.key_columns[0],
        session_technician_column=sess.columns["technician_id"],
        session_start_column=sess.columns["start_time"],
        session_end_column=sess.columns["end_time"],
        settings_table=tech.table,
        settings_user_column=tech.user_value_column,
        settings_technician_column=tech.columns["technician_id"],
        app_id=schema.app_id,
        role=schema.app_role,
    )


def _posts_at_end(group: Node | None) -> bool:
    export = group.export if group is not None else None
    return bool(
        export
        and str(export.get("url", "")).rstrip("/") in INTEGRATION_URLS
        and export.get("at_session_end", True)
    )


@dataclass
class _Readiness:
    """What the integration finds in place, read once per batch of sessions."""

    names: SolutionNames
    blocker: str | None  # consent, application user or role: blocks every session
    key_active: bool
    mapped: set[str]
    written: set[str]


def _readiness(tenant: SandboxTenant) -> _Readiness:
    names = solution_names(tenant)
    org = tenant.org
    blocker = None
    users = [u for u in org.find("systemuser", "applicationid", names.app_id) if not u.get("isdisabled")]
    if not any(sp.app_id.lower() == names.app_id.lower() for sp in tenant.identity.service_principals):
        blocker = "consent_missing"
    elif not users:
        blocker = "application_user_missing"
    else:
        user_id = str(users[0]["systemuserid"])
        role_ids = set(org.related_ids("systemuserroles_association", "systemuser", user_id))
        if not any(r["roleid"] in role_ids for r in org.find("role", "name", names.role)):
            blocker = "role_missing"
    key_active = org.key_status(names.session_table, names.session_key).status == "Active"
    mapped = {str(r.get(names.settings_technician_column)) for r in org.rows(names.settings_table)}
    written = {str(r.get(names.session_key_column)) for r in org.rows(names.session_table)}
    return _Readiness(names, blocker, key_active, mapped, written)


def _session_row(names: SolutionNames, session: RescueSession) -> dict[str, Any]:
    """What the post carries into the row: the session ID (its key), the technician's ID, and
    the pickup and closing times. The case lookup stays empty: the sandbox's sessions are not
    started from a case's PIN (Rescue's tracking field is empty)."""
    return {
        names.session_key_column: str(session.session_id),
        names.session_technician_column: str(session.technician_id),
        names.session_start_column: _utc(session.start),
        names.session_end_column: _utc(session.end),
    }


def _utc(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _deliver(tenant: SandboxTenant, session: RescueSession, ready: _Readiness) -> str:
    if not _posts_at_end(tenant.rescue.nodes.get(session.group_id)):
        session.delivery = "no_export"
    elif ready.blocker is not None:
        session.delivery = ready.blocker
    elif str(session.technician_id) not in ready.mapped:
        session.delivery = "technician_unmapped"
    elif not ready.key_active:
        session.delivery = "session_key_not_active"
    else:
        key = str(session.session_id)
        if key not in ready.written:
            tenant.org.insert(ready.names.session_table, _session_row(ready.names, session))
            ready.written.add(key)
        session.delivery = DELIVERED
    return session.delivery


def deliver(tenant: SandboxTenant, session: RescueSession) -> str:
    """What the session-end post does: write the LogMeIn Session row, or say why nothing arrives."""
    with tenant.org.lock:
        return _deliver(tenant, session, _readiness(tenant))


def run_sessions(
    tenant: SandboxTenant,
    technicians: list[Node],
    *,
    count: int,
    minutes: float = 20.0,
    every_minutes: float = 60.0,
    ended_minutes_ago: float = 1.0,
) -> list[RescueSession]:
    """``count`` sessions per technician, one every ``every_minutes``, the last one ended
    ``ended_minutes_ago``; each is delivered (or not) as it ends, oldest first."""
    if count < 1 or minutes <= 0 or every_minutes <= 0 or ended_minutes_ago < 0:
        raise InputError("count >= 1, minutes > 0, every_minutes > 0, ended_minutes_ago >= 0")
    company = tenant.rescue
    done: list[RescueSession] = []
    with company.lock, tenant.org.lock:
        ready = _readiness(tenant)  # nothing the integration needs changes during the batch
        now = company.now()
        for k in reversed(range(count)):
            end = now - 60 * (ended_minutes_ago + k * every_minutes)
            for technician in technicians:
                session = company.book.add(technician, end - 60 * minutes, end)
                _deliver(tenant, session, ready)
                done.append(session)
    return done


def technicians_of(tenant: SandboxTenant, *, email: str | None, group: str | None) -> list[Node]:
    """The technician with ``email``, or every technician directly in the group at ``group``."""
    company = tenant.rescue
    if (email is None) == (group is None):
        raise InputError("give exactly one of 'technician' (an email) or 'group' (a path)")
    if email is not None:
        node = company.user_by_email(email)
        if node is None or node.type != "Technician":
            raise InputError(f"no Rescue technician with email {email!r}")
        return [node]
    found = company.group_by_path(str(group))
    if found is None:
        raise InputError(f"no technician group {group!r}")
    members = [company.nodes[c] for c in company.children.get(found.node_id, [])]
    return [n for n in members if n.type == "Technician"]


def session_spec(tenant: SandboxTenant, raw: Mapping[str, Any], where: str) -> list[RescueSession]:
    """Run the sessions one seed entry or control body describes (keys: technician | group,
    count, minutes, every_minutes, ended_minutes_ago)."""
    allowed = {"technician", "group", "count", "minutes", "every_minutes", "ended_minutes_ago"}
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise InputError(
            f"{where}: unknown keys {', '.join(unknown)} (allowed: {', '.join(sorted(allowed))})"
        )
    try:
        numbers = {k: float(raw[k]) for k in ("minutes", "every_minutes", "ended_minutes_ago") if k in raw}
        count = int(raw.get("count", 1))
    except (TypeError, ValueError):
        raise InputError(
            f"{where}: count, minutes, every_minutes and ended_minutes_ago are numbers"
        ) from None
    email = raw.get("technician")
    group = raw.get("group")
    try:
        technicians = technicians_of(
            tenant,
            email=str(email) if email is not None else None,
            group=str(group) if group is not None else None,
        )
        return run_sessions(tenant, technicians, count=count, **numbers)
    except InputError as exc:
        raise InputError(f"{where}: {exc.message}") from None


def run_seeded_sessions(tenant: SandboxTenant, entries: Any) -> None:
    """The seed's ``rescue.sessions`` list, run once the tenant is built."""
    if entries is None:
        return
    if not isinstance(entries, list):
        raise InputError(f"seed: tenants.{tenant.name}.rescue.sessions: must be a list")
    for i, raw in enumerate(entries):
        where = f"seed: tenants.{tenant.name}.rescue.sessions[{i}]"
        if not isinstance(raw, Mapping):
            raise InputError(f"{where}: must be a mapping")
        session_spec(tenant, raw, where)


def describe(session: RescueSession, tenant: SandboxTenant) -> dict[str, Any]:
    group = tenant.rescue.nodes.get(session.group_id)
    return {
        "session_id": session.session_id,
        "technician_id": session.technician_id,
        "technician": session.technician_name,
        "group": tenant.rescue.path_of(group) if group is not None else None,
        "start": session.start,
        "end": session.end,
        "delivery": session.delivery,
    }
