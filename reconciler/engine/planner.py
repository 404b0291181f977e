"""load -> read live -> resolve references -> diff -> plan, for every tenant, concurrently.

One tenant's failure (credentials refused, a secret missing) never stops the others: it is
recorded on that tenant's plan and decides the exit code at the end.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from reconciler import __version__
from reconciler.config import LoadedTenant
from reconciler.diff import NEW_TECHNICIAN_PREFIX, DesiredState, build_desired, diff_tenant
from reconciler.engine.connection import SandboxInfo, TenantConnection, connect
from reconciler.engine.session import TenantSession
from reconciler.errors import InputError, ProviderError, ReconcileError
from reconciler.plan import Change, Create, Plan, SafetySettings, TenantPlan
from reconciler.profile import effective_profile
from reconciler.providers.dynamics.reader import DynamicsLive, DynamicsReader
from reconciler.providers.http import ClientSettings, RequestStats
from reconciler.providers.loop import run as run_loop
from reconciler.providers.rescue.reader import RescueReader
from reconciler.resources import (
    Consent,
    LiveMeta,
    LiveState,
    RescueTechnician,
    SecretHasher,
    TechnicianSettings,
    Unknown,
)

log = logging.getLogger(__name__)


# Hidden tunables (no CLI option on purpose: the defaults suit Dataverse's service-protection
# limits). They let tests of retries and paging run fast, and support reproduce a case.
SETTINGS_ENV: dict[str, tuple[str, Callable[[str], float | int]]] = {
    "RECONCILE_MAX_RETRIES": ("max_retries", int),
    "RECONCILE_BACKOFF_CAP": ("backoff_cap", float),
    "RECONCILE_PAGE_SIZE": ("page_size", int),
}


def settings_from_env(environ: Mapping[str, str] | None = None) -> ClientSettings:
    """``ClientSettings`` with the ``RECONCILE_*`` overrides of ``environ`` (default: os.environ)."""
    env = os.environ if environ is None else environ
    values: dict[str, float | int] = {}
    for name, (setting, parse) in SETTINGS_ENV.items():
        raw = env.get(name, "").strip()
        if not raw:
            continue
        try:
            values[setting] = parse(raw)
        except ValueError:
            raise InputError(f"{name}={raw!r} is not a valid {parse.__name__}") from None
    try:
        return ClientSettings(**values)  # type: ignore[arg-type]
    except InputError as exc:
        names = ", ".join(n for n, (s, _) in SETTINGS_ENV.items() if s in values)
        raise InputError(f"{names}: {exc.message}") from None


class ReadListener(Protocol):
    """Told of each request sent and each tenant read (progress on a terminal)."""

    def request_done(self) -> None: ...

    def tenant_done(self) -> None: ...


@dataclass(frozen=True)
class RunOptions:
    """How a run talks to the services."""

    sandbox: SandboxInfo | None = None
    settings: ClientSettings = field(default_factory=settings_from_env)
    tenant_concurrency: int = 4
    keep_live: bool = True  # apply needs the live state read; plan and drift do not
    listener: ReadListener | None = None


@dataclass
class TenantReading:
    """A tenant's plan plus what apply needs from the reading (not serialised)."""

    plan: TenantPlan
    dynamics: DynamicsLive | None = None
    live: LiveState | None = None


async def plan_tenant(loaded: LoadedTenant, options: RunOptions) -> TenantReading:
    model = loaded.model
    safety = SafetySettings(model.safety.max_change_fraction, model.safety.min_objects)
    stats = RequestStats(on_record=options.listener.request_done if options.listener else None)
    try:
        conn = connect(loaded, options.sandbox)
        reading = await _read_and_diff(loaded, conn, options, stats, safety)
    except ReconcileError as exc:
        plan = TenantPlan(
            tenant=loaded.name,
            desired_digest=loaded.digest,
            safety=safety,
            error=exc.message,
            requests=stats.as_dict(),
        )
        return TenantReading(plan)
    reading.plan = dataclasses.replace(reading.plan, requests=stats.as_dict())
    if not options.keep_live:  # plan and drift show the plan only: let live state go now
        reading.dynamics = reading.live = None
    return reading


