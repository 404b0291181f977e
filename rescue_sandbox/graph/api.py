"""A minimal Microsoft Graph emulator: read the service principals of a tenant, and the
transitive members of a group (technicians by rule).

The ``consent`` resource kind checks that the LogMeIn app has a service principal in the
customer's tenant (admin consent creates it). Graph answers
``GET /v1.0/servicePrincipals?$filter=appId eq '<guid>'&$select=id,appId,displayName`` and the
alternate-key form ``/v1.0/servicePrincipals(appId='<guid>')``; the tenant is the token's ``tid``.
Reading service principals needs no permission here (Application.Read.All is not emulated).

``GET /v1.0/groups/{id}/transitiveMembers[/microsoft.graph.user]`` lists every member below a
group, nested groups flattened, in pages (default 100, ``$top`` 1..999) linked by an
``@odata.nextLink`` with an opaque ``$skiptoken``. It needs one of ``MEMBER_PERMISSIONS`` among
the calling app's seeded Graph permissions (403 ``Authorization_RequestDenied`` otherwise).
Facts and sources: docs/sandbox.md ("Microsoft Graph: group members").
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from rescue_sandbox.entra.directory import DirectoryGroup, DirectoryUser
from rescue_sandbox.entra.identity import GRAPH_RESOURCE, IdentityService
from rescue_sandbox.entra.tenant import IdentityTenant, ServicePrincipal

# Application permissions that allow listing a group's members (least privileged first).
MEMBER_PERMISSIONS = frozenset(
    {
        "GroupMember.Read.All",
        "Group.Read.All",
        "Directory.Read.All",
        "GroupMember.ReadWrite.All",
        "Group.ReadWrite.All",
        "Directory.ReadWrite.All",
    }
)
DEFAULT_PAGE = 100
MAX_PAGE = 999
_CASTS = {
    "microsoft.graph.user",
    "microsoft.graph.group",
    "microsoft.graph.device",
    "microsoft.graph.servicePrincipal",
    "microsoft.graph.orgContact",
}
_MEMBER_OPTIONS = {"$select", "$top", "$skiptoken"}
_USER_PROPERTIES: dict[str, Callable[[DirectoryUser], Any]] = {
    "id": lambda u: u.id,
    "userPrincipalName": lambda u: u.upn,
    "mail": lambda u: u.mail,
    "displayName": lambda u: u.display_name,
    "accountEnabled": lambda u: u.account_enabled,
}
_GROUP_PROPERTIES: dict[str, Callable[[DirectoryGroup], Any]] = {
    "id": lambda g: g.id,
    "displayName": lambda g: g.display_name,
}


@dataclass(frozen=True)
class _Page:
    """Where a listing continues: kept server-side, the client sees only an opaque token."""

    tenant: str
    group: str
    cast: str
    select: tuple[str, ...]
    top: int
    offset: int


_PROPERTIES: dict[str, Callable[[ServicePrincipal], Any]] = {
    "id": lambda sp: sp.id,
    "appId": lambda sp: sp.app_id,
    "displayName": lambda sp: sp.display_name,
    "accountEnabled": lambda sp: True,
    "servicePrincipalType": lambda sp: "Application",
}
_FILTER = re.compile(r"^\s*(appId|displayName|id)\s+eq\s+'((?:[^']|'')*)'\s*$")
_BY_APP_ID = re.compile(r"^servicePrincipals\(appId='([^']*)'\)$")


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse(
        {
            "error": {
                "code": code,
                "message": message,
                "innerError": {
                    "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S"),
                    "request-id": str(uuid.uuid4()),
                    "client-request-id": str(uuid.uuid4()),
                },
            }
        },
        status_code=status,
    )


def _select(request: Request, known: Mapping[str, Any], type_name: str) -> tuple[str, ...] | JSONResponse:
    """The ``$select`` names, or Graph's 400 for the first unknown one."""
    select = tuple(s.strip() for s in request.query_params.get("$select", "").split(",") if s.strip())
    unknown = [s for s in select if s not in known]
    if unknown:
        return _error(
            400,
            "Request_BadRequest",
            f"Could not find a property named '{unknown[0]}' on type '{type_name}'.",
        )
    return select


def _render(sp: ServicePrincipal, select: list[str]) -> dict[str, Any]:
    return {name: _PROPERTIES[name](sp) for name in select}


