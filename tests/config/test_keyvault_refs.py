"""Key Vault secret references in tenant files: their shape, the vault host per cloud, the vault
sign-in they need, and whose secrets a tenant file may name; each a located problem, no network."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from reconciler.config.hosts import key_vault_resource
from reconciler.config.types import SecretRef

VAULT = "https://msp-fleet.vault.azure.net"
SIGN_IN = "  keyvault:\n    tenant_id: 33333333-4444-4555-8666-777777777777\n"


def with_vault(
    acme: str, ref: str = f"{{keyvault: {{vault: {VAULT}, secret: acme-rescue-authcode}}}}"
) -> str:
    return acme.replace("authcode: {env: ACME_RESCUE_AUTHCODE}", f"authcode: {ref}").replace(
        "  rescue:\n", SIGN_IN + "  rescue:\n", 1
    )


def test_a_reference_names_the_vault_secret_and_an_optional_version() -> None:
    ref = SecretRef.model_validate({"keyvault": {"vault": VAULT + "/", "secret": "acme-x"}})
    assert ref.ref == f"keyvault:{VAULT}/secrets/acme-x"
    versioned = SecretRef.model_validate(
        {"keyvault": {"vault": VAULT, "secret": "acme-x", "version": "A" * 32}}
    )
    assert versioned.ref == f"keyvault:{VAULT}/secrets/acme-x/{'a' * 32}"


@pytest.mark.parametrize(
    ("keyvault", "said"),
    [
        ({"vault": VAULT + "/secrets", "secret": "a"}, "has a path"),
        ({"vault": "https://a.vault.azure.net", "secret": "a"}, "is not a Key Vault name"),
        ({"vault": "https://my--vault.vault.azure.net", "secret": "a"}, "is not a Key Vault name"),
        ({"vault": "http://msp.vault.azure.net", "secret": "a"}, "only https://"),
        ({"vault": VAULT, "secret": "acme_authcode"}, "is not a Key Vault secret name"),
        ({"vault": VAULT, "secret": "1abc"}, "is not a Key Vault secret name"),
        ({"vault": VAULT, "secret": "a", "version": "latest"}, "32 hexadecimal digits"),
    ],
)
def test_a_malformed_reference_is_refused(keyvault: dict[str, str], said: str) -> None:
    with pytest.raises(ValidationError) as caught:
        SecretRef.model_validate({"keyvault": keyvault})
    assert said in str(caught.value)


def test_one_kind_of_reference_at_a_time() -> None:
    with pytest.raises(ValidationError, match="exactly one of `env`, `file` or `keyvault`"):
        SecretRef.model_validate({"env": "A", "keyvault": {"vault": VAULT, "secret": "a"}})


def test_vault_hosts_per_cloud() -> None:
    assert key_vault_resource(VAULT) == "https://vault.azure.net"
    assert key_vault_resource("https://msp.vault.azure.cn") == "https://vault.azure.cn"
    assert key_vault_resource("https://msp.vault.usgovcloudapi.net") == "https://vault.usgovcloudapi.net"
    assert key_vault_resource("https://msp.vault.azure.net.evil.example") is None
    assert key_vault_resource("https://a.b.vault.azure.net") is None


def test_a_valid_vault_reference_validates(write_tree: Any, acme: str, reconcile: Any) -> None:
    root = write_tree({"tenants/acme/tenant.yaml": with_vault(acme)})
    outcome = reconcile(["validate", "tenants"], cwd=root)
    assert outcome.exit_code == 0, outcome.stderr


def test_another_host_is_refused_unless_allowed(write_tree: Any, acme: str, reconcile: Any) -> None:
    ref = "{keyvault: {vault: https://vault.evil.example, secret: acme-rescue-authcode}}"
    root = write_tree({"tenants/acme/tenant.yaml": with_vault(acme, ref)})
    outcome = reconcile(["validate", "tenants"], cwd=root)
    assert outcome.exit_code == 1
    line = outcome.stderr.splitlines()[0]
    assert ": connection.rescue.authcode.keyvault.vault: " in line and "an Azure Key Vault" in line
    assert "Key Vault token would be sent there" in line
    allowed = reconcile(["validate", "tenants", "--allow-host", "vault.evil.example"], cwd=root)
    assert allowed.exit_code == 0, allowed.stderr


def test_a_reference_needs_the_vault_sign_in(write_tree: Any, acme: str, reconcile: Any) -> None:
    root = write_tree({"tenants/acme/tenant.yaml": with_vault(acme).replace(SIGN_IN, "")})
    outcome = reconcile(["validate", "tenants"], cwd=root)
    assert outcome.exit_code == 1
    assert "tenants/acme/tenant.yaml:10:26: " in outcome.stderr
    assert (
        "connection.rescue.authcode.keyvault: a Key Vault secret needs connection.keyvault.tenant_id"
        in outcome.stderr
    )


def test_the_credential_is_never_in_the_vault(write_tree: Any, acme: str, reconcile: Any) -> None:
    text = with_vault(acme).replace(
        "client_secret: {env: ACME_CLIENT_SECRET}",
        f"client_secret: {{keyvault: {{vault: {VAULT}, secret: acme-client-secret}}}}",
    )
    outcome = reconcile(["validate", "tenants"], cwd=write_tree({"tenants/acme/tenant.yaml": text}))
    assert outcome.exit_code == 1
    assert (
        "connection.dynamics.credential.client_secret.keyvault: the app's credential cannot be"
        in outcome.stderr
    )


def test_a_tenant_names_only_its_own_vault_secrets(write_tree: Any, acme: str, reconcile: Any) -> None:
    ref = f"{{keyvault: {{vault: {VAULT}, secret: fabrikam-rescue-authcode}}}}"
    fabrikam = acme.replace("tenant: acme", "tenant: fabrikam").replace("ACME_", "FABRIKAM_")
    root = write_tree(
        {"tenants/acme/tenant.yaml": with_vault(acme, ref), "tenants/fabrikam/tenant.yaml": fabrikam}
    )
    outcome = reconcile(["validate", "tenants"], cwd=root)
    assert outcome.exit_code == 1
    assert (
        "connection.rescue.authcode.keyvault.secret: secret 'fabrikam-rescue-authcode' is not this tenant's"
        in outcome.stderr
    )
    assert "in Key Vault whose names start with acme-" in outcome.stderr
    # Shared in _defaults.yaml, a vault secret is every tenant's (the MSP's one identity).
    shared = {
        "tenants/_defaults.yaml": f"connection:\n  rescue:\n    authcode: {ref}\n",
        "tenants/acme/tenant.yaml": with_vault(acme).replace(
            f"    authcode: {{keyvault: {{vault: {VAULT}, secret: acme-rescue-authcode}}}}\n",
            "    api_url: https://secure.logmeinrescue.com/API\n",
        ),
    }
    outcome = reconcile(["validate", "tenants/acme"], cwd=write_tree(shared))
    assert outcome.exit_code == 0, outcome.stderr


FLEET_DEFAULTS = """\
connection:
  dynamics:
    client_id: 22222222-3333-4444-8555-666666666666
    credential:
      federated_token_file: {env: AZURE_FEDERATED_TOKEN_FILE}
  keyvault:
    tenant_id: 33333333-4444-4555-8666-777777777777
  rescue:
    authcode: {env: SHARED_RESCUE_AUTHCODE}
