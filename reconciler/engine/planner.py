"""load -> read the live directories (engine/live.py) -> resolve references (diff/resolve.py)
-> read the details the resolved state needs (engine/live.py) -> diff -> plan, for every tenant,
concurrently.

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
from typing import Protocol

from reconciler import __version__
from reconciler.config import LoadedTenant
from reconciler.diff import DesiredState, build_desired, diff_tenant, resolve, rule_users
from reconciler.diff.rules import group_pins
from reconciler.engine.connection import SandboxInfo, TenantConnection
from reconciler.engine.live import DetailQuery, LiveQuery, read_details, read_directories, read_users
from reconciler.engine.schema_check import check_schema, needed_sections, schema_message
from reconciler.engine.session import TenantSession
from reconciler.engine.vault import VaultCache, open_connection
from reconciler.errors import (
    AuthError,
    InputError,
    ProviderError,
    RateLimitedError,
    ReconcileError,
    TransportError,
)
from reconciler.kinds import REGISTRY
from reconciler.plan import Plan, SafetySettings, TenantPlan
from reconciler.profile import effective_profile
from reconciler.providers.http import ClientSettings, RequestStats
from reconciler.providers.loop import run as run_loop
from reconciler.resources import LiveState, SecretHasher

log = logging.getLogger(__name__)


# Hidden tunables (no CLI option on purpose: the defaults suit Dataverse's service-protection
# limits). They let tests of retries and paging run fast, and support reproduce a case.
SETTINGS_ENV: dict[str, tuple[str, Callable[[str], float | int]]] = {
    "RECONCILE_MAX_RETRIES": ("max_retries", int),
    "RECONCILE_BACKOFF_CAP": ("backoff_cap", float),
    "RECONCILE_PAGE_SIZE": ("page_size", int),
    "RECONCILE_TIMEOUT": ("timeout", float),  # seconds per request
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
    vault: VaultCache = field(default_factory=VaultCache, compare=False)  # Key Vault reads of the run


@dataclass
class TenantReading:
    """A tenant's plan plus what apply needs from the reading (not serialised)."""

    plan: TenantPlan
    live: LiveState | None = None


async def plan_tenant(loaded: LoadedTenant, options: RunOptions) -> TenantReading:
    model = loaded.model
    safety = SafetySettings(model.safety.max_change_fraction, model.safety.min_objects)
    stats = RequestStats(on_record=options.listener.request_done if options.listener else None)
    try:
        conn = await open_connection(loaded, options.sandbox, options.vault, options.settings, stats)
        reading = await _read_and_diff(loaded, conn, options, stats, safety)
    except (TransportError, RateLimitedError) as exc:
        # Temporary (retries spent): the tenant is incomplete (exit 3), not misconfigured.
        plan = TenantPlan(
            tenant=loaded.name,
            desired_digest=loaded.digest,
            safety=safety,
            problems=(f"{exc.message}; nothing was planned for this tenant",),
            requests=stats.as_dict(),
        )
        return TenantReading(plan)
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
        reading.live = None
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

    query = LiveQuery(
        solution_name=(model.solution.unique_name or profile.solution.unique_name)
        if model.solution
        else None,
        integration=model.integration is not None,
        app_id=model.application_user.app_id if model.application_user else None,
        session_key=model.session_key is not None,
        users=tuple(t.user for t in model.technicians),
        consent_app_id=model.consent.app_id if (model.consent is not None and model.consent.check) else None,
        entra_groups=tuple(r.entra_group for r in model.technician_rules if r.entra_group is not None),
        rescue_groups=tuple(g.path for g in model.rescue_groups),
        rescue_group_pins=tuple(group_pins(model).items()),
    )
    async with TenantSession(conn, options.settings, stats) as session:
        # The profile's names are checked against the org's metadata before anything is read:
        # a wrong one stops the tenant with doctor's message, not a 400 half-way (schema_check.py).
        # When the metadata cannot be read, the reads below meet the same failure and record
        # what they could not read as Unknown: nothing is decided on a guess either way.
        try:
            schema_problems = await check_schema(session.dataverse, profile, needed_sections(model))
        except AuthError:
            raise  # no token (entra.py): the tenant stops with that one cause
        except ProviderError as exc:
            log.warning("%s: the solution schema was not checked: %s", loaded.name, exc.message)
            schema_problems = []
        if schema_problems:
            raise InputError(schema_message(loaded.name, schema_problems))
        # The live read's steps (engine/live.py), each fed the values the previous ones gave.
        reading = await read_directories(session, profile, hasher, query)
        reading = await read_users(session, reading, rule_users(model, reading.directories))
        declared = build_desired(
            model, profile, sso_password=sso_password, root_business_unit=reading.root_business_unit
        )
        desired = resolve(model, declared, reading.directories, lambda path: str(loaded.locate(path)))
        reading = await read_details(session, reading, _details(desired))
    live = reading.state()
    idents = {r.ident for r in desired.resources}
    desired.unknown.extend(u for u in reading.rescue.odd_nodes if (u.kind, u.key) not in idents)
    plan = diff_tenant(
        loaded.name,
        desired,
        live,
        prune=model.prune,
        entra_tenant_id=conn.entra_tenant_id,
        desired_digest=loaded.digest,
        safety=safety,
    )
    return TenantReading(plan, live)


def _details(desired: DesiredState) -> DetailQuery:
    """What the resolved desired state needs read after resolution, per kind: the resources
    whose kind module says comparing them needs their details (``reads_details``)."""
    keys = {
        kind.name: tuple(r.key for r in desired.resources if r.kind == kind.name and kind.reads_details(r))
        for kind in REGISTRY
    }
    return DetailQuery({kind: found for kind, found in keys.items() if found})


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
