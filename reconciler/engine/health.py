"""`reconcile health`: read what shows whether sessions reach Dynamics, then evaluate it.

Per tenant: the one live read (``engine/live.py``: the Rescue hierarchy, the integration's
prerequisites in Dynamics, admin consent in Graph) beside the LogMeIn Session rows of the window
(one paged listing), then the session report when ``connection.rescue.reports`` is set: one
report per technician node (the only node type ``getReport_v2`` documents for technicians),
under the report account shared by every tenant of the run that signs in with it (one sign-in
per user, one report sequence at a time, a report per interval: ``providers/rescue/reports.py``).
A read every verdict depends on (the hierarchy, the report, the session rows) that fails makes
the tenant Unknown, naming that read; a prerequisite whose read fails (the settings rows, the
Session Key, the application user, consent) is passed on as unread, so no group's cause is
blamed over it (``plan/health.py``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from reconciler.config import LoadedTenant, Tenant
from reconciler.config.models import DEFAULT_APP_ID
from reconciler.engine.connection import TenantConnection
from reconciler.engine.live import LiveQuery, LiveReading, read_directories
from reconciler.engine.planner import RunOptions
from reconciler.engine.session import TenantSession
from reconciler.engine.vault import open_connection
from reconciler.errors import ProviderError, ReconcileError
from reconciler.kinds.application_user import ApplicationUser
from reconciler.kinds.consent import Consent
from reconciler.kinds.session_key import SessionKey
from reconciler.kinds.technician_settings import TechnicianSettings
from reconciler.plan.health import (
    APPLICATION_USER_READ,
    CONSENT_READ,
    SESSION_KEY_READ,
    SETTINGS_READ,
    DeclaredGroup,
    HealthInputs,
    ObservedSession,
    Prerequisites,
    TenantHealth,
    Unread,
    evaluate,
    unknown_health,
)
from reconciler.profile import SolutionProfile, effective_profile
from reconciler.providers.dynamics.sessions import delivered_sessions
from reconciler.providers.http import ClientSettings, RequestStats, make_ssl_context
from reconciler.providers.rescue.mapping import TECHNICIAN_TYPES, RescueTree
from reconciler.providers.rescue.reports import ReportAccount, ReportAccounts, RescueReportClient
from reconciler.resources import SecretHasher


def _prerequisites(reading: LiveReading, profile: SolutionProfile, app_id: str) -> Prerequisites:
    """What the integration needs, each check None when its read failed (with the reason)."""
    state = reading.state()
    failed = {u.kind: u.reason for u in state.unknown}
    app_user = state.get("application_user", app_id.lower()) or next(
        iter(state.of_kind("application_user")), None
    )
    key = next(iter(state.of_kind("session_key")), None)
    consent = next(iter(state.of_kind("consent")), None)
    role = profile.application_user.role
    roles = app_user.roles if isinstance(app_user, ApplicationUser) else None
    reasons = {
        read: failed[kind]
        for kind, read in (
            ("session_key", SESSION_KEY_READ),
            ("application_user", APPLICATION_USER_READ),
            ("consent", CONSENT_READ),
            ("technician", SETTINGS_READ),
        )
        if kind in failed
    }
    return Prerequisites(
        session_key_status=(
            None if "session_key" in failed else key.status if isinstance(key, SessionKey) else "missing"
        ),
        application_user=None if "application_user" in failed else app_user is not None,
        role=role,
        has_role=None if roles is None else role.casefold() in {r.casefold() for r in roles},
        consent=consent.granted if isinstance(consent, Consent) and "consent" not in failed else None,
        mapped_technician_ids=(
            None
            if "technician" in failed
            else frozenset(
                s.technician_id
                for s in state.every("technician")
                if isinstance(s, TechnicianSettings) and s.technician_id
            )
        ),
        reasons=reasons,
    )


def _tree_maps(tree: RescueTree) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """Group node id -> path, technician node id -> group node id, technician -> name."""
    groups = dict(tree.paths_by_id)
    technicians = [n for n in tree.nodes.values() if n.parent_id in groups and n.type in TECHNICIAN_TYPES]
    return groups, {n.node_id: n.parent_id for n in technicians}, {n.node_id: n.name for n in technicians}


def report_nodes(tree: RescueTree) -> tuple[list[str], list[str]]:
    """The nodes to ask a report of: every technician, in the hierarchy's order; and every
    record that could not be read but names its node (it may be a technician: Rescue refuses a
    report of anything else, which then means no sessions). A record without a readable node ID
    may be a technician whose sessions cannot be asked for: the report would be incomplete."""
    _, technician_groups, _ = _tree_maps(tree)
    nameless = [o.label for o in tree.odd if not o.node_id]
    if nameless:
        raise ProviderError(
            f"{', '.join(nameless[:5])} of the Rescue hierarchy has no readable node ID: its sessions, "
            "if it is a technician, cannot be asked for (one report per technician); fix the record "
            "in the Rescue Admin Center"
        )
    unsure = [o.node_id for o in tree.odd if o.node_id and o.node_id not in tree.nodes]
    return list(technician_groups), unsure


async def _report(
    loaded: LoadedTenant,
    conn: TenantConnection,
    options: RunOptions,
    stats: RequestStats,
    tree: RescueTree,
    window: tuple[dt.datetime, dt.datetime],
    accounts: ReportAccounts,
) -> list[ObservedSession] | None:
    """The session report, when the tenant gives a report sign-in (else None: not visible)."""
    client = report_client(loaded, conn, options.settings, stats, accounts)
    if client is None:
        return None
    technicians, unsure = report_nodes(tree)
    async with client:
        return await client.session_report(technicians, *window, unsure=unsure)


def report_account_key(loaded: LoadedTenant, conn: TenantConnection) -> tuple[str, str]:
    """Which Rescue account a tenant's reports go to: its company where the tenant file names it
    (the report limit may hold per company: the stricter reading), else the sign-in's user."""
    sign_in = loaded.model.connection.rescue.reports
    integration = loaded.model.integration
    company = integration.company_id if integration is not None else None
    who = f"company:{company}" if company else f"user:{sign_in.email.casefold() if sign_in else ''}"
    return conn.rescue_url.rstrip("/").casefold(), who


