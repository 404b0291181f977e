"""Pieces shared by every API client: settings, request counters, TLS, URL checks and error mapping.

The clients (Dataverse, Rescue, Graph) are the only modules that touch httpx. What they have in
common lives here as plain functions and values, so that every service validates its endpoint,
counts its requests and words its HTTP errors the same way. The retry loop is in
``reconciler.providers.retry``, the connection lifecycle in ``reconciler.providers.base``.
"""

from __future__ import annotations

import re
import ssl
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from reconciler.errors import ApiError, InputError, NotFoundError, PreconditionFailed, ProtocolError


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
    # Retries one tenant's run may spend in all (its requests share one RequestStats): a storm
    # ends the run as incomplete instead of stretching it for hours.
    max_retries_per_run: int = 500

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
    ``on_record``, when set, is called after each request is counted (progress on a terminal).
    """

    _requests: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    _retries: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    _statuses: Counter[tuple[str, str]] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    on_record: Callable[[], None] | None = field(default=None, repr=False, compare=False)

    def record(self, service: str, method: str, template: str, status: int | str) -> None:
        """Count one request and its outcome (an HTTP status, or ``"transport"``)."""
        with self._lock:
            self._requests[(service, method, template)] += 1
            self._statuses[(service, str(status))] += 1
        if self.on_record is not None:
            self.on_record()

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
    # Whole: api_error reads the privilege and table out of it before it is shortened.
    return code, " ".join(message.split())


MESSAGE_LIMIT = 300  # characters of a service's error message kept in ours
# Dataverse refuses a valid token of an app that is no (enabled) application user of the org.
_NOT_A_USER = {
    "0x80072560": "the app is not an application user of this org; create one for its client ID "
    "(Power Platform admin center > Environment > Settings > Application users) with a security role",
    "0x80040225": "the app's application user is disabled in this org; enable it "
    "(Power Platform admin center > Environment > Settings > Application users)",
}
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
    message = " ".join(message.split())
    short = message if len(message) <= MESSAGE_LIMIT else message[: MESSAGE_LIMIT - 1] + "…"
    cls: type[ApiError] = {404: NotFoundError, 412: PreconditionFailed}.get(status, ApiError)
    if status == 404:
        text = "not found"
    elif status == 412:
        text = on_412 or "precondition failed"
    elif status == 403 and code in _NOT_A_USER:
        text = _NOT_A_USER[code]
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
    return cls(f"{where}: {text}{detail}: {short}", status=status, code=code, service=service, tenant=tenant)


_QUERY_SAFE = "$'(),/:@*!;="


def encode_query(params: Mapping[str, str]) -> str:
    """``$select=a,b&$filter=name%20eq%20'x'``: OData query text as Microsoft's examples write it.

    Spaces become %20 (not ``+``), ``$``, ``=`` and quotes stay literal; ``&``, ``+``, ``#`` and ``%``
    inside values are escaped so that a value can never add another query option.
    """
    return "&".join(f"{quote(k, safe='$')}={quote(v, safe=_QUERY_SAFE)}" for k, v in params.items())


def odata_page(
    page: Mapping[str, Any], where: str, seen: set[str], *, service: str, tenant: str, base: str = ""
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of an OData collection (Dataverse, Graph): its rows and the next link to follow.

    A page without a ``value`` list of objects is refused, and so is a next link seen before
    (the listing would never end) or, with ``base``, one outside it (the token would follow it).
    ``seen`` collects the links followed so far.
    """
    value = page.get("value")
    if not isinstance(value, list) or not all(isinstance(row, dict) for row in value):
        raise ProtocolError(f"{where}: the reply has no 'value' list", service=service, tenant=tenant)
    link = page.get("@odata.nextLink")
    if link is None:
        return value, None
    if not isinstance(link, str) or link in seen or not link.startswith(base):
        raise ProtocolError(
            f"{where}: bad, foreign or repeated @odata.nextLink", service=service, tenant=tenant
        )
    seen.add(link)
    return value, link
