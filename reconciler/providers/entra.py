"""Access tokens for Dataverse and Microsoft Graph: the client-credentials flow through MSAL.

MSAL is synchronous and does network I/O (authority discovery inside its constructor, the token
request in ``acquire_token_for_client``), so it runs in a worker thread. One provider serves one
(authority, client, scope); an ``asyncio.Lock`` makes concurrent callers share one fetch, and the
token is reused until shortly before it expires.

Sign-in is as robust as every other call, and as short under an outage: a 429, a 5xx or a dropped
connection at the identity endpoint (discovery or token) is retried with the API clients' backoff
(retry.py) but at most ``SIGN_IN_RETRIES`` times and ``SIGN_IN_WAIT_BUDGET`` seconds of waiting
(``Retry-After`` included); when they run out the error (``IdentityUnavailable``) says it is
temporary, never that a setting is wrong, and the run remembers it (``entra_outage.py``): every
later token request of the tenant fails at once with it, and after ``OUTAGE_AFTER`` such
sign-ins in a row at one host the others get one attempt each. A 403 of the identity endpoint
(Conditional Access, a blocked app) blames the app registration's sign-in, never the tenant ID.
Retries are logged at INFO (``-v``): the outcome is the error, one line per tenant.

TLS trust is explicit: MSAL gets a ``requests.Session`` with ``trust_env = False`` (so
``REQUESTS_CA_BUNDLE`` cannot override it) and ``verify`` = the given CA file or the system store.
No token, secret or assertion ever reaches an exception message, a log line or a repr.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from pydantic import SecretStr

from reconciler.errors import (
    AuthError,
    IdentityUnavailable,
    ProtocolError,
    SignInBlocked,
    TransportError,
)
from reconciler.providers.entra_outage import run_memory
from reconciler.providers.http import ClientSettings, RequestStats, path_template, redact, require_https
from reconciler.providers.retry import Timing, backoff_delay, parse_retry_after

if TYPE_CHECKING:
    import requests

logger = logging.getLogger(__name__)

SERVICE = "identity"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"


class TokenProvider(Protocol):
    """Anything that hands out a bearer token for one resource."""

    async def token(self) -> str: ...


@dataclass(frozen=True)
class ClientSecret:
    secret: SecretStr


@dataclass(frozen=True)
class CertificateCredential:
    private_key_pem: SecretStr
    thumbprint: str
    public_certificate: str | None = None


@dataclass(frozen=True)
class FederatedTokenFile:
    """A workload-identity token (e.g. a CI OIDC token) that is re-read for every token request."""

    path: Path


ClientCredential = ClientSecret | CertificateCredential | FederatedTokenFile

_TEMPORARY_STATUSES = frozenset({429, 500, 502, 503, 504})
# A sign-in's retries: few and short, so a persistent outage ends a tenant in seconds (the
# API clients' own settings allow minutes); ``ClientSettings.max_retries`` lowers it further.
SIGN_IN_RETRIES = 3
SIGN_IN_WAIT_BUDGET = 10.0  # seconds of waiting between attempts, Retry-After included


class TemporaryIdentityFailure(Exception):
    """The identity endpoint answered 429/5xx or dropped the connection: worth another attempt.

    Raised from inside MSAL's HTTP client (a response hook), so MSAL never parses the error page.
    """

    def __init__(
        self,
        reason: str,
        template: str,
        *,
        status: int | None = None,
        retry_after: str | None = None,
        method: str = "POST",
    ):
        super().__init__(reason)
        self.reason = reason
        self.template = template
        self.status = status
        self.retry_after = retry_after
        self.method = method  # of the request answered (discovery GETs, the token request POSTs)


class IdentityRefusal(Exception):
    """The identity endpoint answered 403 (a Conditional Access policy, a blocked app): the
    app's sign-in is refused whatever the tenant ID. Raised from the response hook, so MSAL's
    discovery never turns it into "the authority is wrong"."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def _refusal_detail(response: requests.Response) -> str:
    """``AADSTS53003: Access has been blocked…`` from a refusal's body (first line), else the status."""
    try:
        body = response.json()
    except ValueError:
        body = None
    description = str(body.get("error_description") or "") if isinstance(body, dict) else ""
    first = (description.strip().splitlines() or [""])[0][:200]
    return f"HTTP {response.status_code}" + (f", {first}" if first else "")


