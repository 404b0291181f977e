"""Sandbox controls (``/_sandbox/...``, JSON): what tests and demos change from outside the APIs.

Faults and the request log, a state dump, and the changes a person would make by hand in an
admin console: flip an integration option or change a settings row in Dynamics, remove or add a
role of the application user, put the Session Key into Failed, change a technician's SSO ID in
the Rescue Admin Center, set or clear a group's export settings (which no Rescue API method can
do), grant or revoke admin consent. It also simulates the integration's own activity: a PIN
request, which creates the user's empty LogMeIn settings row on first use.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from rescue_sandbox.dataverse import security
from rescue_sandbox.dataverse.errors import DataverseError
from rescue_sandbox.dataverse.solution_schema import INTEGRATION_OPTIONS
from rescue_sandbox.entra.tenant import ServicePrincipal
from rescue_sandbox.errors import InputError
from rescue_sandbox.integration import traffic
from rescue_sandbox.rescue import Node, RescueStatus
from rescue_sandbox.state import SandboxState, save_state
from rescue_sandbox.tenant import SandboxTenant

RELATIONSHIP_USER_ROLES = "systemuserroles_association"
_EXPORT_KEYS = {"url", "at_session_start", "at_session_end", "format"}


class ControlError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


Handler = Callable[[SandboxState, Request], Awaitable[Any]]


def _endpoint(sandbox: SandboxState, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        try:
            result = await handler(sandbox, request)
        except ControlError as exc:
            return JSONResponse({"error": exc.message}, status_code=exc.status)
        except InputError as exc:
            return JSONResponse({"error": exc.message}, status_code=400)
        except DataverseError as exc:
            return JSONResponse({"error": exc.message, "code": exc.code}, status_code=exc.status)
        return JSONResponse(result)

    return endpoint


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    try:
        data = await request.json()
    except ValueError:
        raise ControlError(400, "the body must be JSON") from None
    if not isinstance(data, dict):
        raise ControlError(400, "the body must be a JSON object")
    return data


def _tenant(sandbox: SandboxState, request: Request) -> SandboxTenant:
    name = request.path_params["tenant"]
    tenant = sandbox.tenants.get(name)
    if tenant is None:
        raise ControlError(404, f"no tenant {name!r} (known: {', '.join(sorted(sandbox.tenants))})")
    return tenant


def _user_id(tenant: SandboxTenant, user: str) -> str:
    found = tenant.org.find("systemuser", "domainname", user)
    if not found:
        raise ControlError(404, f"no Dynamics user with domainname {user!r}")
    return str(found[0]["systemuserid"])


# -- faults and the request log --------------------------------------------------------------


async def get_faults(sandbox: SandboxState, request: Request) -> Any:
    return sandbox.faults.describe()


async def set_faults(sandbox: SandboxState, request: Request) -> Any:
    sandbox.faults.configure_json(await _body(request))
    return sandbox.faults.describe()


async def clear_faults(sandbox: SandboxState, request: Request) -> Any:
    sandbox.faults.clear()
    return sandbox.faults.describe()


async def get_requests(sandbox: SandboxState, request: Request) -> Any:
    return sandbox.requests.summary(
        tenant=request.query_params.get("tenant"), service=request.query_params.get("service")
    )


async def reset_requests(sandbox: SandboxState, request: Request) -> Any:
    sandbox.requests.reset()
    return {"total": 0}


# -- state ------------------------------------------------------------------------------------


async def list_tenants(sandbox: SandboxState, request: Request) -> Any:
    return {
        "tenants": {
            t.name: {
                "org_host": t.org_host,
                "tenant_id": t.identity.tenant_id,
                "company_id": t.rescue.company_id,
            }
            for t in sandbox.tenants.values()
        }
    }


async def dump_state(sandbox: SandboxState, request: Request) -> Any:
    tenant = _tenant(sandbox, request)
    snapshot = tenant.snapshot()
    snapshot["rescue"]["groups"] = _groups(tenant)
    return snapshot


async def save(sandbox: SandboxState, request: Request) -> Any:
    if sandbox.state_dir is None:
        raise ControlError(409, "this sandbox has no state directory")
    return {"saved": str(save_state(sandbox, sandbox.state_dir))}


# -- Dynamics, as a person in the admin console -------------------------------------------------


async def set_integration(sandbox: SandboxState, request: Request) -> Any:
    """``{"fields": {"close_ticket_on_session_end": false, "instance": "beta", ...}}``."""
    tenant = _tenant(sandbox, request)
    body = await _body(request)
    fields = body.get("fields") if "fields" in body else {body.get("field"): body.get("value")}
    if not isinstance(fields, Mapping) or not fields or None in fields:
        raise ControlError(400, 'give {"fields": {name: value}} or {"field": name, "value": value}')
    prof = tenant.schema.integration
    columns = prof.columns
    changes: dict[str, Any] = {}
    for name, value in fields.items():
        if not isinstance(name, str) or name not in columns:
            raise ControlError(
                400, f"unknown integration field {name!r} (known: {', '.join(sorted(columns))})"
            )
        if name == "instance":
            if not isinstance(value, str) or value not in prof.instance_values:
                raise ControlError(400, f"instance must be one of {', '.join(prof.instance_values)}")
            value = prof.instance_values[value]
        elif name in INTEGRATION_OPTIONS and not isinstance(value, bool):
            raise ControlError(400, f"{name} must be true or false")
        changes[columns[name]] = value
    with tenant.org.lock:
        rows = tenant.org.rows(prof.table)
        if rows:
            return tenant.org.update(prof.table, rows[0][prof.id_column], changes)
        return tenant.org.insert(prof.table, changes)


async def set_settings(sandbox: SandboxState, request: Request) -> Any:
    """Set fields (``technician_id``, ``sso_id``, ``auth_code``) of a user's settings row."""
    tenant = _tenant(sandbox, request)
    body = await _body(request)
    prof = tenant.schema.technician_settings
    columns = prof.columns
    unknown = sorted(set(body) - set(columns))
    if unknown or not body:
        raise ControlError(400, f"settings fields are {', '.join(sorted(columns))}; got {unknown or 'none'}")
    changes = {columns[k]: v for k, v in body.items()}
    with tenant.org.lock:
        user_id = _user_id(tenant, request.path_params["user"])
        rows = tenant.org.find(prof.table, prof.user_value_column, user_id)
        if rows:
            return tenant.org.update(prof.table, rows[0][prof.id_column], changes)
        return tenant.org.insert(prof.table, {prof.user_value_column: user_id, **changes})


