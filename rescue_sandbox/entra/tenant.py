"""One Entra tenant as the token endpoint and Graph see it: its app registrations with their
credentials (secret, certificates, federated credentials), its service principals, its directory.

Plain data, below both the token endpoint (identity.py) and the assertion checks (assertions.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from rescue_sandbox.entra.directory import Directory

DEFAULT_FEDERATED_AUDIENCE = "api://AzureADTokenExchange"


@dataclass
class FederatedCredential:
    """A federated identity credential: tokens of ``issuer`` for ``subject`` are accepted."""

    issuer: str
    subject: str
    audiences: tuple[str, ...] = (DEFAULT_FEDERATED_AUDIENCE,)
    public_keys: list[rsa.RSAPublicKey] = field(default_factory=list)
    # Present when the sandbox made the issuer up (it can then mint tokens for tests).
    signing_key: rsa.RSAPrivateKey | None = None


@dataclass
class AppClient:
    """An app registration with its credentials, as seen from one tenant."""

    client_id: str
    object_id: str
    secret: str | None = None
    certificates: list[x509.Certificate] = field(default_factory=list)
    federated: list[FederatedCredential] = field(default_factory=list)


@dataclass
class ServicePrincipal:
    id: str
    app_id: str
    display_name: str


@dataclass
class IdentityTenant:
    """One Entra tenant: its apps, the resources it may request tokens for, its service principals."""

    name: str
    tenant_id: str
    clients: dict[str, AppClient]
    org_urls: list[str]
    service_principals: list[ServicePrincipal] = field(default_factory=list)
    token_lifetime: int = 3599
    directory: Directory = field(default_factory=Directory)  # users, groups, apps' Graph permissions
