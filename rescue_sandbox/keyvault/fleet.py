"""A generated fleet that signs in as one app and keeps its secrets in one Key Vault.

``generate_fleet(out, tenants=300)`` runs the seed generator (generator.py: one Entra directory,
org and Rescue company per tenant), then turns it into what an MSP with one identity runs:

- one multi-tenant app registration (``client_id``), present in every customer directory and in
  the MSP's own (the seed's ``keyvault.directory``), trusting one federated issuer and subject
  (a workload identity): ``out/federated-issuer-key.pem`` signs its tokens (``mint_token``);
- one vault, ``https://msp-fleet.vault.azure.net``, in the MSP's directory, the app its reader,
  holding each tenant's Rescue authcode and SSO password as ``<tenant>-rescue-authcode`` and
  ``<tenant>-sso-password``;
- ``tenants/_defaults.yaml`` with the app's ``client_id``, the federated credential
  (``{env: AZURE_FEDERATED_TOKEN_FILE}``) and ``connection.keyvault.tenant_id``; each tenant
  file names only its own directory, org and Key Vault references.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
import yaml

from rescue_sandbox import tls
from rescue_sandbox.files import write_text
from rescue_sandbox.generator import generate
from rescue_sandbox.tenant import public_pem

VAULT = "https://msp-fleet.vault.azure.net"
ISSUER = "https://oidc.fleet.example"
SUBJECT = "system:serviceaccount:reconcile:reconciler"
AUDIENCE = "api://AzureADTokenExchange"
KEY_FILE = "federated-issuer-key.pem"
_NS = uuid.UUID("0b9f4f0e-8f5c-4f65-9d3c-8a3d1f2e7c11")


LOGMEIN_APP_ID = "1e2716f5-fee6-4370-a121-baea6d360668"  # as the demo seed's service principals


def fleet_ids(rng_seed: int) -> tuple[str, str]:
    """(the fleet app's client ID, the MSP directory's tenant ID), fixed by ``rng_seed``."""
    return str(uuid.uuid5(_NS, f"app/{rng_seed}")), str(uuid.uuid5(_NS, f"msp/{rng_seed}"))


def generate_fleet(
    out_dir: Path, tenants: int, technicians: int = 0, drift: float = 0.0, rng_seed: int = 0
) -> dict[str, Any]:
    """Write ``seed.yaml``, ``tenants/`` and the issuer key; returns the generator's counts."""
    result = generate(out_dir, tenants=tenants, technicians=technicians, drift=drift, rng_seed=rng_seed)
    client_id, msp_tenant = fleet_ids(rng_seed)
    key = tls.new_rsa_key()
    tls.write_private(out_dir / KEY_FILE, tls.key_to_pem(key))
    federated = [{"issuer": ISSUER, "subject": SUBJECT, "public_key_pem": public_pem(key.public_key())}]
    seed = json.loads((out_dir / "seed.yaml").read_text("utf-8"))
    secrets: dict[str, Any] = {}
    for name, raw in seed["tenants"].items():
        raw["identity"]["client_id"] = client_id
        raw["identity"]["federated"] = federated
        raw["sign_in"] = "tenant_file"  # runs sign in with the tenant files' federated credential
        # An onboarded customer: its admin consented to the LogMeIn app (the vendor's enterprise
        # application, the same ID in every directory), which doctor checks by default.
        raw["identity"]["service_principals"] = [
            {"app_id": LOGMEIN_APP_ID, "display_name": "LogMeIn Rescue Integration"}
        ]
        secrets[f"{name}-rescue-authcode"] = {"from": f"tenants.{name}.rescue.authcode"}
        secrets[f"{name}-sso-password"] = raw["rescue"]["sso_password"]
        raw["secrets"] = {}  # nothing left for the environment to hand out
        path = out_dir / "tenants" / name / "tenant.yaml"
        tenant_file = yaml.safe_load(path.read_text("utf-8"))
        dynamics = tenant_file["connection"]["dynamics"]
        del dynamics["client_id"], dynamics["credential"]
        tenant_file["connection"]["rescue"] = {
            "authcode": {"keyvault": {"vault": VAULT, "secret": f"{name}-rescue-authcode"}}
        }
        tenant_file["integration"]["sso_password"] = {
            "keyvault": {"vault": VAULT, "secret": f"{name}-sso-password"}
        }
        write_text(path, yaml.safe_dump(tenant_file, sort_keys=False))
    seed["keyvault"] = {
        "directory": {
            "tenant_id": msp_tenant,
            "client_id": client_id,
            "federated": federated,
            "sign_in": "tenant_file",
        },
        "vaults": [
            {"name": "msp-fleet", "tenant_id": msp_tenant, "readers": [client_id], "secrets": secrets}
        ],
    }
    write_text(out_dir / "seed.yaml", json.dumps(seed, separators=(",", ":")))
    defaults_path = out_dir / "tenants" / "_defaults.yaml"
    defaults = yaml.safe_load(defaults_path.read_text("utf-8"))
    defaults["connection"] = {
        "dynamics": {
            "client_id": client_id,
            "credential": {"federated_token_file": {"env": "AZURE_FEDERATED_TOKEN_FILE"}},
        },
        "keyvault": {"tenant_id": msp_tenant},
    }
    write_text(defaults_path, yaml.safe_dump(defaults, sort_keys=False))
    return result


def mint_token(out_dir: Path, lifetime: int = 600, subject: str = SUBJECT) -> str:
    """A token of the fleet's federated issuer (what a CI job or a pod's projected token is)."""
    key = tls.key_from_pem((out_dir / KEY_FILE).read_text("ascii"))
    now = int(time.time())
    claims = {"iss": ISSUER, "sub": subject, "aud": AUDIENCE, "iat": now, "nbf": now, "exp": now + lifetime}
    return jwt.encode(claims, key, algorithm="RS256")
