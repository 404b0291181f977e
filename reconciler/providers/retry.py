"""The retry loop every API client sends through: verdicts, backoff, ``Retry-After``, lost connections.

The clients (Dataverse, Rescue, Graph) all go through ``Retrier.send`` so that retries, backoff,
``Retry-After`` and request counting behave the same way for every service, and so that an httpx
exception never escapes a client: it becomes one of our ``ProviderError`` types here.

Retrying is only safe when repeating the request cannot do harm. A request that never reached the
server (connection refused, pool timeout) may always be repeated. A request whose response was lost
may already have been applied, so a non-idempotent one (POST create, $batch with writes, PATCH with
a concrete ETag) is not repeated: the caller gets ``ClientTransportError(maybe_applied=True)`` and
must look the object up again before deciding anything.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Literal

import httpx

from reconciler.errors import ProtocolError, RateLimitedError, TransportError
from reconciler.providers.http import ClientSettings, RequestStats

logger = logging.getLogger(__name__)

Verdict = Literal["done", "retry", "throttled"]
"""What the retry loop does with a response: hand it back, retry it, or retry it as throttling."""


async def _asyncio_sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


@dataclass(frozen=True)
class Timing:
    """Sleep, wall clock and randomness, injectable so that tests of retries run instantly."""

    sleep: Callable[[float], Awaitable[None]] = _asyncio_sleep
    clock: Callable[[], float] = time.time
    rand: Callable[[], float] = random.random


# ---------------------------------------------------------------------------- backoff


def backoff_delay(attempt: int, settings: ClientSettings, rand: Callable[[], float]) -> float:
    """Exponential backoff with "equal jitter": between half and all of ``base * 2**attempt``, capped."""
    ceiling = min(settings.backoff_cap, settings.backoff_base * float(2 ** min(attempt, 30)))
    return ceiling / 2 + rand() * ceiling / 2


def parse_retry_after(value: str | None, now: Callable[[], float]) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date); None if absent/bad."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:  # RFC 9110 dates are GMT; be lenient with a missing zone
            return None
        seconds = when.timestamp() - now()
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


# ---------------------------------------------------------------------------- the loop


class ClientTransportError(TransportError):
    """The connection failed. ``maybe_applied`` is True when the request may have reached the server.

    A non-idempotent request (create, action, $batch with writes) is never repeated after its
    response was lost; the caller must re-read before acting again.
    """


# Failures that happen before any byte of the request reached the server: always safe to retry.
_NOT_SENT: tuple[type[httpx.TransportError], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.ProxyError,
)
# Failures that will not go away by retrying (a bug or a configuration problem on our side).
_PERMANENT: tuple[type[httpx.TransportError], ...] = (httpx.LocalProtocolError, httpx.UnsupportedProtocol)


# SSL "errors" that are the ordinary mechanics of a non-blocking socket or a closed connection,
# not a failed handshake: a read timeout carries SSLWantReadError in its context chain.
_TLS_MECHANICS = (ssl.SSLWantReadError, ssl.SSLWantWriteError, ssl.SSLZeroReturnError, ssl.SSLEOFError)


def _tls_failure(exc: BaseException) -> ssl.SSLError | None:
    """The certificate / handshake error behind a failed connect, if that is what it was."""
    if not isinstance(exc, httpx.ConnectError):
        return None
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        if isinstance(cur, ssl.SSLError) and not isinstance(cur, _TLS_MECHANICS):
            return cur
        seen.add(id(cur))
        cur = cur.__cause__ or cur.__context__
    return None


def default_verdict(response: httpx.Response, *, idempotent: bool) -> Verdict:
    """429 and 503-with-Retry-After were not processed: retry always. 502/503/504: reads only."""
    status = response.status_code
    if status == 429:
        return "throttled"
    if status == 503 and "retry-after" in response.headers:
        return "throttled"
    if status in (502, 503, 504) and idempotent:
        return "retry"
    return "done"


class Retrier:
    """Runs one logical request: sends, counts, classifies, backs off and retries within limits."""

    def __init__(
        self, *, service: str, tenant: str, settings: ClientSettings, stats: RequestStats, timing: Timing
    ) -> None:
        self.service = service
        self.tenant = tenant
        self.settings = settings
        self.stats = stats
        self.timing = timing

    def _out_of_retries(self, retries: int) -> bool:
        """No more attempts: this request's cap, or the whole run's budget (shared stats), is used up."""
        return (
            retries >= self.settings.max_retries or self.stats.retries() >= self.settings.max_retries_per_run
        )

    def _final_transport_error(
        self, exc: httpx.TransportError, where: str, *, idempotent: bool, retries: int
    ) -> ClientTransportError | None:
        """The error to raise for a connection failure, or None when another attempt is allowed."""
        tls = _tls_failure(exc)
        if tls is not None or isinstance(exc, _PERMANENT):
            reason = (
                f"TLS failure ({type(tls).__name__}): check the CA / certificate of the endpoint"
                if tls
                else ""
            )
            message, maybe_applied = f"{where}: {reason or type(exc).__name__}", False
        elif not (idempotent or isinstance(exc, _NOT_SENT)):
            message = (
                f"{where}: connection lost before the reply ({type(exc).__name__}); the change may have "
                "been applied: re-read before retrying"
            )
            maybe_applied = True
        elif self._out_of_retries(retries):
            message = f"{where}: connection failed after {retries + 1} attempts ({type(exc).__name__})"
            if retries < self.settings.max_retries:
                message += f"; the run's retry budget ({self.settings.max_retries_per_run}) is spent"
            maybe_applied = False
        else:
            return None
        return ClientTransportError(
            message, maybe_applied=maybe_applied, service=self.service, tenant=self.tenant
        )

    async def send(
        self,
        attempt: Callable[[], Awaitable[httpx.Response]],
        *,
        method: str,
        template: str,
        idempotent: bool,
        classify: Callable[[httpx.Response], Verdict | None] | None = None,
    ) -> httpx.Response:
        """Return the final response (possibly an error status for the caller to map).

        Raises ``RateLimitedError`` when still throttled after ``max_retries`` and
        ``ClientTransportError`` when the connection keeps failing or cannot safely be retried.
        ``classify`` may override the status-based verdict (Rescue reports throttling in the body).
        """
        where = f"{method} {template}"
        retries = 0
        while True:
            try:
                response = await attempt()
            except httpx.TransportError as exc:
                self.stats.record(self.service, method, template, "transport")
                final = self._final_transport_error(exc, where, idempotent=idempotent, retries=retries)
                if final is not None:
                    raise final from exc
                delay = backoff_delay(retries, self.settings, self.timing.rand)
                reason = type(exc).__name__
            except httpx.DecodingError as exc:
                self.stats.record(self.service, method, template, "decoding")
                raise ProtocolError(
                    f"{where}: the response body could not be decoded",
                    service=self.service,
                    tenant=self.tenant,
                ) from exc
            else:
                self.stats.record(self.service, method, template, response.status_code)
                verdict = (classify(response) if classify else None) or default_verdict(
                    response, idempotent=idempotent
                )
                if verdict == "done":
                    return response
                retry_after = parse_retry_after(response.headers.get("retry-after"), self.timing.clock)
                if self._out_of_retries(retries):
                    if verdict == "throttled":
                        raise RateLimitedError(
                            f"{where}: still throttled after {retries + 1} attempts"
                            + (f" (the service asks to wait {retry_after:.0f}s)" if retry_after else ""),
                            retry_after=retry_after,
                            service=self.service,
                            tenant=self.tenant,
                        )
                    return response
                if retry_after is not None:
                    delay = min(retry_after, self.settings.max_retry_after)
                else:
                    delay = backoff_delay(retries, self.settings, self.timing.rand)
                reason = f"HTTP {response.status_code}" + (" (throttled)" if verdict == "throttled" else "")
            retries += 1
            self.stats.record_retry(self.service, method, template)
            logger.warning(
                "%s%s %s: %s; retry %d/%d in %.1fs",
                f"[{self.tenant}] " if self.tenant else "",
                self.service,
                where,
                reason,
                retries,
                self.settings.max_retries,
                delay,
            )
            await self.timing.sleep(delay)
