"""MsalTokenProvider: caching, credentials, error mapping, TLS trust, secrecy (no network)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
import requests
from pydantic import SecretStr

from reconciler.errors import AuthError, InputError, ProtocolError, TransportError
from reconciler.providers import entra as auth
from reconciler.providers import entra_session as msal_session
from reconciler.providers.entra import (
    GRAPH_SCOPE,
    CertificateCredential,
    ClientSecret,
    FederatedTokenFile,
    MsalTokenProvider,
)
from reconciler.providers.entra_session import make_session
from reconciler.providers.http import ClientSettings, RequestStats
from reconciler.providers.retry import Timing

AUTHORITY = "https://login.test/6c1f4d5e-2a7b-4c1d-9e3f-0a1b2c3d4e5f"
CLIENT_ID = "3f2a1b4c-5d6e-4f70-8a91-b2c3d4e5f607"
SCOPE = "https://contoso.crm.dynamics.com/.default"
SECRET = "client-secret-value-Zq8~"
TOKEN = "eyJ0eXAiOiJKV1Qi.access.token"
PEM = "-----BEGIN PRIVATE KEY-----\nMIIsecretkeymaterial\n-----END PRIVATE KEY-----\n"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeApp:
    """Stands in for msal.ConfidentialClientApplication; plays results in order."""

    def __init__(self, results: list[Any], kwargs: dict[str, Any]) -> None:
        self.results = results
        self.kwargs = kwargs
        self.calls = 0
        self.scopes: list[str] = []

    def acquire_token_for_client(self, scopes: list[str]) -> dict[str, Any]:
        self.calls += 1
        self.scopes = scopes
        step = self.results.pop(0) if len(self.results) > 1 else self.results[0]
        if callable(step):
            result: dict[str, Any] = step(self)
            return result
        if isinstance(step, BaseException):
            raise step
        time.sleep(0.01)  # let concurrent callers pile up on the lock
        return dict(step)


class Factory:
    def __init__(self, *results: Any, fail: BaseException | None = None) -> None:
        self.results = list(results) or [{"access_token": TOKEN, "expires_in": 3599, "token_type": "Bearer"}]
        self.fail = fail
        self.apps: list[FakeApp] = []

    def __call__(self, **kwargs: Any) -> FakeApp:
        if self.fail is not None:
            raise self.fail
        app = FakeApp(self.results, kwargs)
        self.apps.append(app)
        return app


def provider(
    factory: Factory,
    credential: Any = None,
    *,
    clock: Callable[[], float] | None = None,
    ca_file: Path | None = None,
    **kw: Any,
) -> MsalTokenProvider:
    return MsalTokenProvider(
        AUTHORITY,
        CLIENT_ID,
        credential or ClientSecret(SecretStr(SECRET)),
        SCOPE,
        ca_file=ca_file,
        instance_discovery=False,
        tenant=kw.pop("tenant", "contoso"),
        clock=clock or Clock(),
        app_factory=factory,
        timing=kw.pop("timing", INSTANT),
        **kw,
    )


async def _no_wait(seconds: float) -> None:
    SLEPT.append(seconds)


SLEPT: list[float] = []
INSTANT = Timing(sleep=_no_wait, clock=time.time, rand=lambda: 0.5)


def test_concurrent_callers_share_one_fetch_and_the_token_is_cached() -> None:
    factory, clock = Factory(), Clock()
    p = provider(factory, clock=clock)

    async def main() -> list[str]:
        return list(await asyncio.gather(*(p.token() for _ in range(10))))

    assert asyncio.run(main()) == [TOKEN] * 10
    assert len(factory.apps) == 1 and factory.apps[0].calls == 1 and factory.apps[0].scopes == [SCOPE]
    clock.now += 3479 - 1  # still inside the validity minus the refresh margin
    assert asyncio.run(p.token()) == TOKEN and factory.apps[0].calls == 1
    clock.now += 2  # within 120 s of expiry: fetch again (msal may answer from its own cache)
    assert asyncio.run(p.token()) == TOKEN and factory.apps[0].calls == 2
    assert len(factory.apps) == 1  # the app (and its discovery) is built once


def test_short_lived_tokens_refresh_at_half_life() -> None:
    factory, clock = Factory({"access_token": TOKEN, "expires_in": 60}), Clock()
    p = provider(factory, clock=clock)
    asyncio.run(p.token())
    clock.now += 29
    asyncio.run(p.token())
    assert factory.apps[0].calls == 1
    clock.now += 2
    asyncio.run(p.token())
    assert factory.apps[0].calls == 2


def test_msal_gets_an_explicit_session_and_the_settings(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    factory = Factory()
    asyncio.run(provider(factory, ca_file=ca).token())
    kwargs = factory.apps[0].kwargs
    assert kwargs["client_id"] == CLIENT_ID and kwargs["authority"] == AUTHORITY
    assert kwargs["instance_discovery"] is False and kwargs["client_credential"] == SECRET
    session = kwargs["http_client"]
    assert isinstance(session, requests.Session)
    assert session.trust_env is False and session.verify == str(ca)


def test_session_ignores_requests_ca_bundle(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/not-our-ca.pem")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    session = make_session(tmp_path / "ca.pem", 5.0)
    merged = session.merge_environment_settings("https://login.test/x", {}, None, None, None)
    assert merged["verify"] == str(tmp_path / "ca.pem") and not merged["proxies"]
    assert make_session(None, 5.0).verify is True


def test_certificate_credential_is_passed_as_msal_expects() -> None:
    factory = Factory()
    cred = CertificateCredential(SecretStr(PEM), "AB12CD", public_certificate="-----BEGIN CERTIFICATE-----")
    asyncio.run(provider(factory, cred).token())
    assert factory.apps[0].kwargs["client_credential"] == {
        "private_key": PEM,
        "thumbprint": "AB12CD",
        "public_certificate": "-----BEGIN CERTIFICATE-----",
    }
    assert "MIIsecret" not in repr(cred)


def test_federated_token_file_is_read_on_every_request(tmp_path: Path) -> None:
    token_file = tmp_path / "oidc-token"
    token_file.write_text("assertion-one\n")
    assertions: list[str] = []

    def acquire(app: FakeApp) -> dict[str, Any]:
        assertions.append(app.kwargs["client_credential"]["client_assertion"]())
        return {"access_token": TOKEN, "expires_in": 3599}

    factory, clock = Factory(acquire), Clock()
    p = provider(factory, FederatedTokenFile(token_file), clock=clock)
    asyncio.run(p.token())
    token_file.write_text("assertion-two")  # CI rotated it
    clock.now += 4000
    asyncio.run(p.token())
    assert assertions == ["assertion-one", "assertion-two"]


def test_missing_or_empty_federated_token_file_is_an_auth_error(tmp_path: Path) -> None:
    def acquire(app: FakeApp) -> dict[str, Any]:
        app.kwargs["client_credential"]["client_assertion"]()
        return {"access_token": TOKEN}

    with pytest.raises(
        AuthError, match=r"cannot read the federated token file .*connection\.dynamics\.credential"
    ):
        asyncio.run(provider(Factory(acquire), FederatedTokenFile(tmp_path / "missing")).token())
    empty = tmp_path / "empty"
    empty.write_text("  \n")
    with pytest.raises(AuthError, match="is empty"):
        asyncio.run(provider(Factory(acquire), FederatedTokenFile(empty)).token())


@pytest.mark.parametrize(
    ("result", "setting"),
    [
        (
            {
                "error": "invalid_client",
                "error_description": f"AADSTS7000215: Invalid client secret provided ({SECRET}).\r\n"
                "Trace ID: 0000\r\nCorrelation ID: 1111",
                "error_codes": [7000215],
            },
            "connection.dynamics.credential",
        ),
        (
            {
                "error": "unauthorized_client",
                "error_description": "AADSTS700016: Application with identifier x was not found",
            },
            "connection.dynamics.client_id",
        ),
        (
            {
                "error": "invalid_request",
                "error_description": "AADSTS90002: Tenant 'x' not found.",
                "error_codes": [90002],
            },
            "connection.dynamics.tenant_id",
        ),
        (
            {
                "error": "invalid_resource",
                "error_description": "AADSTS500011: The resource principal named x was not found",
            },
            "connection.dynamics.org_url",
        ),
        ({"error": "invalid_scope", "error_description": "bad scope"}, "connection.dynamics.org_url"),
        (
            {"error": "temporarily_unavailable", "error_description": "try later"},
            "connection.dynamics.client_id, connection.dynamics.credential, connection.dynamics.tenant_id",
        ),
    ],
)
def test_msal_error_dicts_become_auth_errors_naming_the_setting(result: dict[str, Any], setting: str) -> None:
    with pytest.raises(AuthError) as info:
        asyncio.run(provider(Factory(result)).token())
    message = str(info.value)
    assert f"check {setting}" in message
    assert result["error"] in message
    assert "Trace ID" not in message and SECRET not in message


def test_graph_provider_names_its_own_settings() -> None:
    factory = Factory(
        {"error": "invalid_client", "error_description": "AADSTS7000222: expired", "error_codes": [7000222]}
    )
    p = MsalTokenProvider(
        AUTHORITY,
        CLIENT_ID,
        ClientSecret(SecretStr(SECRET)),
        GRAPH_SCOPE,
        ca_file=None,
        instance_discovery=True,
        setting_prefix="consent",
        app_factory=factory,
    )
    with pytest.raises(AuthError, match=r"check consent\.credential"):
        asyncio.run(p.token())
    assert factory.apps[0].scopes == [GRAPH_SCOPE]


def test_result_without_a_token_is_refused() -> None:
    with pytest.raises(AuthError, match="no_token"):
        asyncio.run(provider(Factory({"token_type": "Bearer"})).token())
    with pytest.raises(ProtocolError):
        asyncio.run(provider(Factory({"access_token": TOKEN, "expires_in": "soon"})).token())
    with pytest.raises(ProtocolError):
        asyncio.run(provider(Factory({"access_token": "", "expires_in": 10})).token())


def test_discovery_and_connection_failures_are_typed() -> None:
    bad_authority = ValueError(
        "Unable to get authority configuration for https://login.test/nope. Authority would typically be ..."
    )
    with pytest.raises(
        AuthError, match=r"Unable to get authority configuration.*connection\.dynamics\.tenant_id"
    ):
        asyncio.run(provider(Factory(fail=bad_authority)).token())
    with pytest.raises(
        TransportError, match="temporary failure of the identity service, not a configuration"
    ):
        asyncio.run(provider(Factory(fail=requests.ConnectionError("refused"))).token())
    with pytest.raises(TransportError, match="TLS failure"):
        asyncio.run(provider(Factory(fail=requests.exceptions.SSLError("verify failed"))).token())
    with pytest.raises(TransportError):
        asyncio.run(provider(Factory(requests.ConnectTimeout("slow"))).token())


def test_a_failed_construction_is_retried_on_the_next_call() -> None:
    factory = Factory(fail=requests.ConnectionError("refused"))
    p = provider(factory)
    with pytest.raises(TransportError):
        asyncio.run(p.token())
    factory.fail = None
    assert asyncio.run(p.token()) == TOKEN


def test_http_authority_is_refused() -> None:
    with pytest.raises(InputError, match="only https"):
        MsalTokenProvider(
            "http://login.test/x",
            CLIENT_ID,
            ClientSecret(SecretStr(SECRET)),
            SCOPE,
            ca_file=None,
            instance_discovery=False,
        )


def test_no_secret_or_token_in_repr_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    p = provider(Factory())
    with caplog.at_level("DEBUG"):
        asyncio.run(p.token())
        with pytest.raises(AuthError):
            asyncio.run(provider(Factory({"error": "invalid_client", "error_description": SECRET})).token())
    assert SECRET not in repr(p) and TOKEN not in repr(p)
    assert all(SECRET not in r.getMessage() and TOKEN not in r.getMessage() for r in caplog.records)
    p.close()


# ---------------------------------------------------------------------------- with the real msal


def fake_identity(monkeypatch: pytest.MonkeyPatch, token_reply: tuple[int, dict[str, Any]]) -> list[Any]:
    """Serve discovery and the token endpoint from inside our session's adapter (no network)."""
    seen: list[Any] = []

    def send(self: Any, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        seen.append((request, kwargs))
        response = requests.Response()
        response.request = request
        response.url = request.url or ""
        response.headers["Content-Type"] = "application/json"
        if request.method == "GET" and str(request.url).endswith("/v2.0/.well-known/openid-configuration"):
            response.status_code = 200
            body: dict[str, Any] = {
                "issuer": f"{AUTHORITY}/v2.0",
                "authorization_endpoint": f"{AUTHORITY}/oauth2/v2.0/authorize",
                "token_endpoint": f"{AUTHORITY}/oauth2/v2.0/token",
            }
        else:
            response.status_code, body = token_reply
        response._content = json.dumps(body).encode()
        return response

    monkeypatch.setattr(msal_session._TimeoutAdapter, "send", send)
    return seen


def test_real_msal_uses_our_session_for_discovery_and_token(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = fake_identity(
        monkeypatch, (200, {"token_type": "Bearer", "expires_in": 3599, "access_token": TOKEN})
    )
    stats = RequestStats()
    p = MsalTokenProvider(
        AUTHORITY,
        CLIENT_ID,
        ClientSecret(SecretStr(SECRET)),
        SCOPE,
        ca_file=None,
        instance_discovery=False,
        stats=stats,
    )
    assert asyncio.run(p.token()) == TOKEN
    assert stats.as_dict()["identity"]["endpoints"] == {
        "GET {id}/v2.0/.well-known/openid-configuration": {"requests": 1, "retries": 0},
        "POST {id}/oauth2/v2.0/token": {"requests": 1, "retries": 0},
    }
    token_request = seen[-1][0]
    form = parse_qs(token_request.body)
    assert token_request.url == f"{AUTHORITY}/oauth2/v2.0/token"
    assert form["grant_type"] == ["client_credentials"] and form["scope"] == [SCOPE]
    assert form["client_id"] == [CLIENT_ID] and form["client_secret"] == [SECRET]
    p.close()


def test_real_msal_error_reply_becomes_an_auth_error(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_identity(
        monkeypatch,
        (
            401,
            {
                "error": "invalid_client",
                "error_description": "AADSTS7000215: Invalid client secret provided.\r\nTrace ID: 1",
                "error_codes": [7000215],
            },
        ),
    )
    p = MsalTokenProvider(
        AUTHORITY, CLIENT_ID, ClientSecret(SecretStr(SECRET)), SCOPE, ca_file=None, instance_discovery=False
    )
    with pytest.raises(AuthError, match=r"AADSTS7000215.*check connection\.dynamics\.credential"):
        asyncio.run(p.token())
    p.close()


class FailingFirst(Factory):
    """Fails the first ``n`` constructions with ``error``, then behaves."""

    def __init__(self, n: int, error: BaseException) -> None:
        super().__init__()
        self.left, self.error = n, error

    def __call__(self, **kwargs: Any) -> Any:
        if self.left:
            self.left -= 1
            raise self.error
        return super().__call__(**kwargs)


@pytest.mark.parametrize(
    "error",
    [
        auth.TemporaryIdentityFailure("HTTP 503", "t/oauth2/v2.0/token", status=503),
        auth.TemporaryIdentityFailure("HTTP 429", "t/oauth2/v2.0/token", status=429, retry_after="4"),
        requests.ConnectionError("dropped"),
    ],
)
def test_a_temporary_sign_in_failure_is_retried_with_backoff_and_counted(error: BaseException) -> None:
    stats = RequestStats()
    SLEPT.clear()
    p = provider(FailingFirst(2, error), stats=stats)
    assert asyncio.run(p.token()) == TOKEN
    assert stats.retries() == 2 and len(SLEPT) == 2
    if isinstance(error, auth.TemporaryIdentityFailure) and error.retry_after:
        assert SLEPT == [4.0, 4.0]  # Retry-After is honoured (within the sign-in's wait budget)


def test_the_run_budget_bounds_sign_in_retries_and_the_error_says_temporary() -> None:
    settings = ClientSettings(max_retries=10, max_retries_per_run=3)
    error = auth.TemporaryIdentityFailure("HTTP 429", "t/oauth2/v2.0/token", status=429)
    with pytest.raises(auth.IdentityUnavailable, match=r"failed 4 time\(s\).*retry budget \(3\) is spent"):
        asyncio.run(provider(FailingFirst(99, error), settings=settings, stats=RequestStats()).token())


# ------------------------------------------------------------------ an outage: short, remembered


class Counting(Factory):
    """Every construction (one sign-in attempt: MSAL's discovery) fails with ``error``; counted."""

    def __init__(self, error: BaseException) -> None:
        super().__init__()
        self.error, self.attempts = error, 0

    def __call__(self, **kwargs: Any) -> Any:
        self.attempts += 1
        raise self.error


HTTP_500 = auth.TemporaryIdentityFailure("HTTP 500", "t/oauth2/v2.0/token", status=500)


def test_a_failed_sign_in_is_remembered_for_the_run_every_later_request_fails_at_once() -> None:
    factory = Counting(HTTP_500)
    dataverse = provider(factory, stats=RequestStats())
    graph = provider(factory, stats=RequestStats())  # the tenant's other scope, same authority

    async def run() -> list[BaseException]:
        failures = []
        for p in (dataverse, dataverse, graph):
            with pytest.raises(auth.IdentityUnavailable) as caught:
                await p.token()
            failures.append(caught.value)
        return failures

    first, again, other_scope = asyncio.run(run())
    assert factory.attempts == 1 + auth.SIGN_IN_RETRIES  # one bounded sign-in, then memory
    assert first.message == again.message == other_scope.message
    assert first.exit_code == 3 and isinstance(first, TransportError) and isinstance(first, AuthError)
    factory.error = None  # type: ignore[assignment]
    assert asyncio.run(provider(Factory()).token()) == TOKEN  # a new run forgets


def test_after_two_failed_sign_ins_at_one_host_the_others_try_once() -> None:
    factory = Counting(HTTP_500)

    async def run() -> list[str]:
        messages = []
        for tenant in ("a", "b", "c", "d"):
            with pytest.raises(auth.IdentityUnavailable) as caught:
                await provider(factory, tenant=tenant, stats=RequestStats()).token()
            messages.append(caught.value.message)
        return messages

    messages = asyncio.run(run())
    assert factory.attempts == 2 * (1 + auth.SIGN_IN_RETRIES) + 2
    assert "so no retry" in messages[2] and "so no retry" not in messages[1]


def test_a_sign_in_that_succeeds_ends_the_outage() -> None:
    factory = FailingFirst(2 * (1 + auth.SIGN_IN_RETRIES), HTTP_500)

    async def run() -> str:
        for tenant in ("a", "b"):
            with pytest.raises(auth.IdentityUnavailable):
                await provider(factory, tenant=tenant, stats=RequestStats()).token()
        # The host answers again: "c" gets its one attempt, and "d" its retries again.
        token = await provider(factory, tenant="c").token()
        memory = auth.run_memory()
        assert memory.outage(AUTHORITY) == 0
        return token

    assert asyncio.run(run()) == TOKEN


def test_a_retry_after_beyond_the_wait_budget_ends_the_sign_in_now() -> None:
    SLEPT.clear()
    late = auth.TemporaryIdentityFailure(
        "HTTP 429", "t/oauth2/v2.0/token", status=429, retry_after=str(int(auth.SIGN_IN_WAIT_BUDGET) + 1)
    )
    with pytest.raises(auth.IdentityUnavailable, match=r"failed 1 time\(s\) \(HTTP 429\)") as caught:
        asyncio.run(provider(FailingFirst(99, late), stats=RequestStats()).token())
    assert SLEPT == [] and caught.value.retry_after == auth.SIGN_IN_WAIT_BUDGET + 1


def test_retries_are_logged_at_info_only(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("INFO"), pytest.raises(auth.IdentityUnavailable):
        asyncio.run(provider(Counting(HTTP_500), stats=RequestStats()).token())
    assert caplog.records and all(r.levelname == "INFO" for r in caplog.records)


def test_an_identity_403_blames_the_app_registrations_sign_in_never_the_tenant_id() -> None:
    class Refused:
        status_code = 403
        url = "https://login.test/t/v2.0/.well-known/openid-configuration"

        def json(self) -> Any:
            return {"error": "access_denied", "error_description": "AADSTS53003: Access has been blocked."}

        def close(self) -> None:
            pass

    with pytest.raises(auth.IdentityRefusal) as refusal:
        auth.refuse_temporary(Refused())  # type: ignore[arg-type]
    assert refusal.value.detail == "HTTP 403, AADSTS53003: Access has been blocked."
    factory = Counting(refusal.value)
    with pytest.raises(auth.SignInBlocked) as caught:
        asyncio.run(provider(factory).token())
    message = caught.value.message
    assert "AADSTS53003" in message and "app registration" in message and CLIENT_ID in message
    assert "check connection.dynamics.tenant_id" not in message and factory.attempts == 1