async def delete_settings(sandbox: SandboxState, request: Request) -> Any:
    """Delete a user's settings row, or clear one field of it (``/settings/<user>/<field>``)."""
    tenant = _tenant(sandbox, request)
    prof = tenant.schema.technician_settings
    field = request.path_params.get("field")
    columns = prof.columns
    if field is not None and field not in columns:
        raise ControlError(400, f"settings fields are {', '.join(sorted(columns))}")
    with tenant.org.lock:
        user_id = _user_id(tenant, request.path_params["user"])
        rows = tenant.org.find(prof.table, prof.user_value_column, user_id)
        if not rows:
            raise ControlError(404, f"{request.path_params['user']} has no settings row")
        row_id = rows[0][prof.id_column]
        if field is None:
            tenant.org.delete(prof.table, row_id)
            return {"deleted": row_id}
        return tenant.org.update(prof.table, row_id, {columns[field]: None})


def _app_user_and_role(tenant: SandboxTenant, role_name: str) -> tuple[str, str]:
    app_id = tenant.schema.app_id
    users = tenant.org.find("systemuser", "applicationid", app_id)
    if not users:
        raise ControlError(404, f"the application user {app_id} does not exist")
    user = users[0]
    roles = [
        r
        for r in tenant.org.find("role", "name", role_name)
        if r["_businessunitid_value"] == user["_businessunitid_value"]
    ]
    if not roles:
        raise ControlError(404, f"no role {role_name!r} in the application user's business unit")
    return str(user["systemuserid"]), str(roles[0]["roleid"])


