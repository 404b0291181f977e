"""One sandbox tenant as the emulators hold it: its Entra tenant, Dataverse org and Rescue company,
the secrets its tenant YAML refers to, and its snapshot for ``--state-dir``.

Below both the seed reader (seed.py builds tenants) and the integration's traffic (which writes
into a tenant's org): neither needs the other to name a tenant.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from cryptography.hazmat.primitives import serialization

from rescue_sandbox import tls
from rescue_sandbox.dataverse import DataverseOrg
from rescue_sandbox.dataverse.solution_schema import SolutionSchema, schema_from_seed
from rescue_sandbox.entra.directory import Directory
from rescue_sandbox.entra.tenant import AppClient, FederatedCredential, IdentityTenant, ServicePrincipal
from rescue_sandbox.errors import InputError
from rescue_sandbox.rescue import RescueCompany


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
    # The seed's `sign_in: tenant_file`: a run signs in with the tenant file's own (federated)
    # credential, not with the secret sandbox.json hands out (docs/sandbox.md, "Azure Key Vault").
    tenant_file_sign_in: bool = False

    @property
    def client(self) -> AppClient:
        return next(iter(self.identity.clients.values()))

    @property
    def org_host(self) -> str:
        return urlparse(self.org.org_url).hostname or ""

    def secret_from(self, source: str) -> str | None:
        """A generated value by its seed name (``rescue.authcode``), None when unknown or absent."""
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
        found = sources.get(source)
        return found() if found else None

    def resolved_secrets(self) -> dict[str, str]:
        """The tenant YAML's secret references and their sandbox values."""
        resolved: dict[str, str] = {}
        for ref, value in self.raw_secrets.items():
            if isinstance(value, Mapping):
                found = self.secret_from(str(value.get("from")))
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
            "tenant_file_sign_in": self.tenant_file_sign_in,
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
                        "public_keys": [public_pem(k) for k in f.public_keys],
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
                    public_keys=[load_public_pem(p) for p in f["public_keys"]],
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
            tenant_file_sign_in=bool(data.get("tenant_file_sign_in")),
        )


def public_pem(key: Any) -> str:
    return str(
        key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode(
            "ascii"
        )
    )


def load_public_pem(pem: str) -> Any:
    return serialization.load_pem_public_key(pem.encode("ascii"))
