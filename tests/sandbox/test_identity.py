"""Entra ID and Graph emulator conformance: msal against the sandbox, and the raw OAuth2 shapes.

msal is an independent client: it fetches discovery in its constructor, posts the documented
client-credentials form, signs certificate assertions itself, and reports failures as a dict.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import msal
import pytest
import requests

from rescue_sandbox import SandboxHandle
from rescue_sandbox.entra.identity import IdentityService
from rescue_sandbox.entra.tenant import AppClient, IdentityTenant
from rescue_sandbox.tls import key_to_pem, new_rsa_key, self_signed_client_cert, sha1_thumbprint

pytestmark = pytest.mark.integration

LOGMEIN_APP = "1e2716f5-fee6-4370-a121-baea6d360668"


@pytest.fixture(scope="module")
def session(demo: SandboxHandle) -> Iterator[requests.Session]:
    """What the product gives msal: trust only the sandbox CA, ignore REQUESTS_CA_BUNDLE & co."""
    with requests.Session() as s:
        s.trust_env = False
        s.verify = str(demo.ca_file)
        yield s


def app(
    demo: SandboxHandle, session: requests.Session, tenant: str, credential: Any
) -> msal.ConfidentialClientApplication:
    info = demo.info["tenants"][tenant]
    return msal.ConfidentialClientApplication(
        info["client_id"],
        client_credential=credential,
        authority=info["authority"],
        instance_discovery=False,
        http_client=session,
    )


def dataverse_scope(demo: SandboxHandle, tenant: str) -> list[str]:
    return [f"{demo.info['tenants'][tenant]['dataverse_url']}/.default"]


def test_discovery_document(client: httpx.Client, demo: SandboxHandle) -> None:
    authority = demo.info["tenants"]["contoso"]["authority"]
    doc = client.get(f"{authority}/v2.0/.well-known/openid-configuration").json()
    assert doc["token_endpoint"] == f"{authority}/oauth2/v2.0/token"
    assert doc["issuer"] == f"{authority}/v2.0"
    assert doc["authorization_endpoint"].startswith(authority)
    assert "private_key_jwt" in doc["token_endpoint_auth_methods_supported"]
    keys = client.get(doc["jwks_uri"]).json()["keys"]
    assert keys and keys[0]["kty"] == "RSA"
    unknown = client.get(f"{demo.url}/identity/{uuid.uuid4()}/v2.0/.well-known/openid-configuration")
    assert unknown.status_code == 400 and "AADSTS90002" in unknown.json()["error_description"]


def test_msal_client_secret(demo: SandboxHandle, session: requests.Session, client: httpx.Client) -> None:
    info = demo.info["tenants"]["contoso"]
    result = app(demo, session, "contoso", info["client_secret"]).acquire_token_for_client(
        scopes=dataverse_scope(demo, "contoso")
    )
    assert result.get("token_type") == "Bearer", result
    assert 3000 < result["expires_in"] <= 3600
    claims = jwt.decode(result["access_token"], options={"verify_signature": False})
    assert claims["aud"] == info["dataverse_url"]
    assert claims["tid"] == "6c1f4d5e-2a7b-4c1d-9e3f-0a1b2c3d4e5f"
    assert claims["appid"] == claims["azp"] == info["client_id"]
    assert claims["exp"] > time.time() and uuid.UUID(claims["oid"])
    assert demo.sandbox.identity.verify_token(result["access_token"])["oid"] == claims["oid"]


def test_msal_real_org_url_scope(demo: SandboxHandle, session: requests.Session) -> None:
    info = demo.info["tenants"]["contoso"]
    result = app(demo, session, "contoso", info["client_secret"]).acquire_token_for_client(
        scopes=["https://contoso.crm.dynamics.com/.default"]
    )
    assert jwt.decode(result["access_token"], options={"verify_signature": False})["aud"] == (
        "https://contoso.crm.dynamics.com"
    )


def test_msal_certificate(demo: SandboxHandle, session: requests.Session) -> None:
    info = demo.info["tenants"]["fabrikam"]
    key = Path(info["certificate"]["private_key_file"]).read_text()
    assert oct(Path(info["certificate"]["private_key_file"]).stat().st_mode & 0o777) == "0o600"
    credential = {"private_key": key, "thumbprint": info["certificate"]["thumbprint"]}
    result = app(demo, session, "fabrikam", credential).acquire_token_for_client(
        scopes=dataverse_scope(demo, "fabrikam")
    )
    assert result.get("access_token"), result
    # The tenant file's {file: ...} reference resolves to the same key in sandbox mode.
    assert info["secrets"]["file:/etc/reconciler/fabrikam.key.pem"] == key


def test_msal_certificate_with_an_unregistered_key_fails(
    demo: SandboxHandle, session: requests.Session
) -> None:
    info = demo.info["tenants"]["fabrikam"]
    cert, key = self_signed_client_cert("intruder")
    pem = key_to_pem(key)
    other = app(demo, session, "fabrikam", {"private_key": pem, "thumbprint": sha1_thumbprint(cert)})
    result = other.acquire_token_for_client(scopes=dataverse_scope(demo, "fabrikam"))
    assert result["error"] == "invalid_client" and "AADSTS700027" in result["error_description"]
    # The right thumbprint but the wrong key: the signature does not verify.
    forged = app(
        demo, session, "fabrikam", {"private_key": pem, "thumbprint": info["certificate"]["thumbprint"]}
    )
    result = forged.acquire_token_for_client(scopes=dataverse_scope(demo, "fabrikam"))
    assert result["error"] == "invalid_client" and "signature validation" in result["error_description"]


def test_msal_wrong_secret_is_an_error_dict(demo: SandboxHandle, session: requests.Session) -> None:
    result = app(demo, session, "contoso", "not-the-secret").acquire_token_for_client(
        scopes=dataverse_scope(demo, "contoso")
    )
    assert "access_token" not in result
    assert result["error"] == "invalid_client"
    assert result["error_description"].startswith("AADSTS7000215: Invalid client secret provided.")
    assert result["error_codes"] == [7000215]


def test_msal_federated_assertion(
    demo: SandboxHandle, session: requests.Session, client: httpx.Client
) -> None:
    reply = client.post(f"{demo.url}/_sandbox/tenants/fabrikam/federated-token")
    assert reply.status_code == 200
    token = reply.json()["token"]
    result = app(demo, session, "fabrikam", {"client_assertion": lambda: token}).acquire_token_for_client(
        scopes=dataverse_scope(demo, "fabrikam")
    )
    assert result.get("access_token"), result
    # A token of an issuer nobody registered is refused.
    rogue = jwt.encode(
        {
            "iss": "https://evil.example",
            "sub": "x",
            "aud": "api://AzureADTokenExchange",
            "exp": time.time() + 60,
        },
        new_rsa_key(),
        algorithm="RS256",
    )
    result = app(demo, session, "fabrikam", {"client_assertion": lambda: rogue}).acquire_token_for_client(
        scopes=dataverse_scope(demo, "fabrikam")
    )
    assert "AADSTS70021" in result["error_description"]
    no_issuer = client.post(f"{demo.url}/_sandbox/tenants/contoso/federated-token")
    assert no_issuer.status_code == 404


def token_request(client: httpx.Client, demo: SandboxHandle, tenant: str, **changes: str) -> httpx.Response:
    info = demo.info["tenants"][tenant]
    form = {
        "grant_type": "client_credentials",
        "client_id": info["client_id"],
        "client_secret": info["client_secret"],
        "scope": f"{info['dataverse_url']}/.default",
    } | changes
    return client.post(f"{info['authority']}/oauth2/v2.0/token", data={k: v for k, v in form.items() if v})


@pytest.mark.parametrize(
    ("changes", "status", "error", "code"),
    [
        ({"grant_type": "password"}, 400, "unsupported_grant_type", 70003),
        ({"grant_type": ""}, 400, "invalid_request", 900144),
        ({"client_id": "00000000-0000-0000-0000-000000000001"}, 400, "unauthorized_client", 700016),
        ({"client_secret": ""}, 401, "invalid_client", 7000218),
        ({"scope": "https://contoso.crm.dynamics.com/user_impersonation"}, 400, "invalid_scope", 1002012),
        ({"scope": "https://fabrikam.crm4.dynamics.com/.default"}, 400, "invalid_resource", 500011),
    ],
)
def test_token_endpoint_errors(
    client: httpx.Client, demo: SandboxHandle, changes: dict[str, str], status: int, error: str, code: int
) -> None:
    reply = token_request(client, demo, "contoso", **changes)
    assert reply.status_code == status
    body = reply.json()
    assert body["error"] == error and body["error_codes"] == [code]
    assert body["error_description"].startswith(f"AADSTS{code}:")
    assert {"timestamp", "trace_id", "correlation_id"} <= set(body)


def test_client_secret_basic_auth(client: httpx.Client, demo: SandboxHandle) -> None:
    info = demo.info["tenants"]["contoso"]
    reply = client.post(
        f"{info['authority']}/oauth2/v2.0/token",
        data={"grant_type": "client_credentials", "scope": f"{info['dataverse_url']}/.default"},
        auth=(info["client_id"], info["client_secret"]),
    )
    assert reply.status_code == 200 and reply.json()["token_type"] == "Bearer"


def test_verify_token_refuses_expired_and_foreign_tokens() -> None:
    base = "https://127.0.0.1:1"
    service = IdentityService(new_rsa_key(), lambda: base)
    client = AppClient("c1", "o1", secret="s")
    tenant = IdentityTenant("t", "tid", {"c1": client}, ["https://org.crm.dynamics.com"], token_lifetime=-5)
    service.add_tenant(tenant)
    expired, _ = service.issue_token(tenant, client, "https://org.crm.dynamics.com")
    with pytest.raises(ValueError, match="invalid token"):
        service.verify_token(expired)
    tenant.token_lifetime = 60
    good, _ = service.issue_token(tenant, client, "https://org.crm.dynamics.com")
    assert service.verify_token(good)["aud"] == "https://org.crm.dynamics.com"
    other = IdentityService(new_rsa_key(), lambda: base)
    with pytest.raises(ValueError):
        other.verify_token(good)


# -- Graph ------------------------------------------------------------------------------------


def graph_get(
    client: httpx.Client, demo: SandboxHandle, tenant: str, token: str, **params: str
) -> httpx.Response:
    url = f"{demo.info['tenants'][tenant]['graph_url']}/v1.0/servicePrincipals"
    return client.get(url, params=params, headers={"Authorization": f"Bearer {token}"})


def test_graph_service_principal_by_app_id(
    client: httpx.Client, demo: SandboxHandle, get_token: Callable[[SandboxHandle, str, str], str]
) -> None:
    token = get_token(demo, "fabrikam", "https://graph.microsoft.com")
    reply = graph_get(
        client,
        demo,
        "fabrikam",
        token,
        **{"$filter": f"appId eq '{LOGMEIN_APP}'", "$select": "id,appId,displayName"},
    )
    assert reply.status_code == 200
    (principal,) = reply.json()["value"]
    assert principal["appId"] == LOGMEIN_APP and principal["displayName"] == "LogMeIn Rescue Integration"
    assert set(principal) == {"id", "appId", "displayName"}
    contoso = get_token(demo, "contoso", f"{demo.url}/graph")
    assert (
        graph_get(client, demo, "contoso", contoso, **{"$filter": f"appId eq '{LOGMEIN_APP}'"}).json()[
            "value"
        ]
        == []
    )
    by_key = client.get(
        f"{demo.url}/graph/v1.0/servicePrincipals(appId='{LOGMEIN_APP}')",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert by_key.status_code == 200 and by_key.json()["appId"] == LOGMEIN_APP


def test_graph_refuses_missing_and_foreign_tokens(
    client: httpx.Client, demo: SandboxHandle, get_token: Callable[[SandboxHandle, str, str], str]
) -> None:
    missing = client.get(f"{demo.url}/graph/v1.0/servicePrincipals")
    assert missing.status_code == 401 and missing.json()["error"]["code"] == "InvalidAuthenticationToken"
    dataverse_token = get_token(demo, "fabrikam", demo.info["tenants"]["fabrikam"]["dataverse_url"])
    wrong_audience = graph_get(client, demo, "fabrikam", dataverse_token)
    assert wrong_audience.status_code == 401
    token = get_token(demo, "fabrikam", "https://graph.microsoft.com")
    bad_filter = graph_get(client, demo, "fabrikam", token, **{"$filter": "startswith(displayName,'L')"})
    assert bad_filter.status_code == 400 and bad_filter.json()["error"]["code"] == "Request_UnsupportedQuery"
    bad_select = graph_get(client, demo, "fabrikam", token, **{"$select": "secret"})
    assert bad_select.status_code == 400


def test_a_token_is_good_for_its_own_org_only(
    client: httpx.Client, demo: SandboxHandle, get_token: Callable[[SandboxHandle, str, str], str]
) -> None:
    contoso = demo.info["tenants"]["contoso"]
    token = get_token(demo, "contoso", contoso["dataverse_url"])
    headers = {"Authorization": f"Bearer {token}"}
    assert (
        client.get(f"{contoso['dataverse_url']}/api/data/v9.2/solutions", headers=headers).status_code == 200
    )
    fabrikam = demo.info["tenants"]["fabrikam"]["dataverse_url"]
    assert client.get(f"{fabrikam}/api/data/v9.2/solutions", headers=headers).status_code == 401
    graph = get_token(demo, "contoso", "https://graph.microsoft.com")
    refused = client.get(
        f"{contoso['dataverse_url']}/api/data/v9.2/solutions", headers={"Authorization": f"Bearer {graph}"}
    )
    assert refused.status_code == 401