def report_client(
    loaded: LoadedTenant,
    conn: TenantConnection,
    settings: ClientSettings,
    stats: RequestStats,
    accounts: ReportAccounts | None = None,
) -> RescueReportClient | None:
    """The client of the tenant's report sign-in (``connection.rescue.reports``), or None when
    none is declared; ``doctor`` checks the sign-in with this same client (an account of its own)."""
    sign_in = loaded.model.connection.rescue.reports
    if sign_in is None:
        return None
    account = (
        accounts.get(report_account_key(loaded, conn), conn.report_interval)
        if accounts is not None
        else ReportAccount(interval=conn.report_interval)
    )
    return RescueReportClient(
        conn.rescue_url,
        sign_in.email,
        conn.resolver(loaded).resolve(sign_in.password),
        account,
        ssl_context=make_ssl_context(conn.ca_file),
        settings=settings,
        stats=stats,
        tenant=conn.tenant,
    )


# The reads every verdict of a tenant depends on (a failure makes the tenant Unknown), by name.
LIVE_READ = "the live state (Dynamics, the Rescue hierarchy, admin consent)"
HIERARCHY_READ = "the Rescue hierarchy"
REPORT_READ = "the Rescue session report"
SESSION_ROWS_READ = "the LogMeIn Session rows of the window"


@asynccontextmanager
async def _place(bound: asyncio.Semaphore | None) -> AsyncIterator[None]:
    """One of the run's places for reading a tenant (none to take when unbounded)."""
    if bound is None:
        yield
        return
    async with bound:
        yield


