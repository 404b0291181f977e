"""The Key Vault client against scripted replies: the request it sends, what it reads of a
SecretBundle, each error status in our vocabulary naming vault and secret, retries; never a value."""

from __future__ import annotations

import datetime as dt
import json
from functools import partial
from typing import Any

import httpx
import pytest
from client_harness import FakeSleep, FakeTokens, cause_chain, recorder, run_client

from reconciler.errors import ApiError, AuthError, NotFoundError, ProtocolError, RateLimitedError
from reconciler.providers.base import ClientOptions
from reconciler.providers.http import ClientSettings
from reconciler.providers.keyvault import KeyVaultClient, VaultSecret

VAULT = "https://msp-fleet.vault.azure.net"
VALUE = "s3cr3t-authcode-value"


def new_client(options: ClientOptions) -> KeyVaultClient:
    return KeyVaultClient(VAULT, vault=VAULT, tokens=FakeTokens("vault-token"), **options)


run = partial(run_client, new_client)


def bundle(**attributes: Any) -> httpx.Response:
    body = {
        "value": VALUE,
        "id": f"{VAULT}/secrets/contoso-rescue-authcode/4387e9f3d6e14c459867679a90fd0f79",
        "attributes": {"enabled": True, "created": 1493938410, "updated": 1493938410, **attributes},
    }
    return httpx.Response(200, json=body)


def error(status: int, code: str, message: str, inner: str | None = None, **headers: str) -> httpx.Response:
    body: dict[str, Any] = {"error": {"code": code, "message": message}}
    if inner:
        body["error"]["innererror"] = {"code": inner}
    return httpx.Response(status, json=body, headers=headers)


def test_get_secret_sends_the_documented_request_and_reads_value_and_expiry() -> None:
    handler, seen = recorder(bundle(exp=1_900_000_000))
    secret: VaultSecret = run(handler, lambda c: c.get_secret("contoso-rescue-authcode"))
    assert secret.value.get_secret_value() == VALUE and VALUE not in repr(secret)
    assert secret.expires_at == dt.datetime(2030, 3, 17, 17, 46, 40, tzinfo=dt.UTC)
    assert secret.version == "4387e9f3d6e14c459867679a90fd0f79"
    request = seen[0]
    assert request.method == "GET"
    assert str(request.url) == f"{VAULT}/secrets/contoso-rescue-authcode?api-version=2025-07-01"
    assert request.headers["authorization"] == "Bearer vault-token"
    handler, seen = recorder(bundle())
    assert run(handler, lambda c: c.get_secret("a", "4387e9f3d6e14c459867679a90fd0f79")).expires_at is None
    assert seen[0].url.path == "/secrets/a/4387e9f3d6e14c459867679a90fd0f79"


@pytest.mark.parametrize(
    ("reply", "kind", "said"),
    [
        (
            error(401, "Unauthorized", "AKV10032: Invalid issuer."),
            AuthError,
            "the vault refused the token (HTTP 401)",
        ),
        (
            error(403, "Forbidden", "Caller is not authorized", "ForbiddenByRbac"),
            ApiError,
            "permission denied (HTTP 403) (ForbiddenByRbac: Caller is not authorized)",
        ),
        (
            error(403, "Forbidden", "Operation get is not allowed on a disabled secret.", "SecretDisabled"),
            ApiError,
            "the secret is disabled (HTTP 403 SecretDisabled)",
        ),
        (
            error(404, "SecretNotFound", "A secret with (name/id) x was not found"),
            NotFoundError,
            "no such secret",
        ),
        (httpx.Response(200, json={"id": "x"}), ProtocolError, "the reply has no value or attributes"),
        (  # a vault reply with a date no calendar holds fails its tenant, never the run
            httpx.Response(
                200, json={"value": VALUE, "attributes": {"enabled": True, "exp": 99999999999999}}
            ),
            ProtocolError,
            "the reply's expiry (attributes.exp) is no date",
        ),
    ],
)
def test_each_failure_names_vault_and_secret(reply: httpx.Response, kind: type[Exception], said: str) -> None:
    handler, _ = recorder(reply)
    with pytest.raises(kind) as caught:
        run(handler, lambda c: c.get_secret("contoso-rescue-authcode"))
    message = str(caught.value)
    assert f"Key Vault secret contoso-rescue-authcode in {VAULT}: {said}" in message, message
    assert all(VALUE not in str(e) for e in cause_chain(caught.value))


def test_throttling_is_retried_then_temporary() -> None:
    throttled = error(429, "Throttled", "Request was not processed because too many requests were received.")
    sleep = FakeSleep()
    handler, seen = recorder(throttled, bundle())
    assert run(handler, lambda c: c.get_secret("a"), sleep=sleep).value.get_secret_value() == VALUE
    assert len(seen) == 2 and len(sleep.calls) == 1
    handler, seen = recorder(throttled)
    with pytest.raises(RateLimitedError, match="still throttled after 3 attempts"):
        run(handler, lambda c: c.get_secret("a"), settings=ClientSettings(max_retries=2), sleep=FakeSleep())
    assert len(seen) == 3


def test_an_empty_value_is_refused_never_used() -> None:
    handler, _ = recorder(
        httpx.Response(200, content=json.dumps({"value": " ", "attributes": {"enabled": True}}))
    )
    with pytest.raises(ApiError, match="the secret is empty"):
        run(handler, lambda c: c.get_secret("a"))
