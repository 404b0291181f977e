"""`reconcile doctor`: a read-only preflight of each tenant, as a checklist.

For a first run against a real org: does the credential get a token, is the app an enabled
application user of the org, does it hold every privilege the declared state needs (at
Organization level; the missing ones grouped as the security role editor shows them,
``doctor_privileges.py``), is the solution installed, does the org have every logical name of
the solution profile, does the Rescue authcode work, was admin consent granted (checked unless
the tenant opts out), can each Entra group of a technician rule be read, does Rescue accept the
report sign-in `health` uses, and does anything `health` checks first block every session
(``doctor_flow.py``). What is needed comes from one place, ``engine/needs.py`` (technician rules
included). A check whose read is refused or fails is a failure with its fix (unknown when the
failure is temporary), and the next checks still run: doctor is never "ready" while a needed
read is refused or a blocker `health` or `plan` would report stands. Under an identity outage or
a blocked sign-in it blames the identity, never the tenant ID or consent. Every request is a
read (Rescue's API reads are POSTs of get* methods) or the report sign-in (``login.aspx``,
which opens a cookie session); nothing is ever written.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from reconciler.config import LoadedTenant, Tenant
from reconciler.diff.rules import limited_reason
from reconciler.engine.doctor_fleet import credentials, sign_in_fix, vault_checks
from reconciler.engine.doctor_flow import (
    APPLICATION_USERS,
    GRAPH_PERMISSION_FIX,
    SESSION_FLOW,
    check_consent,
    check_session_flow,
)
from reconciler.engine.doctor_privileges import check_privileges
from reconciler.engine.doctor_report import FAIL, PASS, UNKNOWN, WARN, Check, TenantReport
from reconciler.engine.doctor_rescue import check_rescue_role
from reconciler.engine.health import report_client
from reconciler.engine.needs import (
    GROUP_MEMBERS_PERMISSION,
    MEMBER_PROPERTIES_PERMISSION,
    TenantNeeds,
    tenant_needs,
)
from reconciler.engine.planner import RunOptions
from reconciler.engine.schema_check import FIX, check_schema
from reconciler.engine.session import TenantSession
from reconciler.engine.vault import open_connection
from reconciler.errors import (
    EXIT_ERROR,
    EXIT_INCOMPLETE,
    EXIT_OK,
    ApiError,
    AuthError,
    IdentityUnavailable,
    NotFoundError,
    ProviderError,
    RateLimitedError,
    ReconcileError,
    SignInBlocked,
    TransportError,
)
from reconciler.profile import SolutionProfile, effective_profile
from reconciler.providers.dynamics.metadata import MetadataReader
from reconciler.providers.graph import entra_group
from reconciler.providers.http import RequestStats

__all__ = [
    "FAIL",
    "PASS",
    "UNKNOWN",
    "WARN",
    "Check",
    "DoctorResult",
    "TenantReport",
    "doctor_tenant",
    "run_doctor",
]

T = TypeVar("T")

NOT_A_MEMBER, USER_DISABLED = "0x80072560", "0x80040225"


@dataclass(frozen=True)
class DoctorResult:
    """Every tenant's checklist; it decides the exit code (0 all ready, 1 a check failed, 3 no
    check failed but one could not be made for a temporary reason: an outage, throttling)."""

    reports: tuple[TenantReport, ...]

    @property
    def ready(self) -> bool:
        return all(r.ok for r in self.reports)

    @property
    def exit_code(self) -> int:
        if any(r.failed for r in self.reports):
            return EXIT_ERROR
        return EXIT_OK if self.ready else EXIT_INCOMPLETE


_NOT_MADE = "; the checks that need a token (Dynamics, consent, Entra groups) were not made"


def _sign_in_failed(report: TenantReport, exc: AuthError, client_id: str, loaded: LoadedTenant) -> None:
    """The token check's failure, blamed where it lies: an identity outage or a blocked sign-in
    is the identity's (the token endpoint, the app registration), never the tenant ID or consent."""
    if isinstance(exc, IdentityUnavailable):
        report.add(
            "token",
            UNKNOWN,
            exc.message + _NOT_MADE,
            "the identity service (Entra ID's token endpoint) is failing, not this tenant's settings: "
            "run doctor again later; if it persists, see the Microsoft Entra service health",
        )
    elif isinstance(exc, SignInBlocked):
        report.add(
            "token",
            FAIL,
            exc.message + _NOT_MADE,
            f"in the Entra admin center, Enterprise applications > (client ID {client_id}) > Sign-in "
            "logs shows the policy that blocks it: exclude the app or enable it",
        )
    else:  # the app missing from the directory: the admin-consent URL (doctor_fleet.py)
        fix = sign_in_fix(loaded, client_id, exc.message, "fix the setting the message names")
        report.add("token", FAIL, exc.message + _NOT_MADE, fix)