async def check_tenant(
    loaded: LoadedTenant,
    options: RunOptions,
    since: dt.datetime,
    until: dt.datetime,
    accounts: ReportAccounts | None = None,
    bound: asyncio.Semaphore | None = None,
) -> TenantHealth:
    """One tenant's health. Its reads of Dynamics, Graph and the hierarchy take one of the run's
    ``bound`` places; its session report does not: it waits for its Rescue account's turn and
    report interval (minutes per technician), and a tenant that waits gives its place up."""
    model = loaded.model
    stats = RequestStats()
    profile = effective_profile(model.profile)
    app_id = model.application_user.app_id if model.application_user else DEFAULT_APP_ID
    query = LiveQuery(app_id=app_id, session_key=True, consent_app_id=app_id)
    reading_now = "the tenant's connection settings"  # what is read when a failure stops the tenant
    try:
        async with _place(bound):
            conn = await open_connection(loaded, options.sandbox, options.vault, options.settings, stats)
            async with TenantSession(conn, options.settings, stats) as session:
                delivered_task = asyncio.ensure_future(delivered_sessions(session.dataverse, profile, since))
                try:
                    reading_now = LIVE_READ
                    reading = await read_directories(session, profile, SecretHasher(), query)
                    tree = reading.rescue.tree
                    if tree is None:
                        reading_now = HIERARCHY_READ
                        raise ProviderError(
                            reading.rescue.error or "no reply"
                        )  # the message names the service
                    reading_now = SESSION_ROWS_READ
                    delivered = await delivered_task
                finally:
                    delivered_task.cancel()
                    await asyncio.gather(delivered_task, return_exceptions=True)
        reading_now = REPORT_READ
        report = await _report(
            loaded,
            conn,
            options,
            stats,
            tree,
            (since, until),
            accounts if accounts is not None else ReportAccounts(),
        )
    except ReconcileError as exc:
        error = Unread(reading_now, exc.message).text
        return _with_requests(unknown_health(loaded.name, since, until, error), stats)
    group_paths, technician_groups, technician_names = _tree_maps(tree)
    inputs = HealthInputs(
        tenant=loaded.name,
        since=since,
        until=until,
        declared=tuple(
            DeclaredGroup(g.path, g.confirmed.isoformat() if g.confirmed else None)
            for g in model.rescue_groups
            if g.export is not None
        ),
        group_paths=group_paths,
        technician_groups=technician_groups,
        report=tuple(report) if report is not None else None,
        delivered=delivered,
        prerequisites=_prerequisites(reading, profile, app_id),
        technician_names=technician_names,
        unreadable_nodes=tuple(o.label for o in tree.odd),
    )
    return _with_requests(evaluate(inputs), stats)


def _with_requests(health: TenantHealth, stats: RequestStats) -> TenantHealth:
    return dataclasses.replace(health, requests=stats.as_dict())


async def check_tenants(
    tenants: Sequence[LoadedTenant], options: RunOptions, *, days: int, now: dt.datetime | None = None
) -> list[TenantHealth]:
    """Every tenant's health over the last ``days`` days: at most ``tenant_concurrency`` tenants
    read at once; the session reports run beside them, one sequence at a time per Rescue account."""
    until = now or dt.datetime.now(dt.UTC)
    since = until - dt.timedelta(days=days)
    bound = asyncio.Semaphore(max(1, options.tenant_concurrency))
    accounts = ReportAccounts()  # tenants that sign in to the same Rescue account share it

    checks = (check_tenant(t, options, since, until, accounts, bound) for t in tenants)
    return list(await asyncio.gather(*checks))


def run_health(tenants: Sequence[LoadedTenant], options: RunOptions, *, days: int) -> list[TenantHealth]:
    return asyncio.run(check_tenants(tenants, options, days=days))


async def read_prerequisites(
    session: TenantSession, model: Tenant, profile: SolutionProfile
) -> Prerequisites:
    """The integration's prerequisites read as health reads them (consent apart: doctor checks
    it on its own), so that doctor never calls ready a tenant health would find blocked."""
    app_id = model.application_user.app_id if model.application_user else DEFAULT_APP_ID
    reading = await read_directories(
        session, profile, SecretHasher(), LiveQuery(app_id=app_id, session_key=True)
    )
    return _prerequisites(reading, profile, app_id)
