"""Session-flow health: did the Rescue sessions of each technician group reach Dynamics?

Pure (no I/O): :func:`evaluate` takes what was read (the Rescue session report, the LogMeIn
Session rows in Dynamics, the integration's prerequisites) and gives a verdict per group with
its likely cause. The causes are inferred the way an admin would: prerequisites that block every
session first (Session Key, application user and role, consent), then technicians whose
settings row does not hold their Rescue node ID, and only when all of that is in place and none
of a group's sessions arrived, the export setting of that group (no API can read it).

A cause is blamed only when every read it depends on succeeded: a group that loses sessions
while a check its cause depends on could not be read is Unknown, naming what could not be read,
never "export setting missing" by elimination over a failed read. What each depends on:

=============================  ==============================================================
every verdict                  the session report, the LogMeIn Session rows, the hierarchy
                               (a failure: the tenant is Unknown, ``unknown_health``); a group
                               or lost session the partial hierarchy cannot place: Unknown
session_key_not_active         the Session Key's metadata (``SESSION_KEY_READ``)
application_user_missing       the application user (``APPLICATION_USER_READ``)
role_missing                   its roles (``ROLES_READ``)
consent_missing                the service principal lookup (``CONSENT_READ``)
technician_mapping             the settings rows (``SETTINGS_READ``)
export_missing, partial_loss   all of the above (by elimination)
recovered                      the settings rows (a technician still unmapped is not recovered)
=============================  ==============================================================
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from reconciler.errors import EXIT_CHANGES, EXIT_INCOMPLETE, EXIT_OK

Verdict = Literal["healthy", "recovered", "idle", "degraded", "failing", "not_visible", "unknown"]
CauseCode = Literal[
    "export_missing",
    "session_key_not_active",
    "application_user_missing",
    "role_missing",
    "consent_missing",
    "technician_mapping",
    "partial_loss",
    "recovered",
]
Evidence = Literal["observed_working", "confirmed_not_arriving"]
BAD_VERDICTS: frozenset[Verdict] = frozenset({"degraded", "failing"})


@dataclass(frozen=True)
class ObservedSession:
    """One session of the Rescue report (times in UTC)."""

    session_id: str
    technician_id: str
    technician_name: str
    start: dt.datetime
    end: dt.datetime | None = None


@dataclass(frozen=True)
class DynamicsSession:
    """One LogMeIn Session row in Dynamics: what the integration wrote from Rescue's post."""

    key: str | None  # the Session Key column (the Rescue session ID)
    technician_id: str | None
    start: dt.datetime | None
    end: dt.datetime | None
    created: dt.datetime  # when the row arrived


@dataclass(frozen=True)
class TechnicianSessions:
    """A technician's LogMeIn Session rows in the window (the Dynamics-only view)."""

    technician_id: str
    name: str
    sessions: int
    last: str | None


@dataclass(frozen=True)
class Cause:
    code: CauseCode
    text: str


@dataclass(frozen=True)
class Unread:
    """A read that failed: what it would have shown, and why it failed."""

    what: str
    reason: str

    @property
    def text(self) -> str:
        return f"could not read {self.what}: {self.reason}" if self.reason else f"could not read {self.what}"


# What each prerequisite check reads (the names health shows when the read fails).
SESSION_KEY_READ = "the Session Key status"
APPLICATION_USER_READ = "the application user"
ROLES_READ = "the application user's roles"
CONSENT_READ = "admin consent (the LogMeIn app's service principal)"
SETTINGS_READ = "the technicians' LogMeIn settings rows"


@dataclass(frozen=True)
class DeclaredGroup:
    """A group of the tenant file that declares an export (its manual step)."""

    path: str
    confirmed: str | None


@dataclass(frozen=True)
class Prerequisites:
    """What the integration needs in Dynamics and Entra ID; None = could not be read."""

    session_key_status: str | None
    application_user: bool | None
    role: str
    has_role: bool | None
    consent: bool | None
    mapped_technician_ids: frozenset[str] | None
    # Why a check above is None, by its read's name (``SETTINGS_READ``...): shown with it.
    reasons: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class HealthInputs:
    tenant: str
    since: dt.datetime
    until: dt.datetime
    declared: tuple[DeclaredGroup, ...]
    group_paths: Mapping[str, str]  # Rescue group node id -> path
    technician_groups: Mapping[str, str]  # technician node id -> group node id
    report: tuple[ObservedSession, ...] | None  # None: no Rescue report (not configured)
    delivered: tuple[DynamicsSession, ...]  # the LogMeIn Session rows created in the window
    prerequisites: Prerequisites
    technician_names: Mapping[str, str] = field(default_factory=dict)  # node id -> name
    # Hierarchy records that could not be read (labels): a technician or group may be one.
    unreadable_nodes: tuple[str, ...] = ()


