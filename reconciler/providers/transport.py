"""The HTTP transport under every API client: aiohttp behind httpx's API (``httpx-aiohttp``).

httpx's own transport (httpcore on anyio) spends most of a request's CPU in its socket layer;
aiohttp's C-accelerated HTTP parser and streams cost a fraction of it
(benchmarks/cpu_per_request_results.md). The clients keep talking httpx (``httpx.AsyncClient``,
``httpx.Request``/``Response``, httpx's exception types), so the retry loop and the tests see
no difference, with two corrections made here:

- exceptions: ``httpx-aiohttp`` maps a dropped connection (``ServerDisconnectedError``, a
  ``ClientConnectionError``) to ``httpx.ConnectTimeout``, which says "never sent" and would let a
  create be repeated. Here every aiohttp failure maps to the httpx type that tells the truth:
  only a failed connect (including a refused certificate, whose ``ssl`` error stays in the
  ``__cause__`` chain) or a connect/pool timeout is "not sent"; a lost or unreadable reply is a
  ``ReadError``/``ReadTimeout``/``RemoteProtocolError`` (maybe applied).
- TLS and environment: the connector uses the caller's ``ssl.SSLContext`` (verification on,
  the sandbox CA when given), reads no proxy settings and keeps no cookies.
- retries: aiohttp's own silent repeat of an idempotent request is off; ``Retrier`` decides.
"""

from __future__ import annotations

import ssl

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

# An idle connection is dropped after this long, before the server's own idle timeout can close
# it under a request (uvicorn, the sandbox's server, waits 5 s; httpx kept 5 s and also checked
# the socket before each reuse, which aiohttp does not). A reused connection closed by the server
# fails a create as "maybe applied", so stay below the shortest timeout a server is likely to use.
KEEPALIVE_S = 4.0


def _httpx_error(cause: BaseException) -> type[httpx.TransportError]:
    """The httpx exception type that says what an aiohttp failure means for a retry."""
    if isinstance(cause, aiohttp.ClientConnectorError):  # refused, DNS, TLS handshake: not sent
        return httpx.ConnectError
    if isinstance(cause, aiohttp.ConnectionTimeoutError):  # connect or wait for the pool: not sent
        return httpx.ConnectTimeout
    if isinstance(cause, aiohttp.InvalidURL):
        return httpx.UnsupportedProtocol
    if isinstance(cause, aiohttp.ClientResponseError):  # a reply that is not HTTP
        return httpx.RemoteProtocolError
    if isinstance(cause, TimeoutError):  # no reply in time: it may have been applied
        return httpx.ReadTimeout
    return httpx.ReadError  # disconnected, reset, truncated body: it may have been applied


class VerifiedAiohttpTransport(AiohttpTransport):
    """``httpx_aiohttp.AiohttpTransport`` on our TLS context, reading each reply whole."""

    def __init__(self, ssl_context: ssl.SSLContext, *, max_connections: int) -> None:
        super().__init__(verify=ssl_context, trust_env=False, client=self._session)
        self._ssl_context = ssl_context
        self._max_connections = max_connections

    def _session(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            ssl=self._ssl_context, limit=self._max_connections, keepalive_timeout=KEEPALIVE_S
        )
        session = aiohttp.ClientSession(
            connector=connector, trust_env=False, cookie_jar=aiohttp.DummyCookieJar()
        )
        # aiohttp silently repeats a GET whose reused connection dropped; the retry loop must see
        # (count, back off, log) every attempt, so that repeat is ours alone. No public switch.
        session._retry_connection = False
        return session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        # Not the base class's: that one streams the body through httpx's byte iterators and
        # re-raises a lost connection as "never sent". One aiohttp read, one mapping, here.
        if not isinstance(self.client, aiohttp.ClientSession):
            self.client = self.get_client()
        timeout = request.extensions.get("timeout", {})
        body = await request.aread()
        try:
            async with self.client.request(
                request.method,
                str(request.url),
                headers=request.headers.multi_items(),
                data=body or None,
                allow_redirects=False,
                auto_decompress=False,  # httpx.Response decodes, as with its own transport
                compress=False,
                timeout=aiohttp.ClientTimeout(
                    sock_connect=timeout.get("connect"),
                    sock_read=timeout.get("read"),
                    connect=timeout.get("pool"),
                ),
            ) as reply:
                content = await reply.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _httpx_error(exc)(f"{type(exc).__name__}: {exc}") from exc
        return httpx.Response(
            reply.status,
            headers=reply.raw_headers,
            content=content,
            request=request,
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": (reply.reason or "").encode()},
        )
