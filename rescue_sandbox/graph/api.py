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
An OData cast (``microsoft.graph.user`` or its alias ``graph.user``) is an advanced query: served
only with ``ConsistencyLevel: eventual`` and ``$count=true`` on every page, nextLink pages
included. A user member comes with its properties only when the app may read users
(``USER_PERMISSIONS``); otherwise with ``id`` and ``@odata.type`` alone, the rest null.
Facts and sources: docs/sandbox.md ("Microsoft Graph: group members", "Microsoft Graph: advanced
queries and members with limited information").
"""

from __future__ import annotations

import dataclasses
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
# Application permissions that let an app read users' properties. Without one, Graph lists a
# user member with limited information (id and @odata.type, every other property null).
# User.ReadBasic.All is left out on purpose: that it unlocks members for an app is unverified.
USER_PERMISSIONS = frozenset(
    {"User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
)
DEFAULT_PAGE = 100
MAX_PAGE = 999
_CAST_TYPES = {"user", "group", "device", "servicePrincipal", "orgContact"}
# Graph's CSDL declares the namespace ``microsoft.graph`` with the alias ``graph``: a cast may be
# qualified by either (msgraph-sdk's URL templates use the alias).
_NAMESPACES = ("microsoft.graph.", "graph.")
_MEMBER_OPTIONS = {"$select", "$top", "$skiptoken", "$count"}
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
    count: bool  # the request asked $count=true: the link keeps it (the header it cannot keep)


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
        segment = request.path_params.get("cast", "")
        cast = _cast(segment) if segment else ""
        if cast is None:
            return _error(400, "Request_UnsupportedQuery", f"The type cast '{segment}' is not supported.")
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
        count = _count(request)
        if isinstance(count, JSONResponse):
            return count
        eventual = request.headers.get("consistencylevel", "").strip() == "eventual"
        if cast and not (eventual and count):
            # An OData cast is an advanced query: the header and $count=true, on every page (a
            # nextLink carries $count, never the header).
            return _error(400, "Request_UnsupportedQuery", "Invalid search request.")
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
            page = _Page(tenant.name, group_id, cast, select, top, 0, count)
        readable = bool(granted & USER_PERMISSIONS)
        members = self._members(tenant, group_id, page.cast)
        chunk = members[page.offset : page.offset + page.top]
        body: dict[str, Any] = {
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#"
            + ("users" if page.cast == "microsoft.graph.user" else "directoryObjects")
            + (f"({','.join(page.select)})" if page.select else ""),
        }
        if count and eventual and page.offset == 0:  # without the header $count is ignored
            body["@odata.count"] = len(members)
        body["value"] = [self._member(m, page.select, typed=not page.cast, readable=readable) for m in chunk]
        if page.offset + page.top < len(members):
            following = secrets.token_urlsafe(24)
            with self._lock:
                self._pages[following] = dataclasses.replace(page, offset=page.offset + page.top)
            path = f"{self.base_url()}/graph/v1.0/groups/{group_id}/transitiveMembers" + (
                f"/{segment}" if segment else ""
            )
            query = (
                (f"$select={','.join(page.select)}&" if page.select else "")
                + ("$count=true&" if page.count else "")
                + f"$top={page.top}"
            )
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
        member: DirectoryUser | DirectoryGroup, select: tuple[str, ...], *, typed: bool, readable: bool
    ) -> dict[str, Any]:
        """One listed object. A user the app may not read is "limited information": its type and
        ID, every other property present as null (permissions overview)."""
        if isinstance(member, DirectoryUser):
            props: Mapping[str, Callable[[Any], Any]] = _USER_PROPERTIES
            kind = "#microsoft.graph.user"
        else:
            props = _GROUP_PROPERTIES
            kind = "#microsoft.graph.group"
        names = select or tuple(props)
        limited = isinstance(member, DirectoryUser) and not readable
        out: dict[str, Any] = {"@odata.type": kind} if typed or limited else {}
        out.update(
            {n: props[n](member) if n in props and (n == "id" or not limited) else None for n in names}
        )
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


def _cast(segment: str) -> str | None:
    """The type a cast segment names, namespace-qualified (``graph.user`` ->
    ``microsoft.graph.user``); None when it names no type a group member can have."""
    for namespace in _NAMESPACES:
        name = segment.removeprefix(namespace)
        if name != segment and name in _CAST_TYPES:
            return f"microsoft.graph.{name}"
    return None


def _count(request: Request) -> bool | JSONResponse:
    """``$count``: true or false as OData spells them (message text unverified)."""
    raw = request.query_params.get("$count")
    if raw is None or raw == "false":
        return False
    if raw == "true":
        return True
    return _error(400, "Request_BadRequest", f"Invalid value '{raw}' for query option '$count'.")


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
