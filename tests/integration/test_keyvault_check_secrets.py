"""`validate --check-secrets` reads every Key Vault secret the tenants name (with the fleet's
identity) and lists each one that cannot be read at its reference; never a value."""

from __future__ import annotations

import pytest

from .keyvault_fleet import FLEET, Fleet, assert_no_secret, fleet_fixture  # noqa: F401 (the fixture)

pytestmark = pytest.mark.integration


def test_check_secrets_reads_each_vault_secret_once_and_locates_the_missing(fleet: Fleet) -> None:
    run = fleet.run("validate", str(fleet.tenants), "--check-secrets")
    assert run.code == 0, run.output
    assert run.stdout.count("3 secrets resolved") == FLEET  # the token file and two vault secrets
    assert len(fleet.vault_requests()) == 2 * FLEET
    vault = fleet.handle.sandbox.keyvault.vaults["msp-fleet.vault.azure.net"]
    del vault.secrets["tenant003-sso-password"]
    vault.secrets["tenant001-rescue-authcode"][-1].enabled = False
    run = fleet.run("validate", str(fleet.tenants), "--check-secrets")
    assert run.code == 1, run.output
    lines = [line for line in run.stderr.splitlines() if "Key Vault secret" in line]
    assert len(lines) == 2, run.stderr
    assert "tenant001/tenant.yaml:" in lines[0] and ": connection.rescue.authcode: " in lines[0]
    assert "tenant001-rescue-authcode in https://msp-fleet.vault.azure.net" in lines[0]
    assert "disabled" in lines[0]
    assert "tenant003/tenant.yaml:" in lines[1] and ": integration.sso_password: " in lines[1]
    assert "no such secret (HTTP 404 SecretNotFound)" in lines[1]
    assert_no_secret(fleet.handle, run.output)


def test_a_vault_reference_needs_the_vault_sign_in(fleet: Fleet) -> None:
    defaults = fleet.tenants / "_defaults.yaml"
    defaults.write_text(defaults.read_text().replace("  keyvault:\n", "  keyvaultx:\n"))
    run = fleet.run("validate", str(fleet.tenants))
    assert run.code == 1
    assert (
        "connection.rescue.authcode.keyvault: a Key Vault secret needs connection.keyvault.tenant_id"
        in run.stderr
    )
    assert not fleet.vault_requests()
