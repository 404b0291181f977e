"""`reconcile doctor`: a read-only preflight of each tenant, as a checklist.

For a first run against a real org: does the credential get a token, is the app an enabled
application user of the org, does it hold every privilege the declared kinds need, is the
solution installed, does the org have every logical name of the solution profile, does the
Rescue authcode work, can the consent check read service principals. Every request is a read
(Rescue's API reads are POSTs of get* methods); nothing is ever written.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

from reconciler.config import LoadedTenant, Tenant
from reconciler.engine.connection import connect
from reconciler.engine.planner import RunOptions
from reconciler.engine.schema_check import FIX, check_schema, needed_sections
from reconciler.engine.session import TenantSession
from reconciler.errors import ApiError, AuthError, ProviderError, ReconcileError
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

    @property
    def ok(self) -> bool:
        return all(c.status != FAIL for c in self.checks)

    def add(self, name: str, status: str, detail: str, fix: str = "") -> None:
        self.checks.append(Check(name, status, detail, fix))


def needed_privileges(model: Tenant, profile: SolutionProfile) -> dict[str, str]:
    """Privilege name -> what needs it, for the kinds the tenant declares.

    Names are ``prv<Verb><Entity>`` (compared without case: real orgs spell custom tables by
    their schema name). Reading the org's metadata (the schema check) needs ``prvReadEntity``.
    """
    need: dict[str, str] = {"prvReadEntity": "table metadata (schema check)"}

    def table(verbs: Sequence[str], name: str, why: str) -> None:
        for verb in verbs:
            need.setdefault(f"prv{verb}{name}", f"table {name}: {why}")

    if model.solution is not None:
        table(["Read"], "Solution", "solution")
        if model.solution.package:
            need["prvImportCustomization"] = "solution import"
            table(["Read"], "AsyncOperation", "solution import")
            table(["Read"], "ImportJob", "solution import")
    if model.integration is not None:
        table(["Read", "Create", "Write"], profile.integration.table, "integration")
    if model.technicians:
        table(["Read"], "User", "technicians")
        table(["AppendTo"], "User", "technicians")
        verbs = ["Read", "Create", "Write", "Append"] + (["Delete"] if model.prune.technicians else [])
        table(verbs, profile.technician_settings.table, "technicians")
    if model.application_user is not None:
        table(["Read", "Create", "Write", "Append"], "User", "application_user")
        table(["Read", "AppendTo"], "Role", "application_user")
        table(["Read"], "BusinessUnit", "application_user")
    if model.session_key is not None:
        need.setdefault("prvCreateEntityKey", "session_key (reactivate the Session Key)")
        table(["Read"], "AsyncOperation", "session_key")
    return need


async def _dataverse(report: TenantReport, session: TenantSession, loaded: LoadedTenant) -> None:
    model = loaded.model
    profile = effective_profile(model.profile)
    client = session.dataverse
    try:
        who = await client.get("WhoAmI")
    except AuthError as exc:
        report.add("token", FAIL, exc.message, "fix the credential under connection.dynamics")
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
    user = await client.get(
        f"systemusers({user_id})", {"$select": "isdisabled,_businessunitid_value,accessmode"}
    )
    report.add(
        "application user",
        PASS,
        f"systemuser {user_id}, enabled, in business unit {user.get('_businessunitid_value') or who.get('BusinessUnitId')}",
    )
    await _privileges(report, session, model, profile, user_id)
    await _solution(report, MetadataReader(client), model, profile)
    problems = await check_schema(client, profile, needed_sections(model))
    for problem in problems:
        report.add(f"schema {problem.path}", FAIL, problem.message, FIX.format(tenant=loaded.name))
    if not problems:
        sections = ", ".join(needed_sections(model)) or "none declared"
        report.add(
            "schema", PASS, f"every profile name of the declared tables exists with its type ({sections})"
        )


async def _privileges(
    report: TenantReport, session: TenantSession, model: Tenant, profile: SolutionProfile, user_id: str
) -> None:
    try:
        body = await session.dataverse.get(
            f"systemusers({user_id})/Microsoft.Dynamics.CRM.RetrieveUserPrivileges()"
        )
    except ProviderError as exc:
        report.add(
            "privileges", FAIL, f"cannot list the user's privileges: {exc.message}", "give it prvReadUser"
        )
        return
    held = {str(p.get("PrivilegeName") or "").casefold() for p in body.get("RolePrivileges") or []}
    missing = {n: why for n, why in needed_privileges(model, profile).items() if n.casefold() not in held}
    if not missing:
        report.add("privileges", PASS, f"all {len(needed_privileges(model, profile))} needed privileges held")
    for name, why in sorted(missing.items()):
        report.add(
            f"privilege {name}", FAIL, f"missing ({why})", "add it to a security role of the application user"
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


async def _consent(report: TenantReport, session: TenantSession, model: Tenant) -> None:
    if model.consent is None or not model.consent.check:
        return
    app_id = model.consent.app_id
    try:
        found = await session.graph.find_service_principal(app_id)
    except ProviderError as exc:
        report.add(
            "consent",
            FAIL,
            exc.message,
            "grant the reconciler's app registration the Graph application permission Application.Read.All",
        )
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


async def doctor_tenant(loaded: LoadedTenant, options: RunOptions) -> TenantReport:
    report = TenantReport(loaded.name)
    try:
        conn = connect(loaded, options.sandbox)
    except ReconcileError as exc:
        report.add("credential", FAIL, exc.message, "fix the secret reference it names")
        return report
    try:
        async with TenantSession(conn, options.settings, RequestStats()) as session:
            await _dataverse(report, session, loaded)
            await _rescue(report, session)
            await _consent(report, session, loaded.model)
    except ReconcileError as exc:  # a read failed for another reason: say so, never a traceback
        report.add("read", FAIL, exc.message, "see the message; `reconcile doctor` only reads")
    return report


def run_doctor(tenants: Sequence[LoadedTenant], options: RunOptions) -> list[TenantReport]:
    async def every() -> list[TenantReport]:
        bound = asyncio.Semaphore(max(1, options.tenant_concurrency))

        async def one(loaded: LoadedTenant) -> TenantReport:
            async with bound:
                return await doctor_tenant(loaded, options)

        return list(await asyncio.gather(*(one(t) for t in tenants)))

    return asyncio.run(every())