async def _dataverse(
    report: TenantReport, session: TenantSession, loaded: LoadedTenant, needs: TenantNeeds
) -> bool:
    """The Dataverse checks; False when no token could be had (the other token checks are moot)."""
    model = loaded.model
    profile = effective_profile(model.profile)
    client = session.dataverse
    try:
        who = await client.get("WhoAmI")
    except AuthError as exc:
        _sign_in_failed(report, exc, session.conn.client_id, loaded)
        return False
    except ApiError as exc:
        report.add("token", PASS, "Entra ID issued a token for the org")
        if exc.code == NOT_A_MEMBER:
            report.add(
                "application user",
                FAIL,
                f"the app {session.conn.client_id} is not an application user of this org",
                f"create one for client ID {session.conn.client_id} ({APPLICATION_USERS}) and give it a security role",
            )
        elif exc.code == USER_DISABLED:
            report.add(
                "application user",
                FAIL,
                f"the application user of app {session.conn.client_id} is disabled",
                f"enable it ({APPLICATION_USERS})",
            )
        else:
            report.add("application user", FAIL, exc.message, "see the message")
        return True
    report.add("token", PASS, "Entra ID issued a token for the org")
    user_id = str(who.get("UserId") or "")

    async def application_user() -> None:
        user = await client.get(
            f"systemusers({user_id})", {"$select": "isdisabled,_businessunitid_value,accessmode"}
        )
        unit = user.get("_businessunitid_value") or who.get("BusinessUnitId")
        report.add("application user", PASS, f"systemuser {user_id}, enabled, in business unit {unit}")

    await _checked(report, "application user", "give it prvReadUser", application_user())
    await _checked(
        report, "privileges", "give it prvReadUser", check_privileges(report, client, needs, user_id, profile)
    )
    await _checked(
        report,
        "solution",
        "give it prvReadSolution",
        _solution(report, MetadataReader(client), model, profile),
    )
    await _checked(report, "schema", "give it prvReadEntity", _schema(report, session, loaded, needs))
    return True


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


async def _checked(report: TenantReport, name: str, fix: str, check: Coroutine[Any, Any, T]) -> T | None:
    """Run one check; a read of it that fails is that check's failure (unknown when temporary),
    and the others still run. ``fix`` is shown when the read was refused (403)."""
    try:
        return await check
    except (TransportError, RateLimitedError) as exc:  # temporary: unknown, not wrong
        report.add(name, UNKNOWN, f"could not be checked: {exc.message}", "run doctor again later")
    except ProviderError as exc:
        refused = isinstance(exc, ApiError) and exc.status == 403
        report.add(name, FAIL, f"could not be checked: {exc.message}", fix if refused else "see the message")
    return None


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
        report.add(  # plan reports them unknown (exit 3): not ready
            "rescue",
            FAIL,
            f"{read}; {len(hierarchy.odd)} could not be read and stay unknown (plan reports them): {odd}",
            "remove line breaks from those nodes' names and descriptions in the Rescue Admin Center",
        )
        return
    report.add("rescue", PASS, read)


async def _entra_groups(report: TenantReport, session: TenantSession, needs: TenantNeeds) -> None:
    """Each Entra group of a technician rule, its members read as plan reads them (every page)."""
    for group_id, rules in needs.entra_groups.items():
        name = f"entra group {group_id}"
        used = f"used by {', '.join(rules)}"
        try:
            members = await session.graph.group_users(group_id)
        except ProviderError as exc:
            if isinstance(exc, ApiError) and exc.status == 403:
                fix = GRAPH_PERMISSION_FIX.format(permission=GROUP_MEMBERS_PERMISSION)
            elif isinstance(exc, NotFoundError):
                fix = f"no such group in the directory: correct the group ID of {', '.join(rules)}"
            else:
                fix = "see the message; run doctor again"
            report.add(name, FAIL, f"members could not be read ({used}): {exc.message}", fix)
            continue
        if limited := limited_reason(entra_group(members)):  # GroupMember.Read.All alone
            fix = GRAPH_PERMISSION_FIX.format(permission=MEMBER_PROPERTIES_PERMISSION)
            report.add(name, FAIL, f"{limited} ({used})", fix)
            continue
        if not members:  # no member to show whether their UPNs can be read
            report.add(name, WARN, f"no user member: {MEMBER_PROPERTIES_PERMISSION} not checked ({used})")
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
        # The connection needs those secrets: say what was not checked rather than pass it over.
        report.add(
            "other checks",
            UNKNOWN,
            "not made: sign-in, Dataverse, Rescue, consent and session flow need the Key Vault secrets above",
            "fix the Key Vault checks above, then run doctor again",
        )
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
            signed_in = await _checked(
                report, "dynamics", "see the message", _dataverse(report, session, loaded, needs)
            )
            await _checked(report, "rescue", "see the message", _rescue(report, session))
            await check_rescue_role(report, session.rescue, loaded.model, needs)
            if signed_in is not False:
                await check_consent(report, session, loaded.model)
                await _checked(
                    report, "entra groups", "see the message", _entra_groups(report, session, needs)
                )
                await _checked(
                    report,
                    SESSION_FLOW,
                    "see the message",
                    check_session_flow(
                        report, session, loaded.model, effective_profile(loaded.model.profile)
                    ),
                )
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