"""


def test_defaults_carry_the_fleet_identity_and_a_tenant_replaces_a_choice_whole(
    write_tree: Any, acme: str
) -> None:
    from reconciler.config import load_tenants

    own = (
        acme.replace("    client_id: 22222222-3333-4444-8555-666666666666\n", "")
        .replace("    credential:\n      client_secret: {env: ACME_CLIENT_SECRET}\n", "")
        .replace(
            "authcode: {env: ACME_RESCUE_AUTHCODE}",
            f"authcode: {{keyvault: {{vault: {VAULT}, secret: acme-authcode}}}}",
        )
    )
    assert "credential" not in own and "client_id" not in own
    root = write_tree({"tenants/_defaults.yaml": FLEET_DEFAULTS, "tenants/acme/tenant.yaml": own})
    (tenant,) = load_tenants([root / "tenants"])
    dyn = tenant.model.connection.dynamics
    assert dyn.client_id == "22222222-3333-4444-8555-666666666666"
    assert dyn.credential.kind == "federated_token_file"
    assert tenant.model.connection.rescue.authcode.ref == f"keyvault:{VAULT}/secrets/acme-authcode"
    assert tenant.model.connection.keyvault is not None
    # A tenant with a credential of its own (a certificate) replaces the fleet's, not merges with it.
    certificate = own.replace(
        "    tenant_id: 11111111-2222-4333-8444-555555555555\n",
        "    tenant_id: 11111111-2222-4333-8444-555555555555\n    credential:\n"
        "      certificate: {private_key: {file: acme.key.pem}, thumbprint: " + "AB" * 20 + "}\n",
        1,
    )
    root = write_tree({"tenants/acme/tenant.yaml": certificate})
    (tenant,) = load_tenants([root / "tenants"])
    assert tenant.model.connection.dynamics.credential.kind == "certificate"