@dataclass(frozen=True)
class GroupHealth:
    path: str
    verdict: Verdict
    sessions: int | None  # None: Rescue sessions not visible
    delivered: int | None
    last_delivered: str | None  # ISO time the last delivered session ended (or arrived)
    causes: tuple[Cause, ...] = ()
    confirmed: str | None = None
    declared: bool = False
    evidence: Evidence | None = None
    # The Dynamics-only view: the group's rows in the window, per technician (else None / ()).
    in_dynamics: int | None = None
    technicians: tuple[TechnicianSessions, ...] = ()
    # Verdict "unknown": the reads its verdict or cause depends on that failed.
    unread: tuple[Unread, ...] = ()

    @property
    def ratio(self) -> float | None:
        if not self.sessions or self.delivered is None:
            return None
        return self.delivered / self.sessions


@dataclass(frozen=True)
class TenantHealth:
    tenant: str
    since: str
    until: str
    verdict: Verdict
    rescue_visible: bool
    groups: tuple[GroupHealth, ...] = ()
    dynamics_sessions: int | None = None
    last_dynamics_session: str | None = None
    blockers: tuple[Cause, ...] = ()
    notes: tuple[str, ...] = ()
    error: str | None = None  # a read every verdict depends on failed: no group was evaluated
    requests: Mapping[str, object] = field(default_factory=dict)
    # Every read that failed without failing the tenant (a prerequisite, a hierarchy record...).
    unread: tuple[Unread, ...] = ()

    def group(self, path: str) -> GroupHealth | None:
        return next((g for g in self.groups if g.path.casefold() == path.casefold()), None)


def _iso(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).isoformat(timespec="seconds") if value is not None else None


def blockers_of(pre: Prerequisites) -> tuple[list[Cause], list[Unread]]:
    """Problems that stop every session, and the checks whose read failed."""
    causes: list[Cause] = []
    unchecked: list[Unread] = []

    def unread(what: str) -> None:
        unchecked.append(Unread(what, pre.reasons.get(what, "")))

    if pre.session_key_status is None:
        unread(SESSION_KEY_READ)
    elif pre.session_key_status != "Active":
        causes.append(
            Cause(
                "session_key_not_active",
                f"the Session Key is {pre.session_key_status}, not Active: the integration cannot write sessions",
            )
        )
    if pre.application_user is None:
        unread(APPLICATION_USER_READ)
    elif not pre.application_user:
        causes.append(Cause("application_user_missing", "the LogMeIn application user does not exist"))
    elif pre.has_role is None:
        unread(ROLES_READ)
    elif not pre.has_role:
        causes.append(Cause("role_missing", f"the application user lacks the role {pre.role!r}"))
    if pre.consent is None:
        unread(CONSENT_READ)
    elif not pre.consent:
        causes.append(Cause("consent_missing", "admin consent to the LogMeIn app is not granted"))
    if pre.mapped_technician_ids is None:
        unread(SETTINGS_READ)
    return causes, unchecked


# A session that ended this recently may still be on its way (Rescue's post, the integration's
# write): not yet counted as lost.
IN_FLIGHT = dt.timedelta(minutes=5)


def _recent(session: ObservedSession, until: dt.datetime) -> bool:
    return (session.end or session.start) > until - IN_FLIGHT


def _mapping_cause(unmapped: Mapping[str, str]) -> Cause:
    names = ", ".join(f"{name} ({tid})" for tid, name in sorted(unmapped.items()))
    return Cause(
        "technician_mapping",
        f"technician mapping broken for {names}: no LogMeIn settings row holds their technician ID",
    )


