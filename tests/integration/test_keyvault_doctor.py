"""`doctor` on the fleet: every Key Vault secret is checked (never printed), the JSON result lists
each credential's expiry (`credentials`), and a directory where the fleet's app has no service
principal gets the admin-consent URL."""

from __future__ import annotations

import json

import pytest

from .keyvault_fleet import FLEET, Fleet, assert_no_secret, fleet_fixture  # noqa: F401 (the fixture)

pytestmark = pytest.mark.integration

EXP = 1_900_000_000  # 2030-03-17T17:46:40Z


def test_doctor_checks_vault_secrets_lists_expiry_and_names_the_consent_url(fleet: Fleet) -> None:
    vault = fleet.handle.sandbox.keyvault.vaults["msp-fleet.vault.azure.net"]
    vault.secrets["tenant001-rescue-authcode"][-1].exp = EXP
    del vault.secrets["tenant004-sso-password"]
    identity = fleet.handle.sandbox.identity
    directory = next(t for t in identity.tenants.values() if t.name == "tenant003")
    app_id = next(iter(directory.clients))
    directory.clients.clear()  # no consent in tenant003's directory
    run = fleet.run("doctor", str(fleet.tenants), "--format", "json")
    assert run.code == 1, run.output
    reports = {r["tenant"]: r for r in json.loads(run.stdout)["tenants"]}
    assert len(reports) == FLEET and reports["tenant002"]["ok"], [
        c for c in reports["tenant002"]["checks"] if c["status"] != "pass"
    ]
    first = reports["tenant001"]
    assert first["credentials"] == [
        {
            "name": "https://msp-fleet.vault.azure.net/secrets/tenant001-rescue-authcode",
            "kind": "keyvault_secret",
            "expires_at": "2030-03-17T17:46:40Z",
        },
        {
            "name": "https://msp-fleet.vault.azure.net/secrets/tenant001-sso-password",
            "kind": "keyvault_secret",
            "expires_at": None,
        },
    ]
    vault_checks = [c for c in first["checks"] if c["name"] == "key vault secret"]
    assert [c["status"] for c in vault_checks] == ["pass", "pass"]
    assert "expires 2030-03-17T17:46:40+00:00" in vault_checks[0]["detail"]
    missing = [c for c in reports["tenant004"]["checks"] if c["status"] == "fail"]
    assert len(missing) == 1 and "tenant004-sso-password" in missing[0]["detail"]
    assert "tenant004/tenant.yaml:" in missing[0]["detail"]
    # The connection needs that secret: what doctor could not check is said, never passed over.
    [skipped] = [c for c in reports["tenant004"]["checks"] if c["status"] == "unknown"]
    assert skipped["name"] == "other checks" and "need the Key Vault secrets above" in skipped["detail"]
    token = next(c for c in reports["tenant003"]["checks"] if c["name"] == "token")
    assert token["status"] == "fail" and "AADSTS700016" in token["detail"]
    assert f"/{directory.tenant_id}/adminconsent?client_id={app_id}" in token["fix"]
    assert_no_secret(fleet.handle, run.output)


def test_doctor_names_the_consent_url_of_the_vault_directory(fleet: Fleet) -> None:
    msp = fleet.handle.info["keyvault"]["tenant_id"]
    directory = fleet.handle.sandbox.identity.tenants[msp.lower()]
    app_id = next(iter(directory.clients))
    directory.clients.clear()  # the fleet's app was never consented in the MSP's own directory
    run = fleet.run("doctor", str(fleet.tenants), "--format", "json", RECONCILE_MAX_RETRIES="0")
    assert run.code == 1, run.output
    for report in json.loads(run.stdout)["tenants"]:
        failed = [c for c in report["checks"] if c["status"] == "fail"]
        assert failed and all(c["name"] == "key vault secret" for c in failed), failed
        assert all(f"/{msp}/adminconsent?client_id={app_id}" in c["fix"] for c in failed)
        assert report["credentials"] == []