def refuse_temporary(response: requests.Response, *args: Any, **kwargs: Any) -> None:
    if response.status_code == 403:
        detail = _refusal_detail(response)
        response.close()
        raise IdentityRefusal(detail)
    if response.status_code in _TEMPORARY_STATUSES:
        response.close()  # MSAL never sees it: give the connection back now
        template = path_template(urlsplit(response.url).path.lstrip("/"))
        raise TemporaryIdentityFailure(
            f"HTTP {response.status_code}",
            template,
            status=response.status_code,
            retry_after=response.headers.get("Retry-After"),
            method=response.request.method or "POST",
        )


class MsalApp(Protocol):
    """The part of ``msal.ConfidentialClientApplication`` used here (a seam for tests)."""

    def acquire_token_for_client(self, scopes: list[str]) -> dict[str, Any]: ...


AppFactory = Callable[..., MsalApp]


def _default_factory(**kwargs: Any) -> MsalApp:
    import msal  # imported lazily: only the token provider needs it

    app: MsalApp = msal.ConfidentialClientApplication(**kwargs)
    return app


# AADSTS code -> which setting the admin should look at. Unlisted codes fall back on the OAuth error.
_AADSTS_SETTING = {
    "7000215": "credential",  # invalid client secret
    "7000222": "credential",  # client secret expired
    "700027": "credential",  # client assertion (certificate) failed validation
    "700024": "credential",  # client assertion not within its valid time range
    "70021": "credential",  # no federated identity credential matches the assertion
    "700016": "client_id",  # application not found in the directory
    "7000112": "client_id",  # application is disabled
    "90002": "tenant_id",  # tenant not found
    "900023": "tenant_id",  # tenant identifier is not valid
    "90013": "tenant_id",  # invalid input received from the user (bad tenant)
    "500011": "scope",  # resource principal not found: the org URL is wrong or not in this tenant
    "70011": "scope",  # invalid scope
    "1002012": "scope",
}
_ERROR_SETTING = {
    "invalid_client": "credential",
    "unauthorized_client": "client_id",
    "invalid_scope": "scope",
}


