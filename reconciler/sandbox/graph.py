"""A minimal Microsoft Graph emulator: read the service principals of a tenant.

The ``consent`` resource kind checks that the LogMeIn app has a service principal in the
customer's tenant (admin consent creates it). Graph answers
``GET /v1.0/servicePrincipals?$filter=appId eq '<guid>'&$select=id,appId,displayName`` and the
alternate-key form ``/v1.0/servicePrincipals(appId='<guid>')``; the tenant is the token's ``tid``.
Graph's application permissions (Application.Read.All) are not emulated: any valid Graph token reads.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from reconciler.sandbox.identity import GRAPH_RESOURCE, IdentityService, IdentityTenant, ServicePrincipal

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


def _render(sp: ServicePrincipal, select: list[str]) -> dict[str, Any]:
    return {name: _PROPERTIES[name](sp) for name in select}


class GraphService:
    """Serves ``/graph/v1.0/...`` for every sandbox tenant."""

    def __init__(self, identity: IdentityService, base_url: Callable[[], str]) -> None:
        self.identity = identity
        self.base_url = base_url

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
        return tenant

    async def _service_principals(self, request: Request) -> Response:
        tenant = self._tenant(request)
        if isinstance(tenant, JSONResponse):
            return tenant
        select = [s.strip() for s in request.query_params.get("$select", "").split(",") if s.strip()]
        unknown = [s for s in select if s not in _PROPERTIES]
        if unknown:
            return _error(
                400,
                "Request_BadRequest",
                f"Could not find a property named '{unknown[0]}' on type 'microsoft.graph.servicePrincipal'.",
            )
        select = select or list(_PROPERTIES)
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

    def app(self) -> Starlette:
        """The ASGI app, mounted at ``/graph``."""
        return Starlette(
            routes=[
                Route("/v1.0/servicePrincipals", self._service_principals, methods=["GET"]),
                Route("/v1.0/{segment}", self._by_key, methods=["GET"]),
            ]
        )