def _group(
    path: str,
    sessions: list[ObservedSession],
    inputs: HealthInputs,
    delivered: Mapping[str, dt.datetime],
    checks: tuple[list[Cause], list[Unread]],
    declared: DeclaredGroup | None,
) -> GroupHealth:
    """The group's verdict and causes; ``checks`` are the prerequisites found broken and the
    ones that could not be read (then no cause is blamed by elimination: the group is Unknown)."""
    blockers, unchecked = checks
    in_flight = [s for s in sessions if s.session_id not in delivered and _recent(s, inputs.until)]
    sessions = [s for s in sessions if s not in in_flight]
    arrived = [s for s in sessions if s.session_id in delivered]
    last = max((s.end or delivered[s.session_id] for s in arrived), default=None)
    missing = [s for s in sessions if s.session_id not in delivered]
    causes: list[Cause] = []
    unread: tuple[Unread, ...] = ()
    lost = bool(missing)
    if not sessions:
        verdict: Verdict = "idle"
    elif not missing:
        verdict = "healthy"
    else:
        verdict = "failing" if not arrived else "degraded"
        causes.extend(blockers)
        mapped = inputs.prerequisites.mapped_technician_ids
        unmapped = {
            s.technician_id: s.technician_name
            for s in missing
            if mapped is not None and s.technician_id not in mapped
        }
        if unmapped:
            causes.append(_mapping_cause(unmapped))
        unexplained = [s for s in missing if s.technician_id not in unmapped]
        # Every loss before the first arrival: whatever stopped sessions works now, so only the
        # mapping (technicians still unmapped) matters; otherwise every check does.
        again = bool(arrived) and max(s.start for s in unexplained or missing) < min(s.start for s in arrived)
        needed = [u for u in unchecked if u.what == SETTINGS_READ] if again else unchecked
        if unexplained and not blockers and needed:
            # Whatever is left would be blamed by elimination over a read that failed.
            verdict, unread = "unknown", tuple(needed)
        elif unexplained and not blockers:
            if not arrived:
                causes.append(
                    Cause(
                        "export_missing",
                        "no session of this group arrived although the integration's prerequisites are in "
                        "place: its export setting ('Post session details to URL' at session end, "
                        "Admin Center only) is likely missing or wrong",
                    )
                )
            elif again:
                if not unmapped:  # technicians whose sessions are lost now: not recovered
                    verdict, lost = "recovered", False
                first = _iso(min(s.start for s in arrived))
                causes.append(
                    Cause(
                        "recovered",
                        f"sessions arrive since {first}; {len(unexplained)} earlier session(s) were lost "
                        "(a fix is not retroactive)",
                    )
                )
            else:
                causes.append(
                    Cause(
                        "partial_loss",
                        f"{len(unexplained)} session(s) of mapped technicians did not arrive while others did",
                    )
                )
    evidence: Evidence | None = None
    if declared is not None and declared.confirmed is None and arrived:
        evidence = "observed_working"
    elif declared is not None and declared.confirmed is not None and lost:
        evidence = "confirmed_not_arriving"  # observed whether or not its cause could be checked
    return GroupHealth(
        path=path,
        verdict=verdict,
        sessions=len(sessions),
        delivered=len(arrived),
        last_delivered=_iso(last),
        causes=tuple(causes),
        confirmed=declared.confirmed if declared else None,
        declared=declared is not None,
        evidence=evidence,
        unread=unread,
    )


def _unknown_group(path: str, declared: DeclaredGroup | None, unread: Unread) -> GroupHealth:
    """A declared group the hierarchy does not show while some of its records could not be read."""
    return GroupHealth(
        path=path,
        verdict="unknown",
        sessions=None,
        delivered=None,
        last_delivered=None,
        confirmed=declared.confirmed if declared else None,
        declared=declared is not None,
        unread=(unread,),
    )


# How far a row's start may lie from the report's when a session is matched by technician and
# time (the post's pickup time and the report's start time may not be the same instant).
TIME_MATCH = dt.timedelta(minutes=2)


def match_sessions(
    report: Iterable[ObservedSession], rows: Iterable[DynamicsSession]
) -> dict[str, dt.datetime]:
    """Rescue session ID -> when its row arrived, for every report session found in Dynamics:
    by Session Key, else (a row without a key) by the same technician and a start within
    ``TIME_MATCH``, the nearest first; each row stands for one session only."""
    rows = list(rows)
    by_key = {r.key: r for r in rows if r.key}
    spare: dict[str, list[DynamicsSession]] = {}
    for row in rows:
        if not row.key and row.technician_id and row.start is not None:
            spare.setdefault(row.technician_id, []).append(row)
    matched: dict[str, dt.datetime] = {}
    for session in report:
        if (keyed := by_key.get(session.session_id)) is not None:
            matched[session.session_id] = keyed.created
            continue
        candidates = [
            r
            for r in spare.get(session.technician_id, [])
            if r.start is not None and abs(r.start - session.start) <= TIME_MATCH
        ]
        if candidates:
            nearest = min(candidates, key=lambda r: abs((r.start or session.start) - session.start))
            spare[session.technician_id].remove(nearest)
            matched[session.session_id] = nearest.created
    return matched


