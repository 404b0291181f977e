"""Pieces shared by every API client: settings, request counters, TLS, URL checks and the retry loop.

The clients (Dataverse, Rescue, Graph) are the only modules that touch httpx. They all go through
``Retrier.send`` so that retries, backoff, ``Retry-After`` and request counting behave the same way
for every service, and so that an httpx exception never escapes a client: it becomes one of our
``ProviderError`` types here.

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
import re
import ssl
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, urlsplit

import httpx

from reconciler.errors import (
    ApiError,
    InputError,
    NotFoundError,
    PreconditionFailed,
    ProtocolError,
    RateLimitedError,
    TransportError,
)

logger = logging.getLogger(__name__)

Verdict = Literal["done", "retry", "throttled"]
"""What the retry loop does with a response: hand it back, retry it, or retry it as throttling."""


@dataclass(frozen=True)
class ClientSettings:
    """Tunables of every client. The defaults suit Dataverse's service-protection limits."""

    timeout: float = 30.0
    max_retries: int = 6
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    max_concurrency: int = 8
    page_size: int = 5000
    batch_size: int = 1000
    max_retry_after: float = 120.0

    def __post_init__(self) -> None:
        checks = (
            (self.timeout > 0, "timeout must be > 0"),
            (self.max_retries >= 0, "max_retries must be >= 0"),
            (min(self.backoff_base, self.backoff_cap, self.max_retry_after) >= 0, "delays must be >= 0"),
            (self.max_concurrency >= 1, "max_concurrency must be >= 1"),
            (1 <= self.page_size <= 5000, "page_size must be between 1 and 5000 (Dataverse maximum)"),
            (
                1 <= self.batch_size <= 1000,
                "batch_size must be between 1 and 1000 (Dataverse $batch maximum)",
            ),
        )
        problems = [message for ok, message in checks if not ok]
        if problems:
            raise InputError("client settings: " + "; ".join(problems))


async def _asyncio_sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


@dataclass(frozen=True)
class Timing:
    """Sleep, wall clock and randomness, injectable so that tests of retries run instantly."""

    sleep: Callable[[float], Awaitable[None]] = _asyncio_sleep
    clock: Callable[[], float] = time.time
    rand: Callable[[], float] = random.random


# ---------------------------------------------------------------------------- request statistics

_GUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
# A parenthesised key segment, allowing quoted strings (with '' escapes) that contain parentheses.
_KEY_SEGMENT = re.compile(r"\((?:[^()']|'(?:[^']|'')*')*\)")
_ID_SEGMENT = re.compile(rf"^(?:{_GUID}|\d+|\{{{_GUID}\}})$")


def path_template(path: str) -> str:
    """``systemusers(3f..)/x`` -> ``systemusers({id})/x``: one stats bucket per endpoint, not per row."""
    path = path.split("?", 1)[0].split("#", 1)[0]
    path = _KEY_SEGMENT.sub("({id})", path)
    return "/".join("{id}" if _ID_SEGMENT.match(seg) else seg for seg in path.split("/"))


@dataclass
class RequestStats:
    """Counters of HTTP requests per (service, method, path template), retries and statuses.

    Safe to share between tasks and threads (a lock guards every update), and cheap enough
    to count every single request. ``merge`` folds per-tenant stats into a run total.
    """

    _requests: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    _retries: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    _statuses: Counter[tuple[str, str]] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def record(self, service: str, method: str, template: str, status: int | str) -> None:
        """Count one request and its outcome (an HTTP status, or ``"transport"``)."""
        with self._lock:
            self._requests[(service, method, template)] += 1
            self._statuses[(service, str(status))] += 1

    def record_retry(self, service: str, method: str, template: str) -> None:
        with self._lock:
            self._retries[(service, method, template)] += 1

    def total(self, service: str | None = None) -> int:
        """Requests sent to ``service`` (all services when None), retries included."""
        with self._lock:
            return sum(n for (svc, _, _), n in self._requests.items() if service in (None, svc))

    def retries(self, service: str | None = None) -> int:
        with self._lock:
            return sum(n for (svc, _, _), n in self._retries.items() if service in (None, svc))

    def merge(self, other: RequestStats) -> None:
        """Add ``other``'s counts into this one."""
        if other is self:
            raise ValueError("cannot merge RequestStats into itself")
        with other._lock:
            requests, retries, statuses = (
                Counter(other._requests),
                Counter(other._retries),
                Counter(other._statuses),
            )
        with self._lock:
            self._requests.update(requests)
            self._retries.update(retries)
            self._statuses.update(statuses)

    def as_dict(self) -> dict[str, Any]:
        """``{service: {requests, retries, endpoints: {"GET tpl": {requests, retries}}, statuses}}``."""
        with self._lock:
            out: dict[str, Any] = {}
            for svc, method, template in sorted(set(self._requests) | set(self._retries)):
                entry = out.setdefault(svc, {"requests": 0, "retries": 0, "endpoints": {}, "statuses": {}})
                n, r = self._requests[(svc, method, template)], self._retries[(svc, method, template)]
                entry["requests"] += n
                entry["retries"] += r
                entry["endpoints"][f"{method} {template}"] = {"requests": n, "retries": r}
            for (svc, status), n in sorted(self._statuses.items()):
                out.setdefault(svc, {"requests": 0, "retries": 0, "endpoints": {}, "statuses": {}})
                out[svc]["statuses"][status] = n
            return out


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


