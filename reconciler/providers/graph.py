"""A minimal Microsoft Graph client: is the LogMeIn app's service principal in the tenant (consent)?

Same policy as the Dataverse client (retries, typed errors, counted requests under service
"graph"); it only reads, so every request is safe to repeat. The bearer token comes from an
``MsalTokenProvider`` with the Graph scope (``https://graph.microsoft.com/.default``, or the
sandbox's graph URL + ``/.default``).
"""

from __future__ import annotations

import asyncio
import re
import ssl
from types import TracebackType
from typing import Any, Self

import httpx

from reconciler.errors import AuthError, InputError, ProtocolError, ProviderError
from reconciler.providers.dynamics.auth import TokenProvider
from reconciler.providers.http import (
    ClientSettings,
    RequestStats,
    Retrier,
    Timing,
    api_error,
    encode_query,
    error_payload,
    require_https,
)

SERVICE = "graph"
DEFAULT_GRAPH_URL = "https://graph.microsoft.com"

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


class GraphClient:
    """Async Microsoft Graph client (``/v1.0``) for the consent check."""

    def __init__(
        self,
        graph_url: str = DEFAULT_GRAPH_URL,
        *,
        tokens: TokenProvider,
        ssl_context: ssl.SSLContext,
        settings: ClientSettings,
        stats: RequestStats,
        tenant: str,
        transport: httpx.AsyncBaseTransport | None = None,
        timing: Timing | None = None,
    ) -> None:
        self.graph_url = require_https(graph_url, setting="graph_url")
        self.tenant = tenant
        self.settings = settings
        self._tokens = tokens
        self._ssl_context = ssl_context
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._semaphore = asyncio.Semaphore(settings.max_concurrency)
        self._retrier = Retrier(
            service=SERVICE, tenant=tenant, settings=settings, stats=stats, timing=timing or Timing()
        )

    async def __aenter__(self) -> Self:
        self._client = httpx.AsyncClient(
            verify=self._ssl_context,
            timeout=self.settings.timeout,
            transport=self._transport,
            trust_env=False,
            follow_redirects=False,
        )
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _get(self, path: str, params: dict[str, str], template: str) -> dict[str, Any]:
        client = self._client
        if client is None:
            raise RuntimeError("GraphClient used outside 'async with'")
        url = f"{self.graph_url}/{path}?{encode_query(params)}"

        async def attempt() -> httpx.Response:
            token = await self._tokens.token()
            headers = {"Accept": "application/json", "Authorization": f"Bearer {token}"}
            async with self._semaphore:
                return await client.send(client.build_request("GET", url, headers=headers))

        response = await self._retrier.send(attempt, method="GET", template=template, idempotent=True)
        where = f"GET {template}"
        if not response.is_success:
            raise self._error(response, where)
        try:
            data = response.json()
        except ValueError as exc:
            raise ProtocolError(
                f"{where}: the reply is not JSON", service=SERVICE, tenant=self.tenant
            ) from exc
        if not isinstance(data, dict):
            raise ProtocolError(
                f"{where}: the reply is not a JSON object", service=SERVICE, tenant=self.tenant
            )
        return data

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
