"""Seeds: the YAML that describes the sandbox's tenants, and the tenant state built from it.

A seed lists tenants; each has an Entra tenant (identity), a Dataverse org and a Rescue company
(format: docs/sandbox.md). Values a seed leaves out (client secret, Rescue authcode, admin
password) are generated at each start, unless the state directory holds them from a previous
run. A tenant's ``secrets`` map resolves the tenant YAML's secret references in sandbox mode;
a value may be ``{from: identity.client_secret}`` (or ``rescue.authcode``,
``identity.certificate.private_key``) to stand for a generated value.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml

from rescue_sandbox import tls
from rescue_sandbox.dataverse import DataverseOrg
from rescue_sandbox.dataverse.solution_schema import schema_from_seed
from rescue_sandbox.entra.directory import directory_from_seed
from rescue_sandbox.entra.tenant import AppClient, FederatedCredential, IdentityTenant, ServicePrincipal
from rescue_sandbox.errors import InputError
from rescue_sandbox.integration.traffic import run_seeded_sessions
from rescue_sandbox.rescue.seeding import build_company
from rescue_sandbox.seedkeys import unknown_keys
from rescue_sandbox.tenant import ClientCertificate, SandboxTenant, load_public_pem

_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_APP_NS = uuid.UUID("4f5c1e2a-8b3d-4c6e-9a7f-1b2c3d4e5f60")


def demo_seed_path() -> Path:
    """The built-in demo seed (matches tenants/contoso and tenants/fabrikam, with drift)."""
    return Path(__file__).parent / "seeds" / "demo.yaml"


def load_seed(path: Path | str) -> dict[str, Any]:
    """Read and check a seed file; InputError names the file and the first problem."""
    source = Path(path)
    try:
        text = source.read_text("utf-8")
    except OSError as exc:
        raise InputError(f"cannot read seed {source}: {exc.strerror}") from exc
    data: Any = None
    if text.lstrip().startswith("{"):
        # Generated seeds are JSON (valid YAML): json parses them far faster than a YAML parser.
        with contextlib.suppress(ValueError):
            data = json.loads(text)
    if data is None:
        try:
            data = yaml.load(text, Loader=_LOADER)  # a safe loader (C or pure Python)
        except yaml.YAMLError as exc:
            raise InputError(f"{source}: not valid YAML: {exc}") from exc
    check_seed(data, str(source))
    assert isinstance(data, dict)
    return data


# description: a note for people (the generator writes one); keyvault: the vaults (keyvault/seeding.py)
SEED_KEYS = ("tenants", "description", "keyvault")
# sign_in: whose credential a run signs in with (tenant_file or sandbox, below)
TENANT_KEYS = ("identity", "dataverse", "rescue", "secrets", "solution_schema", "sign_in")


def check_seed(data: Any, where: str = "seed") -> None:
    """The seed's shape; a key the format does not name is an error (a misplaced
    ``solution_schema:`` would otherwise change nothing and say nothing). Each service's
    section checks its own keys when it is built."""
    if not isinstance(data, Mapping) or not isinstance(data.get("tenants"), Mapping) or not data["tenants"]:
        raise InputError(f"{where}: a seed needs a non-empty 'tenants' mapping")
    unknown_keys(data, SEED_KEYS, where)
    for name, tenant in data["tenants"].items():
        path = f"{where}: tenants.{name}"
        if not isinstance(tenant, Mapping):
            raise InputError(f"{path}: must be a mapping")
        unknown_keys(tenant, TENANT_KEYS, path)
        for section in ("identity", "dataverse", "rescue"):
            if not isinstance(tenant.get(section), Mapping):
                raise InputError(f"{path}.{section}: required mapping is missing")
        for key in ("tenant_id", "client_id"):
            _guid(tenant["identity"].get(key), f"{path}.identity.{key}")
        org_url = str(tenant["dataverse"].get("org_url", ""))
        if not org_url.startswith("https://") or not urlparse(org_url).hostname:
            raise InputError(f"{path}.dataverse.org_url: an https:// org URL is required")
        company = str(tenant["rescue"].get("company_id", ""))
        if not company.isdigit():
            raise InputError(f"{path}.rescue.company_id: a numeric company id is required")


def _guid(value: Any, path: str) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise InputError(f"{path}: a GUID is required, not {value!r}") from None


def _secret(length: int = 32) -> str:
    return secrets.token_urlsafe(length)


def _federated(raw: Mapping[str, Any], path: str) -> FederatedCredential:
    import jwt

    if not raw.get("issuer") or not raw.get("subject"):
        raise InputError(f"{path}: 'issuer' and 'subject' are required")
    audiences = tuple(raw.get("audiences") or ("api://AzureADTokenExchange",))
    keys: list[Any] = []
    if raw.get("public_key_pem"):
        keys.append(load_public_pem(str(raw["public_key_pem"])))
    for jwk in (raw.get("jwks") or {}).get("keys", []):
        keys.append(jwt.algorithms.RSAAlgorithm.from_jwk(jwk))
    signing = None if keys else tls.new_rsa_key()
    return FederatedCredential(str(raw["issuer"]), str(raw["subject"]), audiences, keys, signing)


def identity_from_seed(
    name: str, raw: Mapping[str, Any], org_url: str | None
) -> tuple[IdentityTenant, ClientCertificate | None]:
    """An Entra tenant from a seed's identity mapping; ``org_url`` None for a directory with no
    org (the Key Vault section's MSP directory)."""
    path = f"tenants.{name}.identity"
    tenant_id = _guid(raw["tenant_id"], f"{path}.tenant_id")
    client_id = _guid(raw["client_id"], f"{path}.client_id")
    certificate = None
    certificates = []
    cert_raw = raw.get("certificate")
    if isinstance(cert_raw, Mapping):
        if cert_raw.get("generate"):
            cert, key = tls.self_signed_client_cert(f"{name}-reconciler")
            certificate = ClientCertificate(cert, tls.key_to_pem(key))
            certificates.append(cert)
        elif cert_raw.get("public_certificate"):
            certificates.append(tls.cert_from_pem(str(cert_raw["public_certificate"])))
            if cert_raw.get("private_key"):
                certificate = ClientCertificate(certificates[0], str(cert_raw["private_key"]))
        else:
            raise InputError(f"{path}.certificate: give 'generate: true' or 'public_certificate'")
    client = AppClient(
        client_id=client_id,
        object_id=str(uuid.uuid5(_APP_NS, f"{tenant_id}/{client_id}")),
        secret=str(raw["client_secret"]) if raw.get("client_secret") else _secret(),
        certificates=certificates,
        federated=[_federated(f, f"{path}.federated[{i}]") for i, f in enumerate(raw.get("federated") or [])],
    )
    principals = [
        ServicePrincipal(
            id=str(sp.get("id") or uuid.uuid5(_APP_NS, f"{tenant_id}/sp/{sp['app_id']}")),
            app_id=_guid(sp.get("app_id"), f"{path}.service_principals[{i}].app_id"),
            display_name=str(sp.get("display_name", "")),
        )
        for i, sp in enumerate(raw.get("service_principals") or [])
    ]
    identity = IdentityTenant(
        name=name,
        tenant_id=tenant_id,
        clients={client_id.lower(): client},
        org_urls=[org_url] if org_url else [],
        service_principals=principals,
        token_lifetime=int(raw.get("token_lifetime", 3599)),
        directory=directory_from_seed(raw, client_id, path),
    )
    return identity, certificate


def _with_reconciler_user(dataverse: Mapping[str, Any], identity: IdentityTenant) -> dict[str, Any]:
    """The seed's Dataverse section with the calling app's application user: a real org refuses
    an app that is none (docs/sandbox.md, "Authorization"). ``reconciler_user: false`` leaves it
    out; a mapping may set its roles or disable it."""
    out = dict(dataverse)
    given = out.get("reconciler_user", {})
    if given is False:
        out.pop("reconciler_user")
        return out
    client_id = next(iter(identity.clients.values())).client_id
    out["reconciler_user"] = {"app_id": client_id, **(given if isinstance(given, Mapping) else {})}
    return out


def _tenant_file_sign_in(value: Any, path: str) -> bool:
    """``sign_in: tenant_file`` (a run signs in with the tenant file's own federated credential)
    or ``sign_in: sandbox`` (the default: with the credential sandbox.json hands out)."""
    if value not in (None, "sandbox", "tenant_file"):
        raise InputError(f"{path}: expected 'sandbox' or 'tenant_file', not {value!r}")
    return bool(value == "tenant_file")


def build_tenant(name: str, raw: Mapping[str, Any]) -> SandboxTenant:
    """The state of one seed tenant (the seed must have passed :func:`check_seed`)."""
    overrides = dict(raw.get("solution_schema") or {})
    try:
        schema = schema_from_seed(overrides, f"tenants.{name}.solution_schema")
    except ValueError as exc:
        raise InputError(f"seed: {exc}") from None
    org_url = str(raw["dataverse"]["org_url"]).rstrip("/")
    identity, certificate = identity_from_seed(name, raw["identity"], org_url)
    company, authcode = build_company(name, raw["rescue"])
    try:
        org = DataverseOrg.from_seed(_with_reconciler_user(raw["dataverse"], identity), schema)
    except ValueError as exc:
        raise InputError(f"seed: tenants.{name}: {exc}") from None
    tenant = SandboxTenant(
        name=name,
        schema_overrides=overrides,
        schema=schema,
        identity=identity,
        org=org,
        rescue=company,
        authcode=authcode,
        raw_secrets=dict(raw.get("secrets") or {}),
        certificate=certificate,
        tenant_file_sign_in=_tenant_file_sign_in(raw.get("sign_in"), f"tenants.{name}.sign_in"),
    )
    tenant.resolved_secrets()  # fail at start, not when sandbox.json is written
    run_seeded_sessions(tenant, raw["rescue"].get("sessions"))
    return tenant