async def add_app_role(sandbox: SandboxState, request: Request) -> Any:
    tenant = _tenant(sandbox, request)
    role = str((await _body(request)).get("role") or tenant.schema.app_role)
    with tenant.org.lock:
        user_id, role_id = _app_user_and_role(tenant, role)
        tenant.org.associate(RELATIONSHIP_USER_ROLES, user_id, role_id)
    return {"user": user_id, "role": role_id, "associated": True}


async def remove_app_role(sandbox: SandboxState, request: Request) -> Any:
    tenant = _tenant(sandbox, request)
    with tenant.org.lock:
        user_id, role_id = _app_user_and_role(tenant, request.path_params["role"])
        tenant.org.disassociate(RELATIONSHIP_USER_ROLES, user_id, role_id)
    return {"user": user_id, "role": role_id, "associated": False}


async def delete_app_user(sandbox: SandboxState, request: Request) -> Any:
    """Remove the LogMeIn integration's application user: its sessions then stop arriving."""
    tenant = _tenant(sandbox, request)
    app_id = tenant.schema.app_id
    with tenant.org.lock:
        users = tenant.org.find("systemuser", "applicationid", app_id)
        if not users:
            raise ControlError(404, f"the application user {app_id} does not exist")
        user_id = users[0]["systemuserid"]
        tenant.org.delete("systemuser", user_id)
    return {"deleted": user_id}


async def set_session_key(sandbox: SandboxState, request: Request) -> Any:
    """``{"status": "Failed", "error": "..."}``: Failed/Pending leave a failed index job."""
    tenant = _tenant(sandbox, request)
    body = await _body(request)
    status = body.get("status")
    if status not in ("Active", "Pending", "InProgress", "Failed"):
        raise ControlError(400, "status must be Active, Pending, InProgress or Failed")
    session = tenant.schema.session
    tenant.org.set_key_status(session.table, session.key_logical_name, status, body.get("error"))
    state = tenant.org.key_status(session.table, session.key_logical_name)
    return {"status": state.status, "async_job": state.async_job}


def _reconciler_user(tenant: SandboxTenant) -> dict[str, Any]:
    users = tenant.org.find("systemuser", "applicationid", tenant.client.client_id)
    if not users:
        raise ControlError(404, f"the reconciler's app {tenant.client.client_id} has no application user")
    return users[0]


async def remove_privilege(sandbox: SandboxState, request: Request) -> Any:
    """Take a privilege from every role of the reconciler's application user."""
    tenant = _tenant(sandbox, request)
    privilege = request.path_params["privilege"]
    with tenant.org.lock:
        roles = security.user_roles(tenant.org, _reconciler_user(tenant)["systemuserid"])
        for role in roles:
            tenant.org.role_privileges.get(str(role["name"]), set()).discard(privilege)
    return {"privilege": privilege, "removed_from": sorted({str(r["name"]) for r in roles})}


async def add_privilege(sandbox: SandboxState, request: Request) -> Any:
    """``{"privilege": "prvReadUser", "role": name?}`` (default: the user's first role)."""
    tenant = _tenant(sandbox, request)
    body = await _body(request)
    privilege = str(body.get("privilege") or "")
    with tenant.org.lock:
        if privilege not in security.all_privileges(tenant.org):
            raise ControlError(400, f"unknown privilege {privilege!r}")
        roles = security.user_roles(tenant.org, _reconciler_user(tenant)["systemuserid"])
        role = str(body.get("role") or (roles[0]["name"] if roles else ""))
        if not role:
            raise ControlError(409, "the reconciler's application user has no role")
        tenant.org.role_privileges.setdefault(role, set()).add(privilege)
    return {"privilege": privilege, "role": role}


