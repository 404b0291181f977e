"""A fleet in several directories signs in with one app and one federated token, and reads every
Rescue secret from the sandbox's Key Vault, once per run and secret."""

from __future__ import annotations

import json

import pytest

from rescue_sandbox.keyvault.fleet import mint_token

from .keyvault_fleet import FLEET, Fleet, assert_no_secret, fleet_fixture  # noqa: F401 (the fixture)

pytestmark = pytest.mark.integration


def test_one_app_one_token_every_secret_from_the_vault(fleet: Fleet) -> None:
    plan = fleet.run("plan", str(fleet.tenants), "--format", "json")
    assert plan.code == 0, plan.output
    tenants = json.loads(plan.stdout)["tenants"]
    assert len(tenants) == FLEET and not any(t.get("error") or t.get("problems") for t in tenants)
    assert sum(1 for t in tenants if t["has_changes"]) >= 2  # drift to apply
    reads = fleet.vault_requests()
    assert len(reads) == 2 * FLEET and {e["status"] for e in reads} == {200}  # each secret once
    assert all(e["template"].startswith("/secrets/tenant") for e in reads)
    applied = fleet.run("apply", str(fleet.tenants), "--auto-approve")
    assert applied.code == 0, applied.output
    # plan, then apply's own plan and writes: still one read per secret and run
    assert len(fleet.vault_requests()) == 4 * FLEET
    again = fleet.run("plan", str(fleet.tenants), "--detailed-exitcode")
    assert again.code == 0, again.output
    assert_no_secret(fleet.handle, plan.output, applied.output, again.output, root=fleet.tenants)


def test_export_keeps_vault_references(fleet: Fleet) -> None:
    run = fleet.run("export", str(fleet.tenants), "--tenant", "tenant001", "--out", "-")
    assert run.code == 0, run.output
    vault = "https://msp-fleet.vault.azure.net"
    assert f"authcode: {{keyvault: {{vault: {vault}, secret: tenant001-rescue-authcode}}}}" in run.stdout
    assert f"sso_password: {{keyvault: {{vault: {vault}, secret: tenant001-sso-password}}}}" in run.stdout
    assert_no_secret(fleet.handle, run.output)


def test_a_fleet_with_a_client_secret_reads_the_vault_as_the_sandbox_app(fleet: Fleet) -> None:
    """Sandbox mode with a client secret: the vault is read as the app sandbox.json names for
    the vault's directory (the secret itself is the sandbox's, as for every sign-in there)."""
    defaults = fleet.tenants / "_defaults.yaml"
    text = defaults.read_text().replace(
        "federated_token_file:\n        env: AZURE_FEDERATED_TOKEN_FILE",
        "client_secret:\n        env: FLEET_CLIENT_SECRET",
    )
    assert "FLEET_CLIENT_SECRET" in text
    defaults.write_text(text)
    run = fleet.run("plan", str(fleet.tenants), "--format", "json")
    assert run.code == 0, run.output
    assert len(fleet.vault_requests()) == 2 * FLEET


def test_the_one_federated_token_is_what_signs_in(fleet: Fleet) -> None:
    """A token of another subject: no directory, the vault's included, lets the app in."""
    fleet.token_file.write_text(
        mint_token(fleet.root, subject="repo:someone/else:ref:refs/heads/main"), "ascii"
    )
    run = fleet.run("plan", str(fleet.tenants), "--format", "json")
    assert run.code == 1, run.output
    tenants = json.loads(run.stdout)["tenants"]
    assert len(tenants) == FLEET and all("AADSTS70021" in t["error"] for t in tenants), tenants
    assert all("check connection.dynamics.credential" in t["error"] for t in tenants), tenants
    assert not fleet.vault_requests()
