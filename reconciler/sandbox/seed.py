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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml

from reconciler.errors import InputError
from reconciler.sandbox import tls
from reconciler.sandbox.dataverse import DataverseOrg
from reconciler.sandbox.dataverse.solution_schema import SolutionSchema, schema_from_seed
from reconciler.sandbox.directory import Directory, directory_from_seed
from reconciler.sandbox.identity import AppClient, FederatedCredential, IdentityTenant, ServicePrincipal
from reconciler.sandbox.integration import run_seeded_sessions
from reconciler.sandbox.rescue import RescueCompany
from reconciler.sandbox.rescue.seeding import build_company

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


def check_seed(data: Any, where: str = "seed") -> None:
    if not isinstance(data, Mapping) or not isinstance(data.get("tenants"), Mapping) or not data["tenants"]:
        raise InputError(f"{where}: a seed needs a non-empty 'tenants' mapping")
    for name, tenant in data["tenants"].items():
        path = f"{where}: tenants.{name}"
        if not isinstance(tenant, Mapping):
            raise InputError(f"{path}: must be a mapping")
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


@dataclass
class ClientCertificate:
    """A certificate credential made by the sandbox; its key goes to the client through sandbox.json."""

    certificate: Any
    private_key_pem: str

    @property
    def thumbprint(self) -> str:
        return tls.sha1_thumbprint(self.certificate)


@dataclass
class SandboxTenant:
    """Everything the sandbox holds for one tenant."""

    name: str
    schema_overrides: dict[str, Any]  # the seed's solution_schema: section
    schema: SolutionSchema
    identity: IdentityTenant
    org: DataverseOrg
    rescue: RescueCompany
    authcode: str
    raw_secrets: dict[str, Any] = field(default_factory=dict)
    certificate: ClientCertificate | None = None

    @property
    def client(self) -> AppClient:
        return next(iter(self.identity.clients.values()))

    @property
    def org_host(self) -> str:
        return urlparse(self.org.org_url).hostname or ""

    def resolved_secrets(self) -> dict[str, str]:
        """The tenant YAML's secret references and their sandbox values."""
        sources: dict[str, Callable[[], str | None]] = {
            "identity.client_secret": lambda: self.client.secret,
            "rescue.authcode": lambda: self.authcode,
            "rescue.sso_password": lambda: self.rescue.sso_password,
            "rescue.admin_password": lambda: self.rescue.account_holder_password(),
            "identity.certificate.private_key": lambda: (
                self.certificate.private_key_pem if self.certificate else None
            ),
            "identity.certificate.thumbprint": lambda: (
                self.certificate.thumbprint if self.certificate else None
            ),
        }
        resolved: dict[str, str] = {}
        for ref, value in self.raw_secrets.items():
            if isinstance(value, Mapping):
                source = sources.get(str(value.get("from")))
                found = source() if source else None
                if found is None:
                    raise InputError(
                        f"tenants.{self.name}.secrets.{ref}: unknown source {value.get('from')!r}"
                    )
                resolved[ref] = found
            else:
                resolved[ref] = str(value)
        return resolved

    def snapshot(self) -> dict[str, Any]:
        client = self.client
        return {
            "name": self.name,
            "solution_schema": self.schema_overrides,
            "authcode": self.authcode,
            "secrets": self.raw_secrets,
            "certificate_key": self.certificate.private_key_pem if self.certificate else None,
            "identity": {
                "tenant_id": self.identity.tenant_id,
                "token_lifetime": self.identity.token_lifetime,
                "org_urls": self.identity.org_urls,
                "client_id": client.client_id,
                "object_id": client.object_id,
                "client_secret": client.secret,
                "certificates": [tls.cert_to_pem(c) for c in client.certificates],
                "federated": [
                    {
                        "issuer": f.issuer,
                        "subject": f.subject,
                        "audiences": list(f.audiences),
                        "public_keys": [_public_pem(k) for k in f.public_keys],
                        "signing_key": tls.key_to_pem(f.signing_key) if f.signing_key else None,
                    }
                    for f in client.federated
                ],
                "service_principals": [
                    {"id": s.id, "app_id": s.app_id, "display_name": s.display_name}
                    for s in self.identity.service_principals
                ],
                "directory": self.identity.directory.snapshot(),
            },
            "dataverse": self.org.snapshot(),
            "rescue": self.rescue.snapshot(),
        }

    @classmethod
    def restore(cls, data: Mapping[str, Any]) -> SandboxTenant:
        ident = data["identity"]
        overrides = dict(data.get("solution_schema") or {})
        schema = schema_from_seed(overrides)
        certificates = [tls.cert_from_pem(p) for p in ident["certificates"]]
        client = AppClient(
            client_id=ident["client_id"],
            object_id=ident["object_id"],
            secret=ident["client_secret"],
            certificates=certificates,
            federated=[
                FederatedCredential(
                    issuer=f["issuer"],
                    subject=f["subject"],
                    audiences=tuple(f["audiences"]),
                    public_keys=[_load_public(p) for p in f["public_keys"]],
                    signing_key=tls.key_from_pem(f["signing_key"]) if f["signing_key"] else None,
                )
                for f in ident["federated"]
            ],
        )
        identity = IdentityTenant(
            name=data["name"],
            tenant_id=ident["tenant_id"],
            clients={client.client_id.lower(): client},
            org_urls=list(ident["org_urls"]),
            service_principals=[ServicePrincipal(**s) for s in ident["service_principals"]],
            token_lifetime=int(ident["token_lifetime"]),
            directory=Directory.restore(ident.get("directory")),
        )
        certificate = None
        if data.get("certificate_key") and certificates:
            certificate = ClientCertificate(certificates[0], data["certificate_key"])
        return cls(
            name=data["name"],
            schema_overrides=overrides,
            schema=schema,
            identity=identity,
            org=DataverseOrg.restore(data["dataverse"], schema),
            rescue=RescueCompany.restore(data["rescue"]),
            authcode=data["authcode"],
            raw_secrets=dict(data.get("secrets") or {}),
            certificate=certificate,
        )