async def set_reconciler_user(sandbox: SandboxState, request: Request) -> Any:
    """``{"isdisabled": true}``: disable (or enable) the reconciler's application user."""
    tenant = _tenant(sandbox, request)
    body = await _body(request)
    if set(body) != {"isdisabled"} or not isinstance(body["isdisabled"], bool):
        raise ControlError(400, 'give {"isdisabled": true|false}')
    with tenant.org.lock:
        user = _reconciler_user(tenant)
        return tenant.org.update("systemuser", user["systemuserid"], {"isdisabled": body["isdisabled"]})


async def delete_reconciler_user(sandbox: SandboxState, request: Request) -> Any:
    """Remove the reconciler's application user: its tokens are then refused (not a member)."""
    tenant = _tenant(sandbox, request)
    with tenant.org.lock:
        user_id = _reconciler_user(tenant)["systemuserid"]
        tenant.org.delete("systemuser", user_id)
    return {"deleted": user_id}


# -- Rescue, as a person in the Admin Center ----------------------------------------------------


def _technician(tenant: SandboxTenant, email: str) -> Node:
    node = tenant.rescue.user_by_email(email)
    if node is None or node.type != "Technician":
        raise ControlError(404, f"no Rescue technician with email {email!r}")
    return node


async def patch_technician(sandbox: SandboxState, request: Request) -> Any:
    """``{"ssoid": "x", "status": "Online", "name": "...", "enabled": true}``."""
    tenant = _tenant(sandbox, request)
    body = await _body(request)
    allowed = {"ssoid", "status", "name", "enabled"}
    if not body or set(body) - allowed:
        raise ControlError(400, f"technician fields are {', '.join(sorted(allowed))}")
    with tenant.rescue.lock:
        node = _technician(tenant, request.path_params["email"])
        if "status" in body and body["status"] not in ("Offline", "Online", "Busy", "Away"):
            raise ControlError(400, "status must be Offline, Online, Busy or Away")
        node.ssoid = str(body.get("ssoid", node.ssoid))
        node.presence = str(body.get("status", node.presence))
        node.name = str(body.get("name", node.name))
        node.enabled = bool(body.get("enabled", node.enabled))
        return {"node_id": node.node_id, "ssoid": node.ssoid, "status": node.status, "name": node.name}


def _groups(tenant: SandboxTenant) -> list[dict[str, Any]]:
    company = tenant.rescue
    with company.lock:
        return [
            {"path": company.path_of(n), "node_id": n.node_id, "export": n.export}
            for n in company.walk(company.technicians_id)
            if n.is_group
        ]


async def list_groups(sandbox: SandboxState, request: Request) -> Any:
    return {"groups": _groups(_tenant(sandbox, request))}


def _group(tenant: SandboxTenant, path: Any) -> Node:
    if not isinstance(path, str) or not path.strip("/"):
        raise ControlError(400, 'give the group\'s "path" below the Technicians root, e.g. "Support/Tier 1"')
    group = tenant.rescue.group_by_path(path)
    if group is None:
        raise ControlError(404, f"no technician group {path!r}")
    return group


async def set_export(sandbox: SandboxState, request: Request) -> Any:
    """``{"path": "Support/Tier 2", "export": {url, at_session_start, at_session_end, format},
    "apply_to_subgroups": false}``."""
    tenant = _tenant(sandbox, request)
    body = await _body(request)
    export = body.get("export")
    if not isinstance(export, Mapping) or not export.get("url") or set(export) - _EXPORT_KEYS:
        raise ControlError(400, f"export needs a url and may hold {', '.join(sorted(_EXPORT_KEYS))}")
    if export.get("format", "form") not in ("form", "xml"):
        raise ControlError(400, "export format is form or xml")
    settings = {"at_session_start": False, "at_session_end": True, "format": "form"} | dict(export)
    with tenant.rescue.lock:
        group = _group(tenant, body.get("path"))
        targets = list(tenant.rescue.walk(group.node_id)) if body.get("apply_to_subgroups") else [group]
        for node in targets:
            if node.is_group:
                node.export = dict(settings)
    return {"groups": _groups(tenant)}


