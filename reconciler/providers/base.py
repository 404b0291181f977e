"""The connection lifecycle and request plumbing that every API client shares.

``ApiClient`` owns what the Dataverse, Rescue and Graph clients would otherwise each write again:
the settings, the TLS context, an optional bearer-token source, the concurrency limit, the
``Retrier`` and the HTTP transport opened by ``async with``. A subclass keeps its own public
methods and error wording and sends every request through ``_exchange``, so that each one is
counted, limited and retried the same way, and never follows a redirect or reads proxy settings
from the environment (a bearer token must only ever go to the configured endpoint).

Requests go to the transport as ``httpx.Request`` and come back as ``httpx.Response``, with no
``httpx.AsyncClient`` in between: its cookie jar, auth flow, redirect and event-hook machinery,
which these clients never use, cost more CPU per request than the rest of our code together
(benchmarks/cpu_per_request_results.md).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, NotRequired, Self, TypedDict

import httpx

from reconciler.errors import ProtocolError
from reconciler.providers.entra import TokenProvider
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
        self._http: httpx.AsyncBaseTransport | None = None
        self._timeouts = httpx.Timeout(settings.timeout).as_dict()
        self._semaphore = asyncio.Semaphore(settings.max_concurrency)
        self._retrier = Retrier(
            service=service, tenant=tenant, settings=settings, stats=stats, timing=timing or Timing()
        )

    async def __aenter__(self) -> Self:
        self._http = self._transport or VerifiedAiohttpTransport(
            self._ssl_context, max_connections=self.settings.max_concurrency
        )
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def _exchange(
        self,
        method: str,
        url: str | httpx.URL,
        *,
        template: str,
        idempotent: bool,
        headers: Mapping[str, str],
        content: bytes | None = None,
        classify: Callable[[httpx.Response], Verdict | None] | None = None,
    ) -> httpx.Response:
        """Send one logical request through the retry loop; the final response, whatever its status.

        ``template`` names the endpoint in the request counters, logs and errors; ``idempotent``
        and ``classify`` decide what is retried (see ``Retrier.send``).
        """
        http = self._http
        if http is None:
            raise RuntimeError(f"{type(self).__name__} used outside 'async with'")
        extensions = {"timeout": self._timeouts}
        tokens = self._tokens

        async def attempt() -> httpx.Response:
            send_headers = (
                {**headers, "Authorization": f"Bearer {await tokens.token()}"}
                if tokens is not None
                else headers
            )
            request = httpx.Request(method, url, content=content, headers=send_headers, extensions=extensions)
            async with self._semaphore:
                response = await http.handle_async_request(request)
                await response.aread()  # the aiohttp transport has read it already; a mock may not
            return response

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