def _public_pem(key: Any) -> str:
    from cryptography.hazmat.primitives import serialization

    return str(
        key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode(
            "ascii"
        )
    )


def _load_public(pem: str) -> Any:
    from cryptography.hazmat.primitives import serialization

    return serialization.load_pem_public_key(pem.encode("ascii"))


def _federated(raw: Mapping[str, Any], path: str) -> FederatedCredential:
    import jwt

    if not raw.get("issuer") or not raw.get("subject"):
        raise InputError(f"{path}: 'issuer' and 'subject' are required")
    audiences = tuple(raw.get("audiences") or ("api://AzureADTokenExchange",))
    keys: list[Any] = []
    if raw.get("public_key_pem"):
        keys.append(_load_public(str(raw["public_key_pem"])))
    for jwk in (raw.get("jwks") or {}).get("keys", []):
        keys.append(jwt.algorithms.RSAAlgorithm.from_jwk(jwk))
    signing = None if keys else tls.new_rsa_key()
    return FederatedCredential(str(raw["issuer"]), str(raw["subject"]), audiences, keys, signing)


def _identity(
    name: str, raw: Mapping[str, Any], org_url: str
) -> tuple[IdentityTenant, ClientCertificate | None]:
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
        org_urls=[org_url],
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


def build_tenant(name: str, raw: Mapping[str, Any]) -> SandboxTenant:
    """The state of one seed tenant (the seed must have passed :func:`check_seed`)."""
    overrides = dict(raw.get("solution_schema") or {})
    try:
        schema = schema_from_seed(overrides, f"tenants.{name}.solution_schema")
    except ValueError as exc:
        raise InputError(f"seed: {exc}") from None
    org_url = str(raw["dataverse"]["org_url"]).rstrip("/")
    identity, certificate = _identity(name, raw["identity"], org_url)
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
    )
    tenant.resolved_secrets()  # fail at start, not when sandbox.json is written
    run_seeded_sessions(tenant, raw["rescue"].get("sessions"))
    return tenant