async def clear_export(sandbox: SandboxState, request: Request) -> Any:
    tenant = _tenant(sandbox, request)
    with tenant.rescue.lock:
        group = _group(tenant, request.query_params.get("path"))
        group.export = None
    return {"groups": _groups(tenant)}


async def simulate_pin(sandbox: SandboxState, request: Request) -> Any:
    """The integration's PIN request for a technician: creates the user's settings row first."""
    tenant = _tenant(sandbox, request)
    body = await _body(request)
    technician = _technician(tenant, str(body.get("email", "")))
    with tenant.org.lock:
        domainname = technician.email
        if not tenant.org.find("systemuser", "domainname", domainname):
            by_mail = tenant.org.find("systemuser", "internalemailaddress", technician.email)
            domainname = str(by_mail[0]["domainname"]) if by_mail else ""
        created = tenant.org.record_pin_request(domainname, str(technician.node_id)) if domainname else None
    try:
        result = {
            "status": "OK",
            "pincode": tenant.rescue.request_pin(technician, str(body.get("notechconsole", 1))),
        }
    except RescueStatus as status:
        result = {"status": status.token}
    return result | {"settings_row_created": created is not None}


# -- identity -----------------------------------------------------------------------------------


async def federated_token(sandbox: SandboxState, request: Request) -> Any:
    tenant = _tenant(sandbox, request)
    try:
        return {"token": sandbox.identity.mint_federated_token(tenant.name)}
    except KeyError as exc:
        raise ControlError(404, str(exc.args[0])) from None


async def grant_consent(sandbox: SandboxState, request: Request) -> Any:
    tenant = _tenant(sandbox, request)
    body = await _body(request)
    app_id = str(body.get("app_id") or tenant.schema.app_id).lower()
    principals = tenant.identity.service_principals
    if not any(sp.app_id.lower() == app_id for sp in principals):
        principals.append(ServicePrincipal(str(uuid.uuid4()), app_id, str(body.get("display_name", ""))))
    return {"service_principals": [sp.__dict__ for sp in principals]}


async def revoke_consent(sandbox: SandboxState, request: Request) -> Any:
    tenant = _tenant(sandbox, request)
    app_id = request.path_params["app_id"].lower()
    principals = tenant.identity.service_principals
    principals[:] = [sp for sp in principals if sp.app_id.lower() != app_id]
    return {"service_principals": [sp.__dict__ for sp in principals]}


async def revoke_graph_permission(sandbox: SandboxState, request: Request) -> Any:
    """An admin removes a Graph application permission (or its consent) from the reconciler's
    app: its group member reads are then refused (403 Authorization_RequestDenied)."""
    tenant = _tenant(sandbox, request)
    permission = request.path_params["permission"]
    granted = tenant.identity.directory.app_permissions.setdefault(tenant.client.client_id.lower(), [])
    granted[:] = [p for p in granted if p.casefold() != permission.casefold()]
    return {"graph_permissions": list(granted)}


async def grant_graph_permission(sandbox: SandboxState, request: Request) -> Any:
    """``{"permission": "GroupMember.Read.All"}``: granted to the reconciler's app, with consent."""
    tenant = _tenant(sandbox, request)
    permission = str((await _body(request)).get("permission") or "")
    if not permission:
        raise ControlError(400, 'give {"permission": "<Graph application permission>"}')
    granted = tenant.identity.directory.app_permissions.setdefault(tenant.client.client_id.lower(), [])
    if permission not in granted:
        granted.append(permission)
    return {"graph_permissions": list(granted)}


# -- the integration's traffic: sessions, and the clock they run on ---------------------------


async def run_sessions(sandbox: SandboxState, request: Request) -> Any:
    """``{"technician": email | "group": path, "count": 3, "minutes": 20, "every_minutes": 60,
    "ended_minutes_ago": 1}``: sessions end and the integration delivers each, or not."""
    tenant = _tenant(sandbox, request)
    done = traffic.session_spec(tenant, await _body(request), "sessions")
    return {"sessions": [traffic.describe(s, tenant) for s in done]}