class GraphService:
    """Serves ``/graph/v1.0/...`` for every sandbox tenant."""

    def __init__(self, identity: IdentityService, base_url: Callable[[], str]) -> None:
        self.identity = identity
        self.base_url = base_url
        self._pages: dict[str, _Page] = {}
        self._lock = threading.Lock()

    def _tenant(self, request: Request) -> IdentityTenant | JSONResponse:
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("bearer ") or not header[7:].strip():
            return _error(401, "InvalidAuthenticationToken", "Access token is empty.")
        try:
            claims = self.identity.verify_token(header[7:].strip())
        except ValueError:
            return _error(401, "InvalidAuthenticationToken", "Access token validation failure.")
        audience = str(claims.get("aud", "")).rstrip("/").lower()
        if audience not in {GRAPH_RESOURCE.lower(), f"{self.base_url()}/graph".lower()}:
            return _error(
                401, "InvalidAuthenticationToken", "Access token validation failure. Invalid audience."
            )
        tenant = self.identity.tenants.get(str(claims.get("tid", "")).lower())
        if tenant is None:
            return _error(401, "InvalidAuthenticationToken", "Access token validation failure.")
        request.state.sandbox_tenant = tenant.name
        request.state.app_id = str(claims.get("appid", "")).lower()
        return tenant

    async def _service_principals(self, request: Request) -> Response:
        tenant = self._tenant(request)
        if isinstance(tenant, JSONResponse):
            return tenant
        chosen = _select(request, _PROPERTIES, "microsoft.graph.servicePrincipal")
        if isinstance(chosen, JSONResponse):
            return chosen
        select = list(chosen) or list(_PROPERTIES)
        found = list(tenant.service_principals)
        query = request.query_params.get("$filter")
        if query is not None:
            match = _FILTER.match(query)
            if match is None:
                return _error(
                    400, "Request_UnsupportedQuery", "Unsupported or invalid query filter clause specified."
                )
            field, value = match.group(1), match.group(2).replace("''", "'")
            if field == "appId":
                found = [sp for sp in found if sp.app_id.lower() == value.lower()]
            elif field == "id":
                found = [sp for sp in found if sp.id.lower() == value.lower()]
            else:
                found = [sp for sp in found if sp.display_name == value]
        context = f"https://graph.microsoft.com/v1.0/$metadata#servicePrincipals({','.join(select)})"
        return JSONResponse({"@odata.context": context, "value": [_render(sp, select) for sp in found]})

    async def _by_key(self, request: Request) -> Response:
        tenant = self._tenant(request)
        if isinstance(tenant, JSONResponse):
            return tenant
        match = _BY_APP_ID.match(request.path_params["segment"])
        if match is None:
            return _error(
                400, "BadRequest", f"Resource not found for the segment '{request.path_params['segment']}'."
            )
        app_id = match.group(1)
        for sp in tenant.service_principals:
            if sp.app_id.lower() == app_id.lower():
                return JSONResponse(
                    {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#servicePrincipals/$entity"}
                    | _render(sp, list(_PROPERTIES))
                )
        return _error(
            404,
            "Request_ResourceNotFound",
            f"Resource '{app_id}' does not exist or one of its queried reference-property objects are not present.",
        )

    async def _transitive_members(self, request: Request) -> Response:
        tenant = self._tenant(request)
        if isinstance(tenant, JSONResponse):
            return tenant
        granted = set(tenant.directory.app_permissions.get(request.state.app_id, ()))
        if not granted & MEMBER_PERMISSIONS:
            return _error(
                403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."
            )
        group_id = request.path_params["group"].lower()
        cast = request.path_params.get("cast", "")
        if cast and cast not in _CASTS:
            return _error(400, "Request_UnsupportedQuery", f"The type cast '{cast}' is not supported.")
        if group_id not in tenant.directory.groups:
            return _error(
                404,
                "Request_ResourceNotFound",
                f"Resource '{request.path_params['group']}' does not exist or one of its queried "
                "reference-property objects are not present.",
            )
        unsupported = sorted(set(request.query_params) - _MEMBER_OPTIONS)
        if unsupported:
            return _error(400, "Request_UnsupportedQuery", f"Unsupported query option '{unsupported[0]}'.")
        token = request.query_params.get("$skiptoken")
        if token is not None:
            with self._lock:
                page = self._pages.get(token)
            if page is None or page.tenant != tenant.name or page.group != group_id or page.cast != cast:
                return _error(
                    400,
                    "Directory_ExpiredPageToken",
                    "The specified page token value has expired and can no longer be included in your request.",
                )
        else:
            parsed = self._member_query(request)
            if isinstance(parsed, JSONResponse):
                return parsed
            select, top = parsed
            page = _Page(tenant.name, group_id, cast, select, top, 0)
        members = self._members(tenant, group_id, cast)
        chunk = members[page.offset : page.offset + page.top]
        body: dict[str, Any] = {
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#"
            + ("users" if cast == "microsoft.graph.user" else "directoryObjects")
            + (f"({','.join(page.select)})" if page.select else ""),
            "value": [self._member(m, page.select, typed=not cast) for m in chunk],
        }
        if page.offset + page.top < len(members):
            following = secrets.token_urlsafe(24)
            with self._lock:
                self._pages[following] = _Page(
                    page.tenant, page.group, page.cast, page.select, page.top, page.offset + page.top
                )
            path = f"{self.base_url()}/graph/v1.0/groups/{group_id}/transitiveMembers" + (
                f"/{cast}" if cast else ""
            )
            query = (f"$select={','.join(page.select)}&" if page.select else "") + f"$top={page.top}"
            body["@odata.nextLink"] = f"{path}?{query}&$skiptoken={following}"
        return JSONResponse(body)

    def _member_query(self, request: Request) -> tuple[tuple[str, ...], int] | JSONResponse:
        select = _select(request, _USER_PROPERTIES, "microsoft.graph.directoryObject")
        if isinstance(select, JSONResponse):
            return select
        raw_top = request.query_params.get("$top")
        top = DEFAULT_PAGE
        if raw_top is not None:
            top = int(raw_top) if raw_top.isdigit() else 0
            if not 1 <= top <= MAX_PAGE:
                return _error(
                    400,
                    "Request_BadRequest",
                    f"Invalid page size specified: '{raw_top}'. Must be between 1 and {MAX_PAGE} inclusive.",
                )
        return select, top

    @staticmethod
    def _members(tenant: IdentityTenant, group_id: str, cast: str) -> list[DirectoryUser | DirectoryGroup]:
        directory = tenant.directory
        users: list[DirectoryUser | DirectoryGroup] = list(directory.transitive_users(group_id))
        if cast == "microsoft.graph.user":
            return users
        nested = [g for g in directory.groups.values() if g.id.lower() != group_id]
        below = {g.id.lower() for g in nested if _is_below(tenant, g.id.lower(), group_id)}
        groups: list[DirectoryUser | DirectoryGroup] = [g for g in nested if g.id.lower() in below]
        if cast == "microsoft.graph.group":
            return groups
        return [] if cast else users + groups

    @staticmethod
    def _member(
        member: DirectoryUser | DirectoryGroup, select: tuple[str, ...], *, typed: bool
    ) -> dict[str, Any]:
        if isinstance(member, DirectoryUser):
            props: Mapping[str, Callable[[Any], Any]] = _USER_PROPERTIES
            kind = "#microsoft.graph.user"
        else:
            props = _GROUP_PROPERTIES
            kind = "#microsoft.graph.group"
        names = select or tuple(props)
        out: dict[str, Any] = {"@odata.type": kind} if typed else {}
        out.update({n: props[n](member) if n in props else None for n in names})
        return out

    def app(self) -> Starlette:
        """The ASGI app, mounted at ``/graph``."""
        return Starlette(
            routes=[
                Route("/v1.0/servicePrincipals", self._service_principals, methods=["GET"]),
                Route("/v1.0/groups/{group}/transitiveMembers", self._transitive_members, methods=["GET"]),
                Route(
                    "/v1.0/groups/{group}/transitiveMembers/{cast}", self._transitive_members, methods=["GET"]
                ),
                Route("/v1.0/{segment}", self._by_key, methods=["GET"]),
            ]
        )


def _is_below(tenant: IdentityTenant, candidate: str, root: str) -> bool:
    """Whether group ``candidate`` is nested (at any depth) in group ``root``."""
    groups = tenant.directory.groups
    seen: set[str] = set()
    stack = [root]
    while stack:
        gid = stack.pop()
        if gid in seen or gid not in groups:
            continue
        seen.add(gid)
        children = [g.lower() for g in groups[gid].groups]
        if candidate in children:
            return True
        stack.extend(children)
    return False
