"""One row per tenant from the runs: separate axes (sync, health, last operation, doctor) and
the tenant's state, the worst of them (docs/report-format.md, "States").

Each axis is said by the latest run of its commands that covered the tenant: sync by plan and
drift, health by health, the last operation by apply, the setup checks by doctor; open manual
steps by the latest plan, drift, apply or manual run. History is the last ``history`` runs of
each command *that covered the tenant* (so that one file per shard still gives each tenant N
runs): the trend of each group's delivery ratio, how long a tenant has been drifted and how long
a manual step has been open.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from reconciler.report.runs import CredentialExpiry, Run, TenantRecord

# Worst first: a tenant's state is the first of these any of its axes gives.
STATES = ("failed", "unknown", "drifted", "in_sync")
LOSING = frozenset({"degraded", "failing"})
SYNC_COMMANDS = ("plan", "drift")
MANUAL_COMMANDS = ("plan", "drift", "apply", "manual")
EXPIRY_DAYS = 30
DEFAULT_HISTORY = 30


@dataclass(frozen=True)
class TrendPoint:
    at: dt.datetime
    ratio: float | None
    verdict: str


@dataclass(frozen=True)
class GroupRow:
    path: str
    verdict: str
    sessions: int | None
    delivered: int | None
    ratio: float | None
    causes: tuple[str, ...]
    trend: tuple[TrendPoint, ...]

    @property
    def losing(self) -> bool:
        return self.verdict in LOSING


@dataclass(frozen=True)
class OpenStep:
    title: str
    since: dt.datetime


@dataclass(frozen=True)
class TenantRow:
    tenant: str
    state: str
    sync: str  # in_sync, drifted, unknown, not_checked
    sync_at: dt.datetime | None
    drift_since: dt.datetime | None
    changes: tuple[str, ...]
    health: str  # a verdict, or not_checked
    health_at: dt.datetime | None
    groups: tuple[GroupRow, ...]
    health_causes: tuple[str, ...]
    operation: str  # ok, failed, incomplete, not_run
    operation_at: dt.datetime | None
    operation_detail: tuple[str, ...]
    doctor: str  # ok, failed, not_run
    doctor_failed: tuple[str, ...]
    manual: tuple[OpenStep, ...]
    solution: str | None
    credentials: tuple[CredentialExpiry, ...]
    errors: tuple[str, ...]

    @property
    def failed_or_unknown(self) -> int:
        """Objects the latest sync check could not change or read, and failed apply outcomes."""
        return sum(1 for c in self.changes if c.startswith(("unknown ", "problem: "))) + len(
            self.operation_detail
        )

    @property
    def causes(self) -> tuple[str, ...]:
        """The health causes of the tenant, then of each group (named)."""
        return self.health_causes + tuple(f"{g.path}: {c}" for g in self.groups for c in g.causes)

    @property
    def next_expiry(self) -> dt.datetime | None:
        return min((c.expires_at for c in self.credentials if c.expires_at is not None), default=None)


@dataclass(frozen=True)
class Summary:
    tenants: int
    states: dict[str, int]
    groups_losing: int
    manual_open: int
    credentials_expiring: int


@dataclass(frozen=True)
class Fleet:
    generated_at: dt.datetime
    history: int
    rows: tuple[TenantRow, ...]
    summary: Summary
    runs: tuple[Run, ...]
    unreadable: tuple[tuple[str, tuple[str, ...]], ...]  # (file, problems)


Pairs = list[tuple[Run, TenantRecord]]


def _records(runs: Iterable[Run], tenant: str, commands: Iterable[str], history: int) -> Pairs:
    """The tenant's records in the last ``history`` runs of each of ``commands``, oldest first."""
    kept: Pairs = []
    for command in commands:
        kept += [(r, r.tenants[tenant]) for r in runs if r.command == command and tenant in r.tenants][
            -history:
        ]
    return sorted(kept, key=lambda pair: (pair[0].at, pair[0].file))


def _streak_start(pairs: Pairs, holds: Callable[[TenantRecord], bool]) -> dt.datetime | None:
    """When the latest unbroken run of records for which ``holds(record)`` began."""
    since = None
    for run, record in reversed(pairs):
        if not holds(record):
            break
        since = run.at
    return since


def _listing(title: str) -> Callable[[TenantRecord], bool]:
    return lambda record: title in record.manual


def _health_state(record: TenantRecord) -> str:
    """Losing sessions or blocked: failed; a read failed: unknown (never healthy); else in sync
    (healthy, recovered, idle, and not_visible: Rescue's report is not configured, and no
    prerequisite was found broken)."""
    if record.health in LOSING or record.health_blocked:
        return "failed"
    return "unknown" if record.health == "unknown" or record.health_unread else "in_sync"


