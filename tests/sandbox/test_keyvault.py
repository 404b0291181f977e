"""The Key Vault emulator against raw requests: the challenge, the token checks (audience,
directory), the role, versions, a disabled or missing secret, expiry, and its faults."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from rescue_sandbox import SandboxHandle, running_sandbox
from rescue_sandbox.keyvault.fleet import generate_fleet, mint_token
from rescue_sandbox.keyvault.vault import Vault

pytestmark = pytest.mark.integration

HOST = "msp-fleet.vault.azure.net"


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SandboxHandle, Path]]:
    root = tmp_path_factory.mktemp("kv")
    generate_fleet(root, tenants=2)
    with running_sandbox(root / "seed.yaml") as handle:
        yield handle, root


@pytest.fixture(scope="module")
def client(fleet: tuple[SandboxHandle, Path]) -> Iterator[httpx.Client]:
    with httpx.Client(verify=ssl.create_default_context(cafile=str(fleet[0].ca_file)), trust_env=False) as c:
        yield c


def token(client: httpx.Client, handle: SandboxHandle, root: Path, tenant_id: str, scope: str) -> str:
    info = handle.info["keyvault"]
    form = {
        "grant_type": "client_credentials",
        "client_id": info["client_id"],
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": mint_token(root),
        "scope": scope,
    }
    reply = client.post(f"{handle.url}/identity/{tenant_id}/oauth2/v2.0/token", data=form)
    assert reply.status_code == 200, reply.text
    return str(reply.json()["access_token"])


def get(
    client: httpx.Client, handle: SandboxHandle, path: str, bearer: str | None, version: str = "2025-07-01"
) -> httpx.Response:
    query = f"?api-version={version}" if version else ""
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    return client.get(f"{handle.url}/keyvault/{HOST}/secrets/{path}{query}", headers=headers)


def vault(handle: SandboxHandle) -> Vault:
    return handle.sandbox.keyvault.vaults[HOST]


def test_the_challenge_the_token_checks_and_the_role(
    fleet: tuple[SandboxHandle, Path], client: httpx.Client
) -> None:
    handle, root = fleet
    msp = handle.info["keyvault"]["tenant_id"]
    reply = get(client, handle, "tenant001-sso-password", None)
    assert reply.status_code == 401 and "AKV10000" in reply.json()["error"]["message"]
    assert reply.headers["www-authenticate"] == (
        f'Bearer authorization="{handle.url}/identity/{msp}", resource="https://vault.azure.net"'
    )
    good = token(client, handle, root, msp, "https://vault.azure.net/.default")
    assert get(client, handle, "tenant001-sso-password", good, version="").status_code == 400
    reply = get(client, handle, "tenant001-sso-password", good)
    assert reply.status_code == 200 and reply.json()["id"].startswith(
        f"https://{HOST}/secrets/tenant001-sso-password/"
    )
    customer = handle.info["tenants"]["tenant001"]["authority"].rsplit("/", 1)[-1]
    foreign = token(client, handle, root, customer, "https://vault.azure.net/.default")
    reply = get(client, handle, "tenant001-sso-password", foreign)
    assert reply.status_code == 401 and "AKV10032" in reply.json()["error"]["message"]
    graph = token(client, handle, root, msp, "https://graph.microsoft.com/.default")
    reply = get(client, handle, "tenant001-sso-password", graph)
    assert reply.status_code == 401 and "AKV10022" in reply.json()["error"]["message"]
    readers = set(vault(handle).readers)
    vault(handle).readers.clear()
    try:
        for name in ("tenant001-sso-password", "no-such-secret"):  # existence is not revealed
            reply = get(client, handle, name, good)
            assert reply.status_code == 403
            assert reply.json()["error"]["innererror"]["code"] == "ForbiddenByRbac"
    finally:
        vault(handle).readers.update(readers)


def test_versions_disabled_missing_and_expiry(
    fleet: tuple[SandboxHandle, Path], client: httpx.Client
) -> None:
    handle, root = fleet
    good = token(
        client, handle, root, handle.info["keyvault"]["tenant_id"], "https://vault.azure.net/.default"
    )
    first = vault(handle).secrets["tenant002-sso-password"][-1]
    second = vault(handle).put("tenant002-sso-password", "newer-value-123", exp=1)  # expired: still served
    reply = get(client, handle, "tenant002-sso-password", good).json()
    assert reply["value"] == "newer-value-123" and reply["attributes"]["exp"] == 1
    assert get(client, handle, f"tenant002-sso-password/{first.version}", good).json()["value"] == first.value
    second.enabled = False
    reply = get(client, handle, "tenant002-sso-password", good)
    assert reply.status_code == 403
    body: dict[str, Any] = reply.json()["error"]
    assert body["innererror"]["code"] == "SecretDisabled"
    assert body["message"] == "Operation get is not allowed on a disabled secret."
    reply = get(client, handle, "tenant002-sso-password/" + "0" * 32, good)
    assert reply.status_code == 404 and reply.json()["error"]["code"] == "SecretNotFound"


def test_throttling_fault_in_the_vault_shape(fleet: tuple[SandboxHandle, Path], client: httpx.Client) -> None:
    handle, root = fleet
    good = token(
        client, handle, root, handle.info["keyvault"]["tenant_id"], "https://vault.azure.net/.default"
    )
    client.post(f"{handle.url}/_sandbox/faults", json={"spec": "keyvault:429=1,retry_after=2,count=1"})
    reply = get(client, handle, "tenant001-sso-password", good)
    assert reply.status_code == 429 and reply.headers["retry-after"] == "2"
    assert reply.json()["error"]["code"] == "Throttled"
    assert get(client, handle, "tenant001-sso-password", good).status_code == 200


def test_controls_change_secrets_and_readers(fleet: tuple[SandboxHandle, Path], client: httpx.Client) -> None:
    handle, root = fleet
    good = token(
        client, handle, root, handle.info["keyvault"]["tenant_id"], "https://vault.azure.net/.default"
    )
    base = f"{handle.url}/_sandbox/keyvault/{HOST}"
    reply = client.put(
        f"{base}/secrets/tenant001-extra", json={"value": "extra-value-1", "exp": 2_000_000_000}
    )
    assert reply.status_code == 200 and "value" not in reply.json() and reply.json()["exp"] == 2_000_000_000
    assert get(client, handle, "tenant001-extra", good).json()["value"] == "extra-value-1"
    assert client.patch(f"{base}/secrets/tenant001-extra", json={"enabled": "no"}).status_code == 400
    assert client.patch(f"{base}/secrets/tenant001-extra", json={"enabled": False}).json()["enabled"] is False
    assert get(client, handle, "tenant001-extra", good).status_code == 403
    assert client.delete(f"{base}/secrets/tenant001-extra").status_code == 200
    assert get(client, handle, "tenant001-extra", good).status_code == 404
    app = handle.info["keyvault"]["client_id"]
    assert app not in client.delete(f"{base}/readers/{app}").json()["readers"]
    assert get(client, handle, "tenant001-sso-password", good).status_code == 403
    assert app in client.put(f"{base}/readers/{app}").json()["readers"]
    assert get(client, handle, "tenant001-sso-password", good).status_code == 200
    assert (
        client.put(
            f"{handle.url}/_sandbox/keyvault/nope.vault.azure.net/secrets/x", json={"value": "v"}
        ).status_code
        == 404
    )


def test_the_seed_command_writes_a_fleet_identity_fleet(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from reconciler.cli import cli

    out = tmp_path / "fleet"
    result = CliRunner().invoke(
        cli,
        ["sandbox", "seed", "--out", str(out), "--tenants", "2", "--technicians", "1", "--fleet-identity"],
    )
    assert result.exit_code == 0, result.output
    assert f"AZURE_FEDERATED_TOKEN_FILE={out / 'federated-token'}" in result.output
    defaults = (out / "tenants" / "_defaults.yaml").read_text()
    assert "federated_token_file" in defaults and "keyvault:" in defaults
    own = (out / "tenants" / "tenant001" / "tenant.yaml").read_text()
    assert "client_id" not in own and "credential" not in own
    assert "secret: tenant001-rescue-authcode" in own and "env:" not in own


def test_the_vaults_persist_in_the_state_directory(tmp_path: Path) -> None:
    generate_fleet(tmp_path / "seed", tenants=1)
    state = tmp_path / "state"
    with running_sandbox(tmp_path / "seed" / "seed.yaml", state_dir=state) as handle:
        vault(handle).put("tenant001-later", "added-while-running")
        vault(handle).secrets["tenant001-sso-password"][-1].enabled = False
        directory = handle.info["keyvault"]["tenant_id"]
    with running_sandbox(None, state_dir=state) as again:
        assert again.info["keyvault"]["tenant_id"] == directory
        restored = vault(again)
        assert restored.find("tenant001-later", None) is not None
        assert restored.secrets["tenant001-sso-password"][-1].enabled is False
        assert again.info["tenants"]["tenant001"]["sign_in"] == "tenant_file"