async def _read_and_diff(
    loaded: LoadedTenant,
    conn: TenantConnection,
    options: RunOptions,
    stats: RequestStats,
    safety: SafetySettings,
) -> TenantReading:
    model = loaded.model
    profile = effective_profile(model.profile)
    hasher = SecretHasher()
    sso_password = None
    if model.integration is not None:
        ref = model.integration.sso_password
        value = conn.resolver(loaded).resolve(ref)
        sso_password = hasher.sensitive(value.get_secret_value(), ref.ref)

    async with TenantSession(conn, options.settings, stats) as session:
        dynamics_reader = DynamicsReader(session.dataverse, profile, hasher)
        rescue_reader = RescueReader(session.rescue)
        app_id = model.application_user.app_id if model.application_user else None
        dynamics_task = asyncio.ensure_future(
            dynamics_reader.read(
                solution_name=(model.solution.unique_name or profile.solution.unique_name)
                if model.solution
                else None,
                integration=model.integration is not None,
                app_id=app_id,
                session_key=model.session_key is not None,
                users=[t.user for t in model.technicians],
            )
        )
        consent_task = (
            asyncio.ensure_future(_read_consent(session, model.consent.app_id))
            if (model.consent is not None and model.consent.check)
            else None
        )
        pending: list[asyncio.Future[Any]] = [t for t in (dynamics_task, consent_task) if t is not None]

        def desired_with(root_business_unit: str | None) -> DesiredState:
            return build_desired(
                model,
                profile,
                sso_password=sso_password,
                directory=rescue.directory,
                directory_error=rescue.error,
                root_business_unit=root_business_unit,
                locate=lambda path: str(loaded.locate(path)),
            )

        try:
            rescue = await rescue_reader.read_tree()
            if rescue.directory is not None:
                # Which technicians to read depends on the tenant files and the hierarchy only
                # (the root business unit, from Dynamics, is not involved): read them beside the
                # Dynamics read instead of after it.
                wanted_ids = [
                    r.technician_id
                    for r in desired_with(None).resources
                    if isinstance(r, RescueTechnician)
                    and not r.technician_id.startswith(NEW_TECHNICIAN_PREFIX)
                ]
                pending.append(asyncio.ensure_future(rescue_reader.read_technicians(rescue, wanted_ids)))
            dynamics = await dynamics_task
            desired = desired_with(dynamics.state.facts.get("root_business_unit"))
            await asyncio.gather(*pending)  # the technicians (and consent) read alongside
            consent_state = await consent_task if consent_task is not None else None
        finally:
            # One part failed (e.g. credentials refused): stop the others and collect their
            # outcome, so nothing is left running or unretrieved when the session closes.
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    live = LiveState()
    live.merge(dynamics.state)
    live.merge(rescue.state)
    if consent_state is not None:
        live.merge(consent_state)
    problems = _missing_user_problems(loaded, dynamics)
    missing = set(dynamics.missing_users)
    desired.resources = [
        r for r in desired.resources if not (isinstance(r, TechnicianSettings) and r.user in missing)
    ]
    plan = diff_tenant(
        loaded.name,
        desired,
        live,
        prune=model.prune,
        entra_tenant_id=conn.entra_tenant_id,
        desired_digest=loaded.digest,
        safety=safety,
        extra_problems=problems,
    )
    plan = dataclasses.replace(plan, changes=tuple(_with_user_ids(plan, dynamics)))
    return TenantReading(plan, dynamics, live)


def _missing_user_problems(loaded: LoadedTenant, dynamics: DynamicsLive) -> list[str]:
    if not dynamics.missing_users:
        return []
    index = {t.user: i for i, t in enumerate(loaded.model.technicians)}
    return [
        f"{loaded.locate(('technicians', index[u], 'user'))}: technicians.{index[u]}.user: no Dynamics user "
        f"with UPN {u!r} (check the spelling, or that the user exists and is licensed)"
        for u in dynamics.missing_users
        if u in index
    ]


def _with_user_ids(plan: TenantPlan, dynamics: DynamicsLive) -> list[Change]:
    """Creates of settings rows carry the user's systemuserid, looked up at plan time."""
    out: list[Change] = []
    for change in plan.changes:
        if isinstance(change, Create) and isinstance(change.desired, TechnicianSettings):
            user_id = dynamics.user_ids.get(change.desired.user, "")
            desired = dataclasses.replace(change.desired, meta=LiveMeta(extra=(("user_id", user_id),)))
            change = dataclasses.replace(change, desired=desired)
        out.append(change)
    return out


async def _read_consent(session: TenantSession, app_id: str) -> LiveState:
    state = LiveState()
    try:
        found = await session.graph.find_service_principal(app_id)
    except ProviderError as exc:
        state.unknown.append(Unknown("consent", app_id, f"service principal lookup failed: {exc.message}"))
        return state
    state.add(Consent(app_id=app_id, granted=found is not None))
    state.listed.add("consent")
    return state


async def plan_tenants(tenants: Sequence[LoadedTenant], options: RunOptions) -> list[TenantReading]:
    """Plan every tenant, at most ``tenant_concurrency`` at once, in the given order."""
    bound = asyncio.Semaphore(max(1, options.tenant_concurrency))

    async def one(loaded: LoadedTenant) -> TenantReading:
        async with bound:
            reading = await plan_tenant(loaded, options)
        if options.listener is not None:
            options.listener.tenant_done()
        return reading

    return list(await asyncio.gather(*(one(t) for t in tenants)))


def make_plan(readings: Sequence[TenantReading]) -> Plan:
    return Plan(
        tenants=tuple(r.plan for r in readings),
        created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        tool_version=__version__,
    )


def run_plan(tenants: Sequence[LoadedTenant], options: RunOptions) -> tuple[Plan, list[TenantReading]]:
    readings = run_loop(plan_tenants(tenants, options))
    return make_plan(readings), readings