class MsalTokenProvider:
    """Client-credentials tokens for one scope, cached until shortly before they expire."""

    def __init__(
        self,
        authority: str,
        client_id: str,
        credential: ClientCredential,
        scope: str,
        *,
        ca_file: Path | None,
        instance_discovery: bool,
        tenant: str = "",
        setting_prefix: str = "connection.dynamics",
        scope_setting: str = "connection.dynamics.org_url",
        timeout: float = 30.0,
        stats: RequestStats | None = None,
        refresh_margin: float = 120.0,
        clock: Callable[[], float] = time.monotonic,
        app_factory: AppFactory | None = None,
        settings: ClientSettings | None = None,
        timing: Timing | None = None,
    ) -> None:
        self.authority = require_https(authority, setting=f"{setting_prefix}.tenant_id")
        self.client_id = client_id
        self.scope = scope
        self._credential = credential
        self._ca_file = ca_file
        self._instance_discovery = instance_discovery
        self._tenant = tenant
        self._prefix = setting_prefix
        self._scope_setting = scope_setting
        self._timeout = timeout
        self._stats = stats
        self._margin = refresh_margin
        self._clock = clock
        self._factory = app_factory or _default_factory
        self._settings = settings or ClientSettings()
        self._timing = timing or Timing()
        self._lock = asyncio.Lock()
        self._app: MsalApp | None = None
        self._session: requests.Session | None = None
        self._cached: tuple[str, float] | None = None

    def __repr__(self) -> str:
        return f"MsalTokenProvider(authority={self.authority!r}, client_id={self.client_id!r}, scope={self.scope!r})"

    def _fresh(self) -> str | None:
        cached = self._cached
        return cached[0] if cached is not None and self._clock() < cached[1] else None

    async def token(self) -> str:
        """A valid access token; fetched at most once at a time, reused until near expiry. A
        sign-in that failed in this run is not tried again (``entra_outage.py``)."""
        token = self._fresh()
        if token is not None:
            return token
        async with self._lock:
            token = self._fresh()
            if token is not None:
                return token
            result = await self._acquire_with_retries()
            token, expires_in = self._check(result)
            margin = min(self._margin, expires_in / 2)
            self._cached = (token, self._clock() + expires_in - margin)
            logger.debug("identity: token for %s acquired (valid %ds)", self.scope, expires_in)
            return token

    async def _acquire_with_retries(self) -> dict[str, Any]:
        memory = run_memory()
        remembered = memory.failure(self._tenant, self.authority)
        if remembered is not None:
            raise remembered
        outage = memory.outage(self.authority)
        allowed = 0 if outage else min(self._settings.max_retries, SIGN_IN_RETRIES)
        stats = self._stats or RequestStats()
        retries, waited = 0, 0.0
        while True:
            try:
                result = await asyncio.to_thread(self._acquire)
            except TemporaryIdentityFailure as exc:
                delay = self._delay(exc, retries)
                spent = stats.retries() >= self._settings.max_retries_per_run
                if retries >= allowed or spent or waited + delay > SIGN_IN_WAIT_BUDGET:
                    error = self._temporary_error(exc, retries + 1, spent=spent, outage=outage)
                    memory.remember(self._tenant, self.authority, error)
                    raise error from None
                retries += 1
                waited += delay
                stats.record_retry(SERVICE, exc.method, exc.template)
                logger.info(
                    "%sidentity %s: %s; retry %d/%d in %.1fs",
                    f"[{self._tenant}] " if self._tenant else "",
                    exc.template,
                    exc.reason,
                    retries,
                    allowed,
                    delay,
                )
                await self._timing.sleep(delay)
            except AuthError as exc:
                if isinstance(exc, SignInBlocked):  # the app's sign-in, whichever scope
                    memory.remember(self._tenant, self.authority, exc, outage=False)
                raise
            else:
                memory.succeeded(self.authority)
                return result

    def _delay(self, exc: TemporaryIdentityFailure, retries: int) -> float:
        retry_after = parse_retry_after(exc.retry_after, self._timing.clock)
        if retry_after is not None:
            return min(retry_after, self._settings.max_retry_after)
        return backoff_delay(retries, self._settings, self._timing.rand)

    def _temporary_error(
        self, exc: TemporaryIdentityFailure, attempts: int, *, spent: bool, outage: int
    ) -> IdentityUnavailable:
        if outage:
            why = f"; {outage} sign-ins in a row failed at this identity host in this run, so no retry"
        elif spent:
            why = f"; the run's retry budget ({self._settings.max_retries_per_run}) is spent"
        else:
            why = ""
        message = (
            f"sign-in at {self.authority} failed {attempts} time(s) ({exc.reason}){why}: a temporary "
            "failure of the identity service, not a configuration problem; run again later"
        )
        retry_after = parse_retry_after(exc.retry_after, self._timing.clock) if exc.status == 429 else None
        return IdentityUnavailable(message, retry_after=retry_after, service=SERVICE, tenant=self._tenant)

    def close(self) -> None:
        """Release the HTTP session (the token cache goes with the provider)."""
        if self._session is not None:
            self._session.close()
            self._session = None
        self._app = None

    async def aclose(self) -> None:
        self.close()

    # -------------------------------------------------------------------- in the worker thread

    def _secrets(self) -> tuple[str, ...]:
        cred = self._credential
        if isinstance(cred, ClientSecret):
            return (cred.secret.get_secret_value(),)
        if isinstance(cred, CertificateCredential):
            return (cred.private_key_pem.get_secret_value(),)
        return ()

    def _read_assertion(self, path: Path) -> str:
        try:
            assertion = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise self._auth_error(
                f"cannot read the federated token file {path} ({exc.strerror or type(exc).__name__})",
                "credential",
            ) from exc
        if not assertion:
            raise self._auth_error(f"the federated token file {path} is empty", "credential")
        return assertion

    def _msal_credential(self) -> Any:
        cred = self._credential
        if isinstance(cred, ClientSecret):
            return cred.secret.get_secret_value()
        if isinstance(cred, CertificateCredential):
            out = {"private_key": cred.private_key_pem.get_secret_value(), "thumbprint": cred.thumbprint}
            if cred.public_certificate:
                out["public_certificate"] = cred.public_certificate
            return out
        return {"client_assertion": functools.partial(self._read_assertion, cred.path)}

    def _acquire(self) -> dict[str, Any]:
        # Imported here, in the worker thread: requests and urllib3 are a fifth of a second of
        # imports that would otherwise delay the start of every run, before any request.
        import requests

        from reconciler.providers.entra_session import make_session

        try:
            if self._app is None:
                self._session = self._session or make_session(self._ca_file, self._timeout, self._stats)
                self._app = self._factory(
                    client_id=self.client_id,
                    client_credential=self._msal_credential(),
                    authority=self.authority,
                    http_client=self._session,
                    instance_discovery=self._instance_discovery,
                )
            return self._app.acquire_token_for_client(scopes=[self.scope])
        except TemporaryIdentityFailure:
            self._app = None  # discovery may not have finished: build it again next time
            raise
        except IdentityRefusal as exc:
            self._app = None
            raise SignInBlocked(
                f"the identity service refused the sign-in of app {self.client_id} at {self.authority} "
                f"({redact(exc.detail, self._secrets())}): the app registration's sign-in is blocked "
                "(a Conditional Access policy, a disabled or restricted app), not the tenant ID or "
                "consent; check the app registration and its sign-in logs in the Entra admin center",
                service=SERVICE,
                tenant=self._tenant,
            ) from None
        except requests.exceptions.SSLError as exc:
            raise TransportError(
                f"TLS failure talking to {self.authority}: check the CA / certificate of the identity endpoint",
                service=SERVICE,
                tenant=self._tenant,
            ) from exc
        except (requests.ConnectionError, requests.Timeout) as exc:
            # Dropped or timed out: a token request changes nothing, so another attempt is safe.
            self._app = None
            template = path_template(urlsplit(self.authority).path.lstrip("/"))
            raise TemporaryIdentityFailure(f"connection lost ({type(exc).__name__})", template) from exc
        except requests.RequestException as exc:
            raise TransportError(
                f"cannot reach the identity endpoint {self.authority} ({type(exc).__name__})",
                service=SERVICE,
                tenant=self._tenant,
            ) from exc
        except (ValueError, RuntimeError) as exc:
            # MSAL raises these for an authority it cannot discover, or a credential it cannot use.
            first = redact(str(exc), self._secrets()).split(". ")[0][:200]
            raise self._auth_error(f"MSAL refused the configuration: {first}", "tenant_id") from exc

    def _auth_error(self, message: str, setting: str) -> AuthError:
        name = self._scope_setting if setting == "scope" else f"{self._prefix}.{setting}"
        return AuthError(f"{message}; check {name}", service=SERVICE, tenant=self._tenant)

    def _check(self, result: Any) -> tuple[str, float]:
        if not isinstance(result, dict):
            raise ProtocolError("MSAL returned no result", service=SERVICE, tenant=self._tenant)
        if "error" in result or "access_token" not in result:
            error = str(result.get("error") or "no_token")
            description = redact(str(result.get("error_description") or ""), self._secrets())
            first_line = (description.strip().splitlines() or [""])[0][:300]
            codes = [str(c) for c in result.get("error_codes") or []]
            if not codes and first_line.startswith("AADSTS"):
                codes = [first_line[6:].split(":", 1)[0]]
            setting = next((_AADSTS_SETTING[c] for c in codes if c in _AADSTS_SETTING), None)
            setting = setting or _ERROR_SETTING.get(error)
            message = f"token request refused: {error}: {first_line}"
            if setting is None:
                names = ", ".join(f"{self._prefix}.{s}" for s in ("client_id", "credential", "tenant_id"))
                raise AuthError(f"{message}; check {names}", service=SERVICE, tenant=self._tenant)
            raise self._auth_error(message, setting)
        token = result["access_token"]
        try:
            expires_in = float(result.get("expires_in", 3599))
        except (TypeError, ValueError) as exc:
            raise ProtocolError("the token response has a bad expires_in", service=SERVICE) from exc
        if not isinstance(token, str) or not token or expires_in <= 0:
            raise ProtocolError("the token response has no usable access token", service=SERVICE)
        return token, expires_in
