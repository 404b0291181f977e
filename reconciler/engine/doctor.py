"""`reconcile doctor`: a read-only preflight of each tenant, as a checklist.

For a first run against a real org: does the credential get a token, is the app an enabled
application user of the org, does it hold every privilege the declared state needs, is the
solution installed, does the org have every logical name of the solution profile, does the
Rescue authcode work, can the consent check read service principals, can each Entra group of a
technician rule be read, does Rescue accept the report sign-in `health` uses. What is needed comes from one place, ``engine/needs.py`` (technician
rules included). A check whose read is refused or fails is a failure with its fix, and the next
checks still run: doctor is never "ready" while a needed read is refused. Every request is a
read (Rescue's API reads are POSTs of get* methods) or the report sign-in (``login.aspx``,
which opens a cookie session); nothing is ever written.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

from reconciler.config import LoadedTenant, Tenant
from reconciler.engine.doctor_fleet import credentials, sign_in_fix, vault_checks
from reconciler.engine.health import report_client
from reconciler.engine.needs import (
    GROUP_MEMBERS_PERMISSION,
    SERVICE_PRINCIPALS_PERMISSION,
    TenantNeeds,
    tenant_needs,
)
from reconciler.engine.planner import RunOptions
from reconciler.engine.schema_check import FIX, check_schema
from reconciler.engine.session import TenantSession
from reconciler.engine.vault import open_connection
from reconciler.errors import (
    EXIT_ERROR,
    EXIT_OK,
    ApiError,
    AuthError,
    NotFoundError,
    ProviderError,
    RateLimitedError,
    ReconcileError,
)
from reconciler.profile import SolutionProfile, effective_profile
from reconciler.providers.dynamics.metadata import MetadataReader
from reconciler.providers.http import RequestStats

PASS, WARN, FAIL = "pass", "warn", "fail"
NOT_A_MEMBER, USER_DISABLED = "0x80072560", "0x80040225"
_APP_USERS = "Power Platform admin center > Environments > (the org) > Settings > Users + permissions > Application users"


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # pass | warn | fail
    detail: str
    fix: str = ""


@dataclass
class TenantReport:
    tenant: str
    checks: list[Check] = field(default_factory=list)
    credentials: list[dict[str, Any]] = field(default_factory=list)  # doctor_fleet.py: credentials

    @property
    def ok(self) -> bool:
        return all(c.status != FAIL for c in self.checks)

    def add(self, name: str, status: str, detail: str, fix: str = "") -> None:
        self.checks.append(Check(name, status, detail, fix))


@dataclass(frozen=True)
class DoctorResult:
    """Every tenant's checklist; it decides the exit code (0 all ready, 1 a check failed)."""

    reports: tuple[TenantReport, ...]

    @property
    def ready(self) -> bool:
        return all(r.ok for r in self.reports)

    @property
    def exit_code(self) -> int:
        return EXIT_OK if self.ready else EXIT_ERROR


async def _dataverse(
    report: TenantReport, session: TenantSession, loaded: LoadedTenant, needs: TenantNeeds
) -> None:
    model = loaded.model
    profile = effective_profile(model.profile)
    client = session.dataverse
    try:
        who = await client.get("WhoAmI")
    except AuthError as exc:
        fix = sign_in_fix(
            loaded, session.conn.client_id, exc.message, "fix the credential under connection.dynamics"
        )
        report.add("token", FAIL, exc.message, fix)
        return
    except ApiError as exc:
        report.add("token", PASS, "Entra ID issued a token for the org")
        if exc.code == NOT_A_MEMBER:
            report.add(
                "application user",
                FAIL,
                f"the app {session.conn.client_id} is not an application user of this org",
                f"create one for client ID {session.conn.client_id} ({_APP_USERS}) and give it a security role",
            )
        elif exc.code == USER_DISABLED:
            report.add(
                "application user",
                FAIL,
                f"the application user of app {session.conn.client_id} is disabled",
                f"enable it ({_APP_USERS})",
            )
        else:
            report.add("application user", FAIL, exc.message, "see the message")
        return
    report.add("token", PASS, "Entra ID issued a token for the org")
    user_id = str(who.get("UserId") or "")

    async def application_user() -> None:
        user = await client.get(
            f"systemusers({user_id})", {"$select": "isdisabled,_businessunitid_value,accessmode"}
        )
        unit = user.get("_businessunitid_value") or who.get("BusinessUnitId")
        report.add("application user", PASS, f"systemuser {user_id}, enabled, in business unit {unit}")

    await _checked(report, "application user", "give it prvReadUser", application_user())
    await _checked(report, "privileges", "give it prvReadUser", _privileges(report, session, needs, user_id))
    await _checked(
        report,
        "solution",
        "give it prvReadSolution",
        _solution(report, MetadataReader(client), model, profile),
    )
    await _checked(report, "schema", "give it prvReadEntity", _schema(report, session, loaded, needs))