# ---------------------------------------------------------------------------- TLS and URLs


def make_ssl_context(ca_file: Path | None) -> ssl.SSLContext:
    """A verifying TLS context: the given CA file only (sandbox), else the system trust store.

    Verification is never switched off; there is deliberately no parameter for it.
    """
    try:
        ctx = ssl.create_default_context(cafile=str(ca_file) if ca_file is not None else None)
    except (OSError, ssl.SSLError) as exc:
        raise InputError(f"cannot load the CA file {ca_file}: {exc.strerror or type(exc).__name__}") from exc
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def require_https(url: str, *, setting: str) -> str:
    """Return ``url`` without a trailing slash; refuse anything that is not a plain https URL.

    TLS is always on (DESIGN §5). Credentials in the URL are refused and never echoed.
    """
    try:
        parts = urlsplit(url.strip())
        port = parts.port  # raises ValueError on a bad port
    except ValueError as exc:
        raise InputError(f"{setting}: not a valid URL") from exc
    if parts.username is not None or parts.password is not None:
        raise InputError(f"{setting}: the URL must not contain credentials")
    shown = f"{parts.scheme}://{parts.hostname or ''}{f':{port}' if port else ''}{parts.path}"
    if parts.scheme.lower() != "https":
        raise InputError(f"{setting}: {shown} is refused: only https:// endpoints are allowed")
    if not parts.hostname:
        raise InputError(f"{setting}: {shown} has no host name")
    return url.strip().rstrip("/")


def redact(text: str, secrets: tuple[str, ...]) -> str:
    """Remove known secret values from a server-supplied text before it goes into an error."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "(sensitive)")
    return text


def error_payload(response: httpx.Response) -> tuple[str, str]:
    """(code, message) from an OData / Graph error body ``{"error": {"code", "message"}}``.

    Falls back to a short, single-line excerpt of a non-JSON body (a proxy's HTML page).
    """
    code, message = "", ""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        err = body["error"]
        code = str(err.get("code") or "")
        message = str(err.get("message") or "")
    elif response.content:
        message = " ".join(response.text.split())[:120]
    return code, " ".join(message.split())[:300]


_PRIVILEGE = re.compile(r"\b(prv[A-Za-z0-9_]+)")
_ENTITY = re.compile(r"entity '([A-Za-z0-9_]+)'")


def api_error(
    status: int, code: str, message: str, *, where: str, service: str, tenant: str, on_412: str = ""
) -> ApiError:
    """The ``ApiError`` family for an HTTP error status: 404 NotFound, 412 PreconditionFailed.

    403 names the missing privilege and table when the service says which (Dataverse does:
    "... is missing prvReadsolution privilege ... for entity 'solution'").
    """
    detail = f" ({code})" if code else ""
    cls: type[ApiError] = {404: NotFoundError, 412: PreconditionFailed}.get(status, ApiError)
    if status == 404:
        text = "not found"
    elif status == 412:
        text = on_412 or "precondition failed"
    elif status == 403:
        privilege, entity = _PRIVILEGE.search(message), _ENTITY.search(message)
        table = f" on table '{entity.group(1)}'" if entity else ""
        text = (
            f"permission denied: the application user lacks privilege {privilege.group(1)}{table}; "
            "add it to the user's security role"
            if privilege
            else "permission denied: the application user's security roles do not allow this"
        )
    else:
        text = f"HTTP {status}"
    return cls(
        f"{where}: {text}{detail}: {message}", status=status, code=code, service=service, tenant=tenant
    )


_QUERY_SAFE = "$'(),/:@*!;="


def encode_query(params: Mapping[str, str]) -> str:
    """``$select=a,b&$filter=name%20eq%20'x'``: OData query text as Microsoft's examples write it.

    Spaces become %20 (not ``+``), ``$``, ``=`` and quotes stay literal; ``&``, ``+``, ``#`` and ``%``
    inside values are escaped so that a value can never add another query option.
    """
    return "&".join(f"{quote(k, safe='$')}={quote(v, safe=_QUERY_SAFE)}" for k, v in params.items())


# ---------------------------------------------------------------------------- the retry loop


class ClientTransportError(TransportError):
    """The connection failed. ``maybe_applied`` is True when the request may have reached the server.

    A non-idempotent request (create, action, $batch with writes) is never repeated after its
    response was lost; the caller must re-read before acting again.
    """

    def __init__(self, message: str, *, maybe_applied: bool, service: str = "", tenant: str = "") -> None:
        self.maybe_applied = maybe_applied
        super().__init__(message, service=service, tenant=tenant)


# Failures that happen before any byte of the request reached the server: always safe to retry.
_NOT_SENT: tuple[type[httpx.TransportError], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.ProxyError,
)
# Failures that will not go away by retrying (a bug or a configuration problem on our side).
_PERMANENT: tuple[type[httpx.TransportError], ...] = (httpx.LocalProtocolError, httpx.UnsupportedProtocol)


def _tls_failure(exc: BaseException) -> ssl.SSLError | None:
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        if isinstance(cur, ssl.SSLError):
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
        elif retries >= self.settings.max_retries:
            message = f"{where}: connection failed after {retries + 1} attempts ({type(exc).__name__})"
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
                if retries >= self.settings.max_retries:
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