def _dynamics_only(
    inputs: HealthInputs,
    paths: list[str],
    rows: list[DynamicsSession],
    blockers: list[Cause],
    declared: Mapping[str, DeclaredGroup],
) -> tuple[tuple[GroupHealth, ...], list[str]]:
    """Per group and technician, the rows Dynamics holds; what lies outside every group."""
    per_technician: dict[str, list[DynamicsSession]] = {}
    outside = 0
    for row in rows:
        group = inputs.group_paths.get(inputs.technician_groups.get(row.technician_id or "", ""))
        if group is None:
            outside += 1
            continue
        per_technician.setdefault(str(row.technician_id), []).append(row)

    def technician(tid: str, found: list[DynamicsSession]) -> TechnicianSessions:
        last = max((r.end or r.created for r in found), default=None)
        return TechnicianSessions(tid, inputs.technician_names.get(tid, tid), len(found), _iso(last))

    by_path: dict[str, list[TechnicianSessions]] = {p: [] for p in paths}
    for tid, found in sorted(per_technician.items()):
        path = inputs.group_paths[inputs.technician_groups[tid]]
        by_path.setdefault(path, []).append(technician(tid, found))
    groups = []
    for p in paths:
        techs = by_path.get(p, [])
        last = max((t.last for t in techs if t.last), default=None)
        groups.append(
            GroupHealth(
                path=p,
                verdict="not_visible",
                sessions=None,
                delivered=None,
                last_delivered=last,
                causes=tuple(blockers),
                confirmed=declared[p.casefold()].confirmed if p.casefold() in declared else None,
                declared=p.casefold() in declared,
                in_dynamics=sum(t.sessions for t in techs),
                technicians=tuple(techs),
            )
        )
    notes = [
        "Dynamics-only view: without a Rescue report sign-in (connection.rescue.reports) the sessions "
        "held in Rescue cannot be seen, so neither can sessions that never reached Dynamics: a group "
        "with rows may still lose sessions, and a group with none had no sessions or lost them all"
    ]
    empty = [g.path for g in groups if not g.in_dynamics]
    if empty:
        notes.append(f"{len(empty)} group(s) with no LogMeIn Session row in the window: {', '.join(empty)}")
    if outside:
        unreadable = (
            f"; the Rescue hierarchy records of {', '.join(inputs.unreadable_nodes[:5])} could not be read "
            "and may hold their technicians"
            if inputs.unreadable_nodes
            else ""
        )
        notes.append(
            f"{outside} LogMeIn Session row(s) name no technician of a technician group "
            f"(no technician ID, or one not in the Rescue hierarchy): not counted per group{unreadable}"
        )
    return tuple(groups), notes


def _worst(verdicts: Iterable[Verdict]) -> Verdict:
    order: tuple[Verdict, ...] = (
        "unknown",
        "failing",
        "degraded",
        "not_visible",
        "recovered",
        "healthy",
        "idle",
    )
    found = set(verdicts)
    return next((v for v in order if v in found), "idle")


def _hierarchy_unread(inputs: HealthInputs, what: str) -> Unread:
    names = ", ".join(inputs.unreadable_nodes[:5])
    more = f" and {len(inputs.unreadable_nodes) - 5} more" if len(inputs.unreadable_nodes) > 5 else ""
    return Unread(what, f"the Rescue hierarchy records of {names}{more} could not be read (it may be one)")