async def _schema(
    report: TenantReport, session: TenantSession, loaded: LoadedTenant, needs: TenantNeeds
) -> None:
    profile = effective_profile(loaded.model.profile)
    problems = await check_schema(session.dataverse, profile, needs.sections)
    for problem in problems:
        report.add(f"schema {problem.path}", FAIL, problem.message, FIX.format(tenant=loaded.name))
    if not problems:
        sections = ", ".join(needs.sections) or "none declared"
        report.add(
            "schema", PASS, f"every profile name of the declared tables exists with its type ({sections})"
        )


async def _checked(report: TenantReport, name: str, fix: str, check: Coroutine[Any, Any, None]) -> None:
    """Run one check; a read of it that fails is that check's failure, and the others still run.
    ``fix`` is shown when the read was refused (403)."""
    try:
        await check
    except ProviderError as exc:
        refused = isinstance(exc, ApiError) and exc.status == 403
        report.add(name, FAIL, f"could not be checked: {exc.message}", fix if refused else "see the message")


async def _privileges(report: TenantReport, session: TenantSession, needs: TenantNeeds, user_id: str) -> None:
    body = await session.dataverse.get(
        f"systemusers({user_id})/Microsoft.Dynamics.CRM.RetrieveUserPrivileges()"
    )
    held = {str(p.get("PrivilegeName") or "").casefold() for p in body.get("RolePrivileges") or []}
    missing = sorted(n for n in needs.privileges if n.casefold() not in held)
    if not missing:
        report.add("privileges", PASS, f"all {len(needs.privileges)} needed privileges held")
    for name in missing:
        report.add(
            f"privilege {name}",
            FAIL,
            f"missing ({needs.why(name)})",
            "add it to a security role of the application user",
        )


async def _solution(
    report: TenantReport, reader: MetadataReader, model: Tenant, profile: SolutionProfile
) -> None:
    if model.solution is None:
        return
    name = model.solution.unique_name or profile.solution.unique_name
    found = await reader.solution(name)
    wanted = model.solution.min_version
    if found is None:
        status, fix = (WARN, "") if model.solution.package else (FAIL, "install the LogMeIn Rescue solution")
        detail = f"{name} is not installed" + (
            " (apply will import the package)" if model.solution.package else ""
        )
        report.add("solution", status, detail, fix)
        return
    kind = "managed" if found.managed else "unmanaged"
    if _version(found.version) < _version(wanted):
        status = WARN if model.solution.package else FAIL
        report.add(
            "solution", status, f"{name} {found.version} ({kind}) is older than {wanted}", "upgrade it"
        )
    elif not found.managed:
        report.add("solution", WARN, f"{name} {found.version} is installed unmanaged", "")
    else:
        report.add("solution", PASS, f"{name} {found.version} ({kind}) installed")


def _version(text: str) -> tuple[int, ...]:
    parts = [int(p) for p in str(text).split(".") if p.isascii() and p.isdigit()]
    return tuple(parts + [0] * (4 - len(parts)))


async def _rescue(report: TenantReport, session: TenantSession) -> None:
    try:
        hierarchy = await session.rescue.get_hierarchy()
    except ProviderError as exc:
        report.add(
            "rescue",
            FAIL,
            exc.message,
            "get a new API authcode in the Rescue Admin Center (connection.rescue.authcode)",
        )
        return
    read = f"authcode accepted, hierarchy of {len(hierarchy.blocks)} nodes read"
    if hierarchy.odd:
        odd = ", ".join(f"{o.label} ({o.reason})" for o in hierarchy.odd[:5])
        report.add(
            "rescue",
            WARN,
            f"{read}; {len(hierarchy.odd)} could not be read and stay unknown: {odd}",
            "remove line breaks from those nodes' names and descriptions in the Rescue Admin Center",
        )
        return
    report.add("rescue", PASS, read)


_GRAPH_PERMISSION_FIX = (
    "grant the reconciler's app registration the Graph application permission {permission} and an "
    "admin's consent to it (Entra admin center > App registrations > (the app) > API permissions)"
)


async def _consent(report: TenantReport, session: TenantSession, model: Tenant) -> None:
    if model.consent is None or not model.consent.check:
        return
    app_id = model.consent.app_id
    try:
        found = await session.graph.find_service_principal(app_id)
    except ProviderError as exc:
        refused = isinstance(exc, ApiError) and exc.status == 403
        fix = _GRAPH_PERMISSION_FIX.format(permission=SERVICE_PRINCIPALS_PERMISSION)
        report.add("consent", FAIL, exc.message, fix if refused else "see the message; run doctor again")
        return
    if found is None:
        report.add(
            "consent",
            FAIL,
            f"no service principal for app {app_id}: admin consent was not granted",
            f"an admin grants consent: https://login.microsoftonline.com/{session.conn.entra_tenant_id}"
            f"/adminconsent?client_id={app_id}",
        )
    else:
        report.add("consent", PASS, f"service principal {found.get('id')} of app {app_id} exists")


