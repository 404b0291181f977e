"""Where each tenant's services are and how to sign in: from the tenant file, or from a
running sandbox's ``sandbox.json`` (DESIGN §6) when ``--sandbox`` is given.

Secrets are resolved here, late, right before the clients are made, and only held as
``SecretStr``. In sandbox mode the tenant file stays as in production: endpoints and
credentials come from ``sandbox.json``, and secret references resolve from its ``secrets``.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from reconciler.config import LoadedTenant, SecretResolver
from reconciler.config.types import normalise_guid
from reconciler.errors import InputError
from reconciler.providers.entra import (
    CertificateCredential,
    ClientCredential,
    ClientSecret,
    FederatedTokenFile,
)
from reconciler.providers.rescue.reports import REPORT_INTERVAL

GRAPH_URL = "https://graph.microsoft.com"
# The operator's choice of app registration for a whole run, outside the tenant files: the
# GitOps plan and drift jobs sign in as the read-only app (docs/gitops.md, section 2.2).
CLIENT_ID_ENV = "RECONCILE_CLIENT_ID"


def client_id_for(tenant_client_id: str, environ: Mapping[str, str]) -> str:
    """``RECONCILE_CLIENT_ID`` when the operator set it, else the tenant file's client ID."""
    chosen = environ.get(CLIENT_ID_ENV, "").strip()
    if not chosen:
        return tenant_client_id
    try:
        return normalise_guid(chosen)
    except ValueError:
        raise InputError(f"{CLIENT_ID_ENV} is not a GUID (an app registration's client ID)") from None


@dataclass(frozen=True)
class SandboxInfo:
    """The parsed ``sandbox.json`` of a running sandbox."""

    path: Path
    url: str
    ca_file: Path
    tenants: Mapping[str, Mapping[str, Any]]
    keyvault: Mapping[str, Any] | None = None  # the sandbox's Key Vault directory, when seeded

    @classmethod
    def load(cls, location: str | Path) -> SandboxInfo:
        path = Path(location)
        if path.is_dir():
            path = path / "sandbox.json"
        try:
            data = json.loads(path.read_text("utf-8"))
        except FileNotFoundError:
            raise InputError(
                f"--sandbox: {path} does not exist; start one with `reconcile sandbox serve --state-dir DIR`"
            ) from None
        except (OSError, ValueError) as exc:
            raise InputError(f"--sandbox: cannot read {path}: {exc}") from None
        try:
            ca = Path(data["ca_file"])
            keyvault = data.get("keyvault")
            return cls(
                path=path,
                url=str(data["url"]),
                ca_file=ca,
                tenants=dict(data["tenants"]),
                keyvault=dict(keyvault) if isinstance(keyvault, dict) else None,
            )
        except (KeyError, TypeError) as exc:
            raise InputError(f"--sandbox: {path} is not a sandbox.json (missing {exc})") from None

    def tenant(self, name: str) -> Mapping[str, Any]:
        entry = self.tenants.get(name)
        if entry is None:
            known = ", ".join(sorted(self.tenants)) or "none"
            raise InputError(f"tenant {name!r} is not in the sandbox {self.path} (it has: {known})")
        return entry


@dataclass(frozen=True)
class TenantConnection:
    """Resolved endpoints and credentials of one tenant (secrets as SecretStr only)."""

    tenant: str
    dataverse_url: str
    authority: str
    client_id: str
    credential: ClientCredential
    rescue_url: str
    authcode: SecretStr
    graph_url: str
    entra_tenant_id: str
    ca_file: Path | None = None
    instance_discovery: bool = True
    report_interval: float = REPORT_INTERVAL  # seconds between two session reports of an account
    secret_overrides: Mapping[str, str] = field(default_factory=dict, repr=False)
    vault_values: Mapping[str, SecretStr] = field(default_factory=dict, repr=False)

    @property
    def dataverse_scope(self) -> str:
        return self.dataverse_url.rstrip("/") + "/.default"

    @property
    def graph_scope(self) -> str:
        return self.graph_url.rstrip("/") + "/.default"

    def resolver(self, loaded: LoadedTenant) -> SecretResolver:
        return SecretResolver(
            loaded.folder, overrides=self.secret_overrides, owner=loaded.name, vault_values=self.vault_values
        )


def tenant_credential(loaded: LoadedTenant, resolver: SecretResolver) -> ClientCredential:
    """The credential ``connection.dynamics.credential`` names, its secrets resolved."""
    cred = loaded.model.connection.dynamics.credential
    if cred.client_secret is not None:
        return ClientSecret(resolver.resolve(cred.client_secret))
    if cred.certificate is not None:
        public = cred.certificate.public_certificate
        return CertificateCredential(
            private_key_pem=resolver.resolve(cred.certificate.private_key),
            thumbprint=cred.certificate.thumbprint,
            public_certificate=resolver.resolve(public).get_secret_value() if public else None,
        )
    assert cred.federated_token_file is not None
    ref = cred.federated_token_file
    if ref.file is not None:
        token_path = Path(ref.file)
        return FederatedTokenFile(token_path if token_path.is_absolute() else loaded.folder / token_path)
    return FederatedTokenFile(Path(resolver.resolve(ref).get_secret_value()))


