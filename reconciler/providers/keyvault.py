"""A minimal Azure Key Vault secrets client: get one secret (its value and expiry), nothing else.

Why not Microsoft's ``azure-keyvault-secrets``: it would bring its own HTTP pipeline beside ours
(azure-core's retry policy, up to 10 attempts, honouring ``Retry-After`` on any status) outside
this project's run-wide retry budget, request counts and Unknown rules; its challenge policy
first sends every vault an unauthenticated request, keeps a process-wide challenge cache, and
refuses a local emulator unless ``verify_challenge_resource=False`` is passed, a check we would
then have to switch off for the sandbox only. The one call the reconciler makes (``GET
/secrets/{name}[/{version}]?api-version=2025-07-01``, Microsoft Learn "Get Secret") is small on
``ApiClient``: same TLS, retries, counting and error vocabulary as Graph or Dataverse.

The bearer token is for the vault's cloud resource (``https://vault.azure.net/.default``) from
the vault's own directory; the caller's ``TokenProvider`` decides where it comes from. A value
is a ``SecretStr`` from the moment it is parsed; no message here holds one.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Unpack
from urllib.parse import quote

import httpx
from pydantic import SecretStr

from reconciler.errors import ApiError, AuthError, NotFoundError, ProtocolError, ProviderError
from reconciler.providers.base import ApiClient, ClientOptions
from reconciler.providers.entra import TokenProvider
from reconciler.providers.http import MESSAGE_LIMIT, error_payload, require_https

SERVICE = "keyvault"
API_VERSION = "2025-07-01"  # the current data-plane version (Learn, Get Secret)
TEMPLATE = "secrets/{name}"


@dataclass(frozen=True)
class VaultSecret:
    """A secret as read: its value (never printed) and what its attributes say."""

    value: SecretStr
    expires_at: dt.datetime | None  # `attributes.exp`; informational, Key Vault still serves it
    version: str


class KeyVaultClient(ApiClient):
    """Reads secrets of one vault. ``vault_url`` is where requests go (the sandbox's, in
    sandbox mode); ``vault`` names the vault in messages (the URL the tenant file gives)."""

    def __init__(
        self, vault_url: str, *, vault: str, tokens: TokenProvider, **options: Unpack[ClientOptions]
    ) -> None:
        self.vault_url = require_https(vault_url, setting="keyvault.vault").rstrip("/")
        self.vault = vault
        super().__init__(SERVICE, tokens, **options)

    async def get_secret(self, name: str, version: str | None = None) -> VaultSecret:
        path = "/".join(quote(part, safe="") for part in (name, version) if part)
        url = f"{self.vault_url}/secrets/{path}?api-version={API_VERSION}"
        response = await self._exchange(
            "GET", url, template=TEMPLATE, idempotent=True, headers={"Accept": "application/json"}
        )
        shown = f"{name}/{version}" if version else name
        where = f"Key Vault secret {shown} in {self.vault}"
        if not response.is_success:
            raise self._error(response, where)
        return self._parse(self._json(response, where), where)

    def _error(self, response: httpx.Response, where: str) -> ProviderError:
        code, message = error_payload(response)
        inner = _inner_code(response)
        status = response.status_code
        short = message if len(message) <= MESSAGE_LIMIT else message[: MESSAGE_LIMIT - 1] + "…"
        said = f" ({inner or code}: {short})" if short else ""
        options = {"service": SERVICE, "tenant": self.tenant}
        if status == 401:
            return AuthError(
                f"{where}: the vault refused the token (HTTP 401){said}; the token must come from the "
                "vault's own directory (connection.keyvault.tenant_id) for the fleet's app "
                "(connection.dynamics.client_id)",
                **options,
            )
        if status == 403 and inner == "SecretDisabled":
            return ApiError(
                f"{where}: the secret is disabled (HTTP 403 SecretDisabled); enable it, or name an "
                "enabled version",
                status=status,
                code=inner,
                **options,
            )
        if status == 403:
            return ApiError(
                f"{where}: permission denied (HTTP 403){said}; give the fleet's app the Key Vault Secrets "
                "User role on the vault (or a 'get' secret access policy), or allow this network",
                status=status,
                code=inner or code,
                **options,
            )
        if status == 404:
            return NotFoundError(
                f"{where}: no such secret (HTTP 404 {code or 'SecretNotFound'}); create it, or fix the "
                "name or version",
                status=status,
                code=code,
                **options,
            )
        return ApiError(f"{where}: HTTP {status}{said}", status=status, code=code, **options)

    def _parse(self, data: dict[str, object], where: str) -> VaultSecret:
        value = data.get("value")
        attributes = data.get("attributes")
        if not isinstance(value, str) or not isinstance(attributes, dict):
            raise ProtocolError(
                f"{where}: the reply has no value or attributes", service=SERVICE, tenant=self.tenant
            )
        if attributes.get("enabled") is False:  # the service refuses these; never use one
            raise ProtocolError(
                f"{where}: the reply is of a disabled secret", service=SERVICE, tenant=self.tenant
            )
        if not value.strip():
            raise ApiError(
                f"{where}: the secret is empty", status=200, code="", service=SERVICE, tenant=self.tenant
            )
        exp = attributes.get("exp")
        expires = None
        if isinstance(exp, int | float) and not isinstance(exp, bool):
            try:
                expires = dt.datetime.fromtimestamp(exp, dt.UTC)
            except (OverflowError, OSError, ValueError):  # a date no calendar holds: the reply is wrong
                raise ProtocolError(
                    f"{where}: the reply's expiry (attributes.exp) is no date",
                    service=SERVICE,
                    tenant=self.tenant,
                ) from None
        identifier = data.get("id")
        version = identifier.rstrip("/").rsplit("/", 1)[-1] if isinstance(identifier, str) else ""
        return VaultSecret(SecretStr(value.strip()), expires, version)


def _inner_code(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    error = body.get("error") if isinstance(body, dict) else None
    inner = error.get("innererror") if isinstance(error, dict) else None
    return str(inner.get("code") or "") if isinstance(inner, dict) else ""


__all__ = ["API_VERSION", "KeyVaultClient", "VaultSecret"]
