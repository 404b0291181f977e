"""A minimal Microsoft Graph client: is the LogMeIn app's service principal in the tenant (consent)?

Same policy as the Dataverse client (retries, typed errors, counted requests under service
"graph"); it only reads, so every request is safe to repeat. The bearer token comes from an
``MsalTokenProvider`` with the Graph scope (``https://graph.microsoft.com/.default``, or the
sandbox's graph URL + ``/.default``).
"""

from __future__ import annotations

import re
from typing import Any, Unpack

import httpx

from reconciler.errors import AuthError, InputError, ProtocolError, ProviderError
from reconciler.providers.base import ApiClient, ClientOptions
from reconciler.providers.entra import TokenProvider
from reconciler.providers.http import (
    api_error,
    encode_query,
    error_payload,
    require_https,
)

SERVICE = "graph"
DEFAULT_GRAPH_URL = "https://graph.microsoft.com"

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


class GraphClient(ApiClient):
    """Async Microsoft Graph client (``/v1.0``) for the consent check."""

    def __init__(
        self, graph_url: str = DEFAULT_GRAPH_URL, *, tokens: TokenProvider, **options: Unpack[ClientOptions]
    ) -> None:
        self.graph_url = require_https(graph_url, setting="graph_url")
        super().__init__(SERVICE, tokens, **options)

    async def _get(self, path: str, params: dict[str, str], template: str) -> dict[str, Any]:
        url = f"{self.graph_url}/{path}?{encode_query(params)}"
        response = await self._exchange(
            "GET", url, template=template, idempotent=True, headers={"Accept": "application/json"}
        )
        where = f"GET {template}"
        if not response.is_success:
            raise self._error(response, where)
        return self._json(response, where)

    def _error(self, response: httpx.Response, where: str) -> ProviderError:
        code, message = error_payload(response)
        status = response.status_code
        if status == 401:
            return AuthError(
                f"{where}: Microsoft Graph refused the access token (HTTP 401): check "
                "connection.dynamics.tenant_id, client_id and credential",
                service=SERVICE,
                tenant=self.tenant,
            )
        if status == 403:
            return api_error(
                status,
                code,
                f"{message} (the consent check needs the Graph application permission "
                "Application.Read.All granted to the reconciler's app registration)",
                where=where,
                service=SERVICE,
                tenant=self.tenant,
            )
        return api_error(status, code, message, where=where, service=SERVICE, tenant=self.tenant)

    async def find_service_principal(self, app_id: str) -> dict[str, Any] | None:
        """The service principal of ``app_id`` (id, appId, displayName), or None when not consented."""
        if not _GUID.match(app_id):
            raise InputError(f"application ID {app_id!r} is not a GUID")
        params = {"$filter": f"appId eq '{app_id.lower()}'", "$select": "id,appId,displayName"}
        data = await self._get("v1.0/servicePrincipals", params, "v1.0/servicePrincipals")
        value = data.get("value")
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise ProtocolError(
                "GET v1.0/servicePrincipals: the reply has no 'value' list",
                service=SERVICE,
                tenant=self.tenant,
            )
        if len(value) > 1:
            raise ProtocolError(
                f"GET v1.0/servicePrincipals: {len(value)} service principals for one appId",
                service=SERVICE,
                tenant=self.tenant,
            )
        return value[0] if value else None
