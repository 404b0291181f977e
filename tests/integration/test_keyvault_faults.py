"""Each Key Vault failure fails (or makes Unknown) only the tenant whose secret it is, with a
message that says where the reference is written and names the vault and the secret; the other
tenants are planned; no value is printed."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from rescue_sandbox.keyvault.vault import Vault

from .conftest import control
from .keyvault_fleet import FLEET, Fleet, assert_no_secret, fleet_fixture  # noqa: F401 (the fixture)

pytestmark = pytest.mark.integration

VAULT = "https://msp-fleet.vault.azure.net"
SECRET = "tenant002-rescue-authcode"
FAST = {"RECONCILE_MAX_RETRIES": "2", "RECONCILE_BACKOFF_CAP": "0.01"}


def vault(fleet: Fleet) -> Vault:
    return fleet.handle.sandbox.keyvault.vaults["msp-fleet.vault.azure.net"]


def remove_secret(fleet: Fleet) -> None:
    control(fleet.handle, "DELETE", f"/keyvault/msp-fleet.vault.azure.net/secrets/{SECRET}")


def disable_secret(fleet: Fleet) -> None:
    control(
        fleet.handle, "PATCH", f"/keyvault/msp-fleet.vault.azure.net/secrets/{SECRET}", {"enabled": False}
    )


def move_to_another_directory(fleet: Fleet) -> None:
    """tenant002's secret in a vault of another directory: the fleet's token is not that
    directory's (401 AKV10032)."""
    other = Vault(
        "customer-kv.vault.azure.net", "0e6f2c1a-1111-4222-8333-944455556666", set(vault(fleet).readers)
    )
    other.put(SECRET, "not-read-ever-1234")
    fleet.handle.sandbox.keyvault.vaults[other.host] = other
    path = fleet.tenants / "tenant002" / "tenant.yaml"
    path.write_text(path.read_text().replace(VAULT, "https://customer-kv.vault.azure.net"))


CASES: dict[str, tuple[Callable[[Fleet], None] | str, str, bool]] = {
    # case: (what goes wrong, what the message says, temporary?)
    "401": (move_to_another_directory, "the vault refused the token (HTTP 401)", False),
    "403": ("keyvault:403=1,path=*tenant002-rescue*", "permission denied (HTTP 403)", False),
    "404": (remove_secret, "no such secret (HTTP 404 SecretNotFound)", False),
    "disabled": (disable_secret, "the secret is disabled (HTTP 403 SecretDisabled)", False),
    "429": ("keyvault:429=1,retry_after=0,path=*tenant002-rescue*", "still throttled after 3 attempts", True),
    "drop": ("keyvault:drop=1,path=*tenant002-rescue*", "connection failed after 3 attempts", True),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_vault_failure_stops_only_its_tenant(fleet: Fleet, case: str) -> None:
    cause, said, temporary = CASES[case]
    if isinstance(cause, str):
        fleet.faults(cause)
    else:
        cause(fleet)
    run = fleet.run("plan", str(fleet.tenants), "--format", "json", **FAST)
    assert run.code == (3 if temporary else 1), run.output
    tenants = {t["tenant"]: t for t in json.loads(run.stdout)["tenants"]}
    assert len(tenants) == FLEET
    failed = tenants.pop("tenant002")
    text = " ".join(failed["problems"]) if temporary else failed["error"]
    vault_url = "https://customer-kv.vault.azure.net" if case == "401" else VAULT
    assert "tenant002/tenant.yaml:" in text and ": connection.rescue.authcode: " in text, text
    assert f"Key Vault secret {SECRET} in {vault_url}" in text and said in text, text
    assert not any(t.get("error") or t.get("problems") for t in tenants.values())
    assert_no_secret(fleet.handle, run.output, root=fleet.tenants)