def _row(tenant: str, runs: list[Run], history: int) -> TenantRow:
    syncs = _records(runs, tenant, SYNC_COMMANDS, history)
    healths = _records(runs, tenant, ("health",), history)
    applies = _records(runs, tenant, ("apply",), history)
    doctors = _records(runs, tenant, ("doctor",), history)
    manuals = _records(runs, tenant, MANUAL_COMMANDS, history)
    sync_run, sync = syncs[-1] if syncs else (None, None)
    health_run, health = healths[-1] if healths else (None, None)
    apply_run, applied = applies[-1] if applies else (None, None)
    doctor = doctors[-1][1] if doctors else None
    manual = manuals[-1][1] if manuals else None

    axes = [
        {"in_sync": "in_sync", "drifted": "drifted"}.get(sync.sync or "", "unknown") if sync else "unknown"
    ]
    groups: tuple[GroupRow, ...] = ()
    if health is not None and health.health is not None:
        axes.append(_health_state(health))
        groups = tuple(
            GroupRow(
                g.path,
                g.verdict,
                g.sessions,
                g.delivered,
                g.ratio,
                g.causes,
                tuple(
                    TrendPoint(run.at, p.ratio, p.verdict)
                    for run, record in healths
                    for p in record.groups
                    if p.path == g.path
                ),
            )
            for g in health.groups
        )
        axes.extend("failed" for g in groups if g.losing)
    if applied is not None and applied.operation is not None:
        axes.append({"ok": "in_sync", "failed": "failed"}.get(applied.operation, "unknown"))
    if doctor is not None and doctor.doctor_failed:
        axes.append("failed")
    state = next(s for s in STATES if s in axes)

    steps = []
    for title in manual.manual if manual else ():
        since = _streak_start(manuals, _listing(title))
        steps.append(OpenStep(title, since or manuals[-1][0].at))
    errors = tuple(
        dict.fromkeys(
            record.error for _, record in (syncs[-1:] + healths[-1:] + applies[-1:]) if record.error
        )
    )
    by_time = sorted(doctors + syncs, key=lambda pair: (pair[0].at, pair[0].file))
    solution = next((r.solution for _, r in reversed(by_time) if r.solution is not None), None)
    return TenantRow(
        tenant=tenant,
        state=state,
        sync=sync.sync or "unknown" if sync else "not_checked",
        sync_at=sync_run.at if sync_run else None,
        drift_since=_streak_start(syncs, lambda r: r.sync == "drifted")
        if sync and sync.sync == "drifted"
        else None,
        changes=sync.changes if sync else (),
        health=health.health or "not_checked" if health else "not_checked",
        health_at=health_run.at if health_run else None,
        groups=groups,
        health_causes=health.health_causes if health else (),
        operation=applied.operation or "not_run" if applied else "not_run",
        operation_at=apply_run.at if apply_run else None,
        operation_detail=applied.operation_detail if applied else (),
        doctor=("failed" if doctor.doctor_failed else "ok") if doctor else "not_run",
        doctor_failed=doctor.doctor_failed or () if doctor else (),
        manual=tuple(steps),
        solution=solution,
        credentials=doctor.credentials or () if doctor else (),
        errors=errors,
    )


def _sort_key(row: TenantRow) -> tuple[int, str]:
    return STATES.index(row.state), row.tenant.casefold()


def build_fleet(
    runs: Sequence[Run],
    *,
    history: int = DEFAULT_HISTORY,
    now: dt.datetime,
    unreadable: Sequence[tuple[str, Sequence[str]]] = (),
) -> Fleet:
    """The fleet the runs show at ``now`` (UTC), worst tenants first."""
    ordered = sorted(runs, key=lambda r: (r.at, r.file))
    tenants = sorted({t for run in ordered for t in run.tenants}, key=str.casefold)
    rows = tuple(sorted((_row(t, ordered, history) for t in tenants), key=_sort_key))
    horizon = now + dt.timedelta(days=EXPIRY_DAYS)
    summary = Summary(
        tenants=len(rows),
        states={s: sum(1 for r in rows if r.state == s) for s in STATES},
        groups_losing=sum(1 for r in rows for g in r.groups if g.losing),
        manual_open=sum(len(r.manual) for r in rows),
        credentials_expiring=sum(
            1 for r in rows for c in r.credentials if c.expires_at is not None and c.expires_at <= horizon
        ),
    )
    return Fleet(
        generated_at=now,
        history=history,
        rows=rows,
        summary=summary,
        runs=tuple(ordered),
        unreadable=tuple((f, tuple(p)) for f, p in unreadable),
    )