def connect(
    loaded: LoadedTenant,
    sandbox: SandboxInfo | None,
    vault_values: Mapping[str, SecretStr] | None = None,
) -> TenantConnection:
    """The tenant's connection, secrets resolved (raises SecretError naming the reference).

    ``vault_values`` are the tenant's Key Vault secrets, read beforehand by ``engine/vault.py``
    (a read is asynchronous; resolving is not).
    """
    model = loaded.model
    vaulted = dict(vault_values or {})
    if sandbox is not None:
        own_sign_in = sandbox.tenant(loaded.name).get("sign_in") == "tenant_file"
        return _with_fleet_identity(loaded, sandbox_connection(loaded.name, sandbox), vaulted, own_sign_in)
    dyn = model.connection.dynamics
    resolver = SecretResolver(loaded.folder, owner=loaded.name, vault_values=vaulted)
    return TenantConnection(
        tenant=model.tenant,
        dataverse_url=dyn.org_url,
        authority=f"{dyn.authority_host}/{dyn.tenant_id}",
        client_id=client_id_for(dyn.client_id, os.environ),
        credential=tenant_credential(loaded, resolver),
        rescue_url=model.connection.rescue.api_url,
        authcode=resolver.resolve(model.connection.rescue.authcode),
        graph_url=os.environ.get("RECONCILE_GRAPH_URL", GRAPH_URL),
        entra_tenant_id=dyn.tenant_id,
        vault_values=vaulted,
    )


def _seconds(raw: object, name: str) -> float:
    """The sandbox's report interval: the sandbox says how often it serves a report (tests and
    the demo run it faster than the real 60 s); a value that is no number of seconds is refused."""
    try:
        value = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InputError(f"sandbox entry for {name!r}: report_interval {raw!r} is not seconds") from None
    if not 0 <= value <= 3600:
        raise InputError(f"sandbox entry for {name!r}: report_interval {raw!r} is out of range")
    return value


def _with_fleet_identity(
    loaded: LoadedTenant, conn: TenantConnection, vaulted: dict[str, SecretStr], own_sign_in: bool
) -> TenantConnection:
    """Sandbox mode, where the tenant file's own sign-in can work unchanged: Key Vault secrets
    are the sandbox vault's, and where the seed says so (``sign_in: tenant_file`` in sandbox.json)
    a federated token signs in as the tenant file's app (the sandbox's directory trusts the
    issuer the seed registers). Other credentials and references stay the sandbox's."""
    model = loaded.model
    changes: dict[str, object] = {"vault_values": vaulted}
    dyn = model.connection.dynamics
    if own_sign_in and dyn.credential.federated_token_file is not None:
        resolver = SecretResolver(
            loaded.folder, overrides=conn.secret_overrides, owner=loaded.name, vault_values=vaulted
        )
        changes["credential"] = tenant_credential(loaded, resolver)
        changes["client_id"] = client_id_for(dyn.client_id, os.environ)
    authcode = model.connection.rescue.authcode
    if authcode.keyvault is not None:
        changes["authcode"] = SecretResolver(loaded.folder, vault_values=vaulted).resolve(authcode)
    return dataclasses.replace(conn, **changes)  # type: ignore[arg-type]


def sandbox_connection(name: str, sandbox: SandboxInfo) -> TenantConnection:
    """A tenant's connection from sandbox.json (its endpoints, credentials and secret values)."""
    entry = sandbox.tenant(name)
    try:
        authority = str(entry["authority"])
        credential: ClientCredential
        cert = entry.get("certificate")
        if entry.get("client_secret"):
            credential = ClientSecret(SecretStr(str(entry["client_secret"])))
        elif isinstance(cert, Mapping):
            key = Path(str(cert["private_key_file"])).read_text("utf-8")
            credential = CertificateCredential(SecretStr(key), str(cert["thumbprint"]), None)
        else:
            raise InputError(f"sandbox tenant {name!r} has no client credential")
        return TenantConnection(
            tenant=name,
            dataverse_url=str(entry["dataverse_url"]),
            authority=authority,
            client_id=str(entry["client_id"]),
            credential=credential,
            rescue_url=str(entry["rescue_url"]),
            authcode=SecretStr(str(entry["rescue_authcode"])),
            graph_url=str(entry.get("graph_url") or f"{sandbox.url}/graph"),
            entra_tenant_id=authority.rstrip("/").rsplit("/", 1)[-1],
            ca_file=sandbox.ca_file,
            instance_discovery=False,
            report_interval=_seconds(entry.get("report_interval", REPORT_INTERVAL), name),
            secret_overrides={str(k): str(v) for k, v in dict(entry.get("secrets") or {}).items()},
        )
    except (KeyError, OSError) as exc:
        raise InputError(f"sandbox entry for {name!r} is incomplete: {exc}") from None