async def list_sessions(sandbox: SandboxState, request: Request) -> Any:
    """Every session with what became of its post (``delivery``): the cause nobody else sees."""
    tenant = _tenant(sandbox, request)
    with tenant.rescue.lock:
        return {"sessions": [traffic.describe(s, tenant) for s in tenant.rescue.book.sessions]}


async def advance_clock(sandbox: SandboxState, request: Request) -> Any:
    """``{"seconds": 61}``: time passes for the Rescue company (report limits, session times)."""
    tenant = _tenant(sandbox, request)
    seconds = (await _body(request)).get("seconds")
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or seconds <= 0:
        raise ControlError(400, 'give {"seconds": N} with N > 0 (the clock only moves forward)')
    with tenant.rescue.lock:
        tenant.rescue.clock_offset += float(seconds)
        return {"clock_offset": tenant.rescue.clock_offset}


def create_controls_app(sandbox: SandboxState) -> Starlette:
    """The controls app, mounted at ``/_sandbox``."""
    t = "/tenants/{tenant}"

    def route(path: str, handler: Handler, method: str) -> Route:
        return Route(path, _endpoint(sandbox, handler), methods=[method])

    return Starlette(
        routes=[
            route("/faults", get_faults, "GET"),
            route("/faults", set_faults, "POST"),
            route("/faults", clear_faults, "DELETE"),
            route("/requests", get_requests, "GET"),
            route("/requests", reset_requests, "DELETE"),
            route("/save", save, "POST"),
            route("/tenants", list_tenants, "GET"),
            route(f"{t}/state", dump_state, "GET"),
            route(f"{t}/dynamics/integration", set_integration, "PATCH"),
            route(f"{t}/dynamics/settings/{{user}}", set_settings, "PATCH"),
            route(f"{t}/dynamics/settings/{{user}}", delete_settings, "DELETE"),
            route(f"{t}/dynamics/settings/{{user}}/{{field}}", delete_settings, "DELETE"),
            route(f"{t}/dynamics/application-user", delete_app_user, "DELETE"),
            route(f"{t}/dynamics/application-user/roles", add_app_role, "POST"),
            route(f"{t}/dynamics/application-user/roles/{{role}}", remove_app_role, "DELETE"),
            route(f"{t}/dynamics/session-key", set_session_key, "POST"),
            route(f"{t}/dynamics/privileges", add_privilege, "POST"),
            route(f"{t}/dynamics/privileges/{{privilege}}", remove_privilege, "DELETE"),
            route(f"{t}/dynamics/reconciler-user", set_reconciler_user, "PATCH"),
            route(f"{t}/dynamics/reconciler-user", delete_reconciler_user, "DELETE"),
            route(f"{t}/rescue/technicians/{{email}}", patch_technician, "PATCH"),
            route(f"{t}/rescue/groups", list_groups, "GET"),
            route(f"{t}/rescue/groups/export", set_export, "PUT"),
            route(f"{t}/rescue/groups/export", clear_export, "DELETE"),
            route(f"{t}/rescue/pin", simulate_pin, "POST"),
            route(f"{t}/federated-token", federated_token, "POST"),
            route(f"{t}/identity/service-principals", grant_consent, "POST"),
            route(f"{t}/identity/service-principals/{{app_id}}", revoke_consent, "DELETE"),
            route(f"{t}/identity/graph-permissions", grant_graph_permission, "POST"),
            route(f"{t}/identity/graph-permissions/{{permission}}", revoke_graph_permission, "DELETE"),
            route(f"{t}/rescue/sessions", run_sessions, "POST"),
            route(f"{t}/rescue/sessions", list_sessions, "GET"),
            route(f"{t}/rescue/clock", advance_clock, "POST"),
        ]
    )
