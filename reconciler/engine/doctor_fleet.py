"""Doctor's checks of the fleet identity: each Key Vault secret can be read, which credentials
expire when, and the admin-consent URL when the fleet's app has no service principal in a
directory.

- Every ``{keyvault: ...}`` reference is read (with the run's ``VaultCache``, so the connection
  that follows reads nothing twice) and listed as a check, passed or failed with its fix.
- ``credentials`` (doctor's JSON, per tenant; read by the fleet report): each credential whose
  expiry the tool can know, as ``{"name", "kind", "expires_at"}``: a Key Vault secret's ``exp``
  attribute (``kind`` ``keyvault_secret``; ``expires_at`` null when the secret has none) and the
  sign-in certificate's ``notAfter`` (``kind`` ``certificate``; null when only its key and
  thumbprint are configured, the certificate itself is not).
- A multi-tenant app is used in a customer's directory only once an administrator of it has
  consented (Microsoft identity platform, "admin consent": ``/{tenant}/adminconsent?client_id=``);
  until then the token endpoint answers AADSTS7000229 (no service principal) or AADSTS700016
  (application not found in the directory). Doctor then names the URL to send that admin.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Protocol

from reconciler.config import LoadedTenant
from reconciler.config.problems import dotted
from reconciler.engine.connection import TenantConnection
from reconciler.engine.planner import RunOptions
from reconciler.engine.vault import vault_refs, vault_sign_in
from reconciler.errors import ReconcileError, SecretError, TransportError
from reconciler.providers.entra import CertificateCredential
from reconciler.providers.http import RequestStats

PASS, FAIL = "pass", "fail"
_NO_PRINCIPAL = re.compile(r"AADSTS(7000229|700016)\b")
_VAULT_FIX = (
    "see the message: create or enable the secret, or give the fleet's app the Key Vault Secrets User "
    "role on the vault; connection.keyvault.tenant_id must be the vault's directory"
)


class Report(Protocol):
    """The part of doctor's ``TenantReport`` used here."""

    def add(self, name: str, status: str, detail: str, fix: str = "") -> None: ...


def admin_consent_url(authority_host: str, tenant_id: str, client_id: str) -> str:
    """Where a directory's administrator grants the fleet's app consent (the app's registered
    redirect URI is added as ``&redirect_uri=``; without one the consent page shows an error
    after the grant, which still holds)."""
    return f"{authority_host.rstrip('/')}/{tenant_id}/adminconsent?client_id={client_id}"


def consent_fix(message: str, authority_host: str, tenant_id: str, client_id: str) -> str | None:
    """The admin-consent fix when ``message`` says the app has no service principal there."""
    if _NO_PRINCIPAL.search(message) is None:
        return None
    url = admin_consent_url(authority_host, tenant_id, client_id)
    return (
        f"the app {client_id} is not consented in directory {tenant_id}: an administrator of that "
        f"directory opens {url} and accepts"
    )


def sign_in_fix(loaded: LoadedTenant, conn_client_id: str, message: str, default: str) -> str:
    """Doctor's fix for a refused sign-in to the tenant's own directory."""
    dyn = loaded.model.connection.dynamics
    return consent_fix(message, dyn.authority_host, dyn.tenant_id, conn_client_id) or default


async def vault_checks(report: Report, loaded: LoadedTenant, options: RunOptions) -> bool:
    """One check per Key Vault reference; False when one cannot be read (nothing to connect with)."""
    refs = vault_refs(loaded)
    if not refs:
        return True
    model = loaded.model
    try:
        sign_in = vault_sign_in(loaded, options.sandbox)
    except ReconcileError as exc:
        report.add("key vault", FAIL, exc.message, "set connection.keyvault.tenant_id")
        return False
    readable = True
    for path, ref in refs:
        assert ref.keyvault is not None
        secret = f"{ref.keyvault.secret} in {ref.keyvault.vault}"
        try:
            await options.vault.read(loaded, [(path, ref)], sign_in, options.settings, RequestStats())
        except (SecretError, TransportError) as exc:
            readable = False
            keyvault_tenant = model.connection.keyvault.tenant_id if model.connection.keyvault else ""
            fix = consent_fix(
                exc.message, model.connection.dynamics.authority_host, keyvault_tenant, sign_in.client_id
            )
            report.add("key vault secret", FAIL, exc.message, fix or _VAULT_FIX)
            continue
        expires = options.vault.expires_at(ref)
        until = f"; expires {expires.isoformat()}" if expires else ""
        report.add("key vault secret", PASS, f"{secret} can be read ({dotted(path)}){until}")
    return readable


def credentials(
    loaded: LoadedTenant, options: RunOptions, conn: TenantConnection | None
) -> list[dict[str, Any]]:
    """The tenant's credentials whose expiry the tool can know (doctor's JSON ``credentials``)."""
    found: list[dict[str, Any]] = []
    for _, ref in vault_refs(loaded):
        assert ref.keyvault is not None
        if options.vault.was_read(ref):
            expires = options.vault.expires_at(ref)
            found.append({"name": ref.keyvault.url, "kind": "keyvault_secret", "expires_at": _iso(expires)})
    if conn is not None and isinstance(conn.credential, CertificateCredential):
        found.append(
            {
                "name": f"certificate {conn.credential.thumbprint}",
                "kind": "certificate",
                "expires_at": _iso(certificate_not_after(conn.credential.public_certificate)),
            }
        )
    return found


def certificate_not_after(pem: str | None) -> dt.datetime | None:
    if not pem:
        return None
    from cryptography import x509  # only when a certificate is configured

    try:
        return x509.load_pem_x509_certificate(pem.encode("ascii")).not_valid_after_utc
    except ValueError:
        return None  # not a certificate: the sign-in check says what is wrong with it


def _iso(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z") if value is not None else None


__all__ = [
    "admin_consent_url",
    "certificate_not_after",
    "consent_fix",
    "credentials",
    "sign_in_fix",
    "vault_checks",
]