def evaluate(inputs: HealthInputs) -> TenantHealth:
    """The tenant's health over the window: one verdict per Rescue technician group."""
    blockers, unchecked = blockers_of(inputs.prerequisites)
    unread = list(unchecked)
    notes = [u.text for u in unchecked]
    declared = {d.path.casefold(): d for d in inputs.declared}
    rows = [r for r in inputs.delivered if inputs.since <= r.created <= inputs.until]
    in_window = [r.created for r in rows]
    live_paths = set(inputs.group_paths.values())

    def result(verdict: Verdict, groups: tuple[GroupHealth, ...]) -> TenantHealth:
        return TenantHealth(
            tenant=inputs.tenant,
            since=_iso(inputs.since) or "",
            until=_iso(inputs.until) or "",
            verdict=verdict,
            rescue_visible=inputs.report is not None,
            groups=groups,
            dynamics_sessions=len(in_window),
            last_dynamics_session=_iso(max(in_window, default=None)),
            blockers=tuple(blockers),
            notes=tuple(notes),
            unread=tuple(dict.fromkeys(unread)),
        )

    paths = sorted(live_paths | {d.path for d in inputs.declared}, key=str.casefold)
    if inputs.report is None:
        view, view_notes = _dynamics_only(inputs, paths, rows, blockers, declared)
        notes[:0] = view_notes
        # What the view decides is whether a prerequisite blocks every session: not when one of
        # them could not be checked and none of the others was found broken.
        return result("unknown" if unchecked and not blockers else "not_visible", view)
    delivered = match_sessions(inputs.report, inputs.delivered)
    by_group: dict[str, list[ObservedSession]] = {p: [] for p in paths}
    outside: list[ObservedSession] = []
    for session in inputs.report:
        group_id = inputs.technician_groups.get(session.technician_id)
        path = inputs.group_paths.get(group_id or "")
        if path is None:
            outside.append(session)
            continue
        by_group[path].append(session)
    recent = sum(1 for s in inputs.report if s.session_id not in delivered and _recent(s, inputs.until))
    if recent:
        notes.append(
            f"{recent} session(s) ended in the last 5 minutes and may still be on their way: not counted"
        )
    lost_outside = [s for s in outside if s.session_id not in delivered and not _recent(s, inputs.until)]
    tenant_unknown = False
    if outside and inputs.unreadable_nodes and lost_outside:
        # Their group is one no verdict can be given for: it is unknown, and so is the tenant's.
        technicians = ", ".join(sorted({f"{s.technician_name} ({s.technician_id})" for s in lost_outside}))
        unread.append(
            _hierarchy_unread(
                inputs,
                f"the technician group of {technicians}, whose {len(lost_outside)} session(s) did not arrive",
            )
        )
        notes.append(unread[-1].text)
        tenant_unknown = True
    elif outside:
        notes.append(
            f"{len(outside)} session(s) of technicians outside every technician group were not counted"
        )
    groups: list[GroupHealth] = []
    for p in paths:
        group_declared = declared.get(p.casefold())
        if p not in live_paths and inputs.unreadable_nodes:
            missing = _hierarchy_unread(inputs, f"Rescue group {p!r} of the tenant file (not found)")
            unread.append(missing)
            groups.append(_unknown_group(p, group_declared, missing))
            continue
        if p not in live_paths:
            notes.append(f"group {p!r} of the tenant file does not exist in Rescue")
        groups.append(_group(p, by_group[p], inputs, delivered, (blockers, unchecked), group_declared))
    unread.extend(u for g in groups for u in g.unread)
    shown = {u.text for g in groups for u in g.unread}  # said on the group already
    notes[:] = [n for n in notes if n not in shown]
    verdict = _worst(g.verdict for g in groups)
    return result("unknown" if tenant_unknown else verdict, tuple(groups))


def unknown_health(tenant: str, since: dt.datetime, until: dt.datetime, error: str) -> TenantHealth:
    """A tenant whose reads failed: Unknown, never healthy."""
    return TenantHealth(
        tenant=tenant,
        since=_iso(since) or "",
        until=_iso(until) or "",
        verdict="unknown",
        rescue_visible=False,
        error=error,
    )


@dataclass(frozen=True)
class HealthResult:
    """Every tenant's health in one run; it decides the run's exit code."""

    tenants: tuple[TenantHealth, ...]

    @property
    def exit_code(self) -> int:
        """3 when a tenant or a group is Unknown (a read its verdict or cause depends on failed),
        else 2 when a group loses sessions or a prerequisite blocks every session (seen even
        without a report), else 0."""
        if any(t.verdict == "unknown" or any(g.verdict == "unknown" for g in t.groups) for t in self.tenants):
            return EXIT_INCOMPLETE
        if any(t.verdict in BAD_VERDICTS or t.blockers for t in self.tenants):
            return EXIT_CHANGES
        return EXIT_OK
