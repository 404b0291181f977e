"""The connection lifecycle and request plumbing that every API client shares.

``ApiClient`` owns what the Dataverse, Rescue and Graph clients would otherwise each write again:
the settings, the TLS context, an optional bearer-token source, the concurrency limit, the
``Retrier`` and the ``httpx.AsyncClient`` opened by ``async with``. A subclass keeps its own public
methods and error wording and sends every request through ``_exchange``, so that each one is
counted, limited and retried the same way, and never follows a redirect or reads proxy settings
from the environment (a bearer token must only ever go to the configured endpoint).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, NotRequired, Self, TypedDict

import httpx

from reconciler.errors import ProtocolError
from reconciler.providers.dynamics.auth import TokenProvider
from reconciler.providers.http import ClientSettings, RequestStats
from reconciler.providers.retry import Retrier, Timing, Verdict
from reconciler.providers.transport import VerifiedAiohttpTransport


class ClientOptions(TypedDict):
    """The keyword arguments every client takes after its endpoint and credential.

    The clients' constructors take ``**options: Unpack[ClientOptions]`` and pass them on to
    ``ApiClient.__init__`` (which gives the defaults), so a caller still writes, and mypy still
    checks, ``ssl_context=..., settings=..., stats=..., tenant=...`` keyword by keyword.
    """

    ssl_context: ssl.SSLContext
    settings: ClientSettings
    stats: RequestStats
    tenant: str
    transport: NotRequired[httpx.AsyncBaseTransport | None]
    timing: NotRequired[Timing | None]


class ApiClient:
    """Base of the API clients: ``async with`` opens the HTTP connection pool, leaving closes it.

    ``tokens``, when given, supplies a fresh ``Authorization: Bearer`` header for every attempt
    (a retry after a long backoff may need a renewed token); without it the subclass puts its own
    credential into the request (Rescue sends the authcode in the form body).
    """

    def __init__(
        self,
        service: str,
        tokens: TokenProvider | None,
        *,
        ssl_context: ssl.SSLContext,
        settings: ClientSettings,
        stats: RequestStats,
        tenant: str,
        transport: httpx.AsyncBaseTransport | None = None,
        timing: Timing | None = None,
    ) -> None:
        self.tenant = tenant
        self.settings = settings
        self._service = service
        self._tokens = tokens
        self._ssl_context = ssl_context
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._semaphore = asyncio.Semaphore(settings.max_concurrency)
        self._retrier = Retrier(
            service=service, tenant=tenant, settings=settings, stats=stats, timing=timing or Timing()
        )

    async def __aenter__(self) -> Self:
        transport = self._transport or VerifiedAiohttpTransport(
            self._ssl_context, max_connections=self.settings.max_concurrency
        )
        self._client = httpx.AsyncClient(
            timeout=self.settings.timeout,
            transport=transport,
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

    async def _exchange(
        self,
        method: str,
        url: str,
        *,
        template: str,
        idempotent: bool,
        headers: Mapping[str, str],
        content: bytes | None = None,
        data: Mapping[str, str] | None = None,
        classify: Callable[[httpx.Response], Verdict | None] | None = None,
    ) -> httpx.Response:
        """Send one logical request through the retry loop; the final response, whatever its status.

        ``template`` names the endpoint in the request counters, logs and errors; ``idempotent``
        and ``classify`` decide what is retried (see ``Retrier.send``).
        """
        client = self._client
        if client is None:
            raise RuntimeError(f"{type(self).__name__} used outside 'async with'")

        async def attempt() -> httpx.Response:
            tokens = self._tokens
            auth = {"Authorization": f"Bearer {await tokens.token()}"} if tokens is not None else {}
            request = client.build_request(
                method, url, content=content, data=data, headers={**headers, **auth}
            )
            async with self._semaphore:
                return await client.send(request)

        try:
            return await self._retrier.send(
                attempt, method=method, template=template, idempotent=idempotent, classify=classify
            )
        except httpx.InvalidURL as exc:
            raise ProtocolError(
                f"{method} {template}: invalid URL", service=self._service, tenant=self.tenant
            ) from exc

    def _json(self, response: httpx.Response, where: str) -> dict[str, Any]:
        """The reply body as a JSON object, or ``ProtocolError`` naming the request."""
        try:
            data = response.json()
        except ValueError as exc:
            raise ProtocolError(
                f"{where}: the reply is not JSON", service=self._service, tenant=self.tenant
            ) from exc
        if not isinstance(data, dict):
            raise ProtocolError(
                f"{where}: the reply is not a JSON object", service=self._service, tenant=self.tenant
            )
        return data