async def _entra_groups(report: TenantReport, session: TenantSession, needs: TenantNeeds) -> None:
    """Each Entra group of a technician rule, its members read as plan reads them (every page)."""
    for group_id, rules in needs.entra_groups.items():
        name = f"entra group {group_id}"
        used = f"used by {', '.join(rules)}"
        try:
            members = await session.graph.group_users(group_id)
        except ProviderError as exc:
            if isinstance(exc, ApiError) and exc.status == 403:
                fix = _GRAPH_PERMISSION_FIX.format(permission=GROUP_MEMBERS_PERMISSION)
            elif isinstance(exc, NotFoundError):
                fix = f"no such group in the directory: correct the group ID of {', '.join(rules)}"
            else:
                fix = "see the message; run doctor again"
            report.add(name, FAIL, f"members could not be read ({used}): {exc.message}", fix)
            continue
        report.add(name, PASS, f"{len(members)} user member(s) readable ({used})")


_REPORT_SIGN_IN_FIX = (
    "set connection.rescue.reports to an active Rescue administrator's email and the secret of "
    "their password (Rescue Admin Center > Administrators); `reconcile health` signs in with it"
)


async def _report_sign_in(
    report: TenantReport,
    loaded: LoadedTenant,
    session: TenantSession,
    options: RunOptions,
    needs: TenantNeeds,
) -> None:
    """The report sign-in health needs, tried with health's own client (``login.aspx`` only:
    it changes nothing, and no report is fetched, so health's one report per minute is kept)."""
    sign_in = loaded.model.connection.rescue.reports
    if not needs.report_sign_in or sign_in is None:
        return
    name, used = "report sign-in", "; ".join(needs.report_sign_in)
    try:
        client = report_client(loaded, session.conn, options.settings, RequestStats())
    except ReconcileError as exc:  # the password's secret cannot be read
        report.add(name, FAIL, f"{exc.message} ({used})", "fix the secret reference it names")
        return
    if client is None:  # declared, checked above; the factory's None is for health's callers
        return
    try:
        async with client:
            await client.sign_in()
    except AuthError as exc:
        report.add(name, FAIL, f"{exc.message} ({used})", _REPORT_SIGN_IN_FIX)
    except RateLimitedError as exc:
        report.add(name, FAIL, f"could not be checked: {exc.message}", "run doctor again in 3 minutes")
    except ProviderError as exc:
        report.add(name, FAIL, f"could not be checked: {exc.message}", "see the message; run doctor again")
    else:
        report.add(name, PASS, f"Rescue accepted the report sign-in of {sign_in.email} ({used})")


async def doctor_tenant(loaded: LoadedTenant, options: RunOptions) -> TenantReport:
    report = TenantReport(loaded.name)
    if not await vault_checks(report, loaded, options):  # doctor_fleet.py: Key Vault secrets
        report.credentials = credentials(loaded, options, None)
        return report
    try:
        conn = await open_connection(loaded, options.sandbox, options.vault, options.settings, RequestStats())
    except ReconcileError as exc:
        report.add("credential", FAIL, exc.message, "fix the secret reference it names")
        return report
    report.credentials = credentials(loaded, options, conn)
    needs = tenant_needs(loaded.model, effective_profile(loaded.model.profile))
    try:
        async with TenantSession(conn, options.settings, RequestStats()) as session:
            # Each service's checks run even when another service refused: every failure is named.
            await _checked(report, "dynamics", "see the message", _dataverse(report, session, loaded, needs))
            await _checked(report, "rescue", "see the message", _rescue(report, session))
            await _checked(report, "consent", "see the message", _consent(report, session, loaded.model))
            await _checked(report, "entra groups", "see the message", _entra_groups(report, session, needs))
            await _report_sign_in(report, loaded, session, options, needs)
    except ReconcileError as exc:  # a read failed for another reason: say so, never a traceback
        report.add("read", FAIL, exc.message, "see the message; `reconcile doctor` only reads")
    return report


def run_doctor(tenants: Sequence[LoadedTenant], options: RunOptions) -> DoctorResult:
    async def every() -> list[TenantReport]:
        bound = asyncio.Semaphore(max(1, options.tenant_concurrency))

        async def one(loaded: LoadedTenant) -> TenantReport:
            async with bound:
                return await doctor_tenant(loaded, options)

        return list(await asyncio.gather(*(one(t) for t in tenants)))

    return DoctorResult(tuple(asyncio.run(every())))
