"""Doctor's checks of what the session flow needs, so that doctor never calls a tenant ready
while ``health`` would report a blocker: admin consent (checked by default; a tenant opts out
with ``consent: {check: false}``) and the integration's prerequisites, read as ``health``
reads them and judged by the same function (``plan/health.py:blockers_of``). Each blocker is a
failed check whose fix says whether the next ``apply`` repairs it (the tenant declares it) or a
person must."""

from __future__ import annotations

from reconciler.config import Tenant
from reconciler.engine.doctor_report import FAIL, PASS, UNKNOWN, WARN, TenantReport
from reconciler.engine.health import read_prerequisites
from reconciler.engine.session import TenantSession
from reconciler.errors import ApiError, AuthError, ProviderError, RateLimitedError, TransportError
from reconciler.kinds.consent import consent_app_ids
from reconciler.kinds.needs import SERVICE_PRINCIPALS_PERMISSION
from reconciler.plan.health import CONSENT_READ, Cause, Prerequisites, blockers_of
from reconciler.profile import SolutionProfile

GRAPH_PERMISSION_FIX = (
    "grant the reconciler's app registration the Graph application permission {permission} and an "
    "admin's consent to it (Entra admin center > App registrations > (the app) > API permissions)"
)
APPLICATION_USERS = "Power Platform admin center > Environments > (the org) > Settings > Users + permissions > Application users"
SESSION_FLOW = "session flow"


async def check_consent(report: TenantReport, session: TenantSession, model: Tenant) -> None:
    """Admin consent of each app ``consent_app_ids`` names (the declared one and health's)."""
    apps = consent_app_ids(model)
    if not apps:
        report.add(
            "consent",
            WARN,
            "not checked: the tenant opts out (consent.check: false); `reconcile health` still "
            "reports a missing consent as blocking every session",
        )
        return
    for app_id in apps:
        name = "consent" if len(apps) == 1 else f"consent {app_id}"
        try:
            found = await session.graph.find_service_principal(app_id)
        except (TransportError, RateLimitedError) as exc:
            report.add(name, UNKNOWN, f"could not be checked: {exc.message}", "run doctor again later")
            continue
        except ProviderError as exc:
            refused = isinstance(exc, ApiError) and exc.status == 403
            fix = GRAPH_PERMISSION_FIX.format(permission=SERVICE_PRINCIPALS_PERMISSION)
            report.add(name, FAIL, exc.message, fix if refused else "see the message; run doctor again")
            continue
        if found is None:
            report.add(
                name,
                FAIL,
                f"no service principal for app {app_id}: admin consent was not granted "
                "(`reconcile health`: it blocks every session)",
                f"an admin grants consent: https://login.microsoftonline.com/{session.conn.entra_tenant_id}"
                f"/adminconsent?client_id={app_id}",
            )
        else:
            report.add(name, PASS, f"service principal {found.get('id')} of app {app_id} exists")


async def check_session_flow(
    report: TenantReport, session: TenantSession, model: Tenant, profile: SolutionProfile
) -> None:
    """The integration's prerequisites (Session Key, the LogMeIn application user and its
    role), each blocker ``health`` would report a failed check; consent is ``check_consent``'s."""
    try:
        pre = await read_prerequisites(session, model, profile)
    except AuthError as exc:
        if exc.service != "rescue":
            raise
        # The read takes the Rescue hierarchy too: a refused authcode is the rescue check's.
        report.add(
            SESSION_FLOW, FAIL, "not checked: Rescue refused the authcode (see rescue)", "fix it first"
        )
        return
    causes, unchecked = blockers_of(pre)
    for cause in causes:
        report.add(
            SESSION_FLOW,
            FAIL,
            f"{cause.text} (`reconcile health`: it blocks every session)",
            _fix(cause, model, pre),
        )
    for unread in unchecked:
        if unread.what == CONSENT_READ:
            continue  # not read here: check_consent reads it
        report.add(
            SESSION_FLOW,
            FAIL,
            f"{unread.text}: `reconcile health` could not tell whether it blocks the sessions",
            "give the reconciler's application user what `reconcile doctor --least-privilege` lists",
        )
    if not causes and not [u for u in unchecked if u.what != CONSENT_READ]:
        report.add(
            SESSION_FLOW,
            PASS,
            f"the Session Key is Active and the LogMeIn application user holds {pre.role!r}: "
            "nothing `reconcile health` checks first blocks the sessions",
        )


def _fix(cause: Cause, model: Tenant, pre: Prerequisites) -> str:
    """Whether the next apply repairs the blocker (the tenant declares it) or a person must."""
    app = model.application_user
    if cause.code == "session_key_not_active":
        if model.session_key is not None:
            return "run `reconcile apply`: its plan repairs the Session Key (session_key is declared)"
        return (
            "declare `session_key: {status: active}` and run `reconcile apply` (it deletes the failed "
            "index job and reactivates the key)"
        )
    if cause.code == "application_user_missing":
        if app is not None:
            return (
                "run `reconcile apply`: its plan creates the application user (application_user is declared)"
            )
        return (
            f"declare `application_user:` and run `reconcile apply`, or create the application user "
            f"({APPLICATION_USERS}) with the role {pre.role!r}"
        )
    if cause.code == "role_missing":
        if app is not None and pre.role.casefold() in {r.casefold() for r in app.roles}:
            return (
                "run `reconcile apply --force`: its plan adds the role (a change to the application "
                "user's roles needs --force)"
            )
        return (
            f"add {pre.role!r} to application_user.roles and run `reconcile apply --force`, or "
            f"assign the role ({APPLICATION_USERS} > (the user) > Manage security roles)"
        )
    return "see `reconcile health`"
