"""The Key Vault secrets data plane: ``GET /keyvault/<vault host>/secrets/{name}[/{version}]``.

As documented (Microsoft Learn, Key Vault REST "Get Secret"; "Authentication, requests and
responses"; sources and what is unverified in docs/sandbox.md, "Azure Key Vault"):

- ``api-version`` is required (no default); this emulator knows ``7.0``-``7.6`` and ``2025-07-01``.
- A request without a bearer token gets 401 with ``WWW-Authenticate: Bearer
  authorization="<authority of the vault's directory>", resource="https://vault.azure.net"``.
- A token must be this sandbox's, for the resource ``https://vault.azure.net`` (the cloud's
  vault resource), of the vault's own directory: otherwise 401 (``AKV10022`` audience,
  ``AKV10032`` issuer).
- An app without the Key Vault Secrets User role (or a ``get`` access policy) gets 403
  ``Forbidden`` / ``ForbiddenByRbac``, whether the secret exists or not.
- A missing secret or version: 404 ``SecretNotFound``; a disabled one: 403 ``Forbidden`` /
  ``SecretDisabled`` "Operation get is not allowed on a disabled secret."; an expired one (``exp``
  passed) is still returned (its ``exp`` is informational).

Throttling (429), dropped connections and the other faults come from the fault injector
(``keyvault:429=1,retry_after=2``), like every other service.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from rescue_sandbox.keyvault.vault import SecretVersion, Vault

API_VERSIONS = frozenset({"7.0", "7.1", "7.2", "7.3", "7.4", "7.5", "7.6", "2016-10-01", "2025-07-01"})
_RESOURCES = {
    "vault.azure.net": "https://vault.azure.net",
    "vault.azure.cn": "https://vault.azure.cn",
    "vault.usgovcloudapi.net": "https://vault.usgovcloudapi.net",
}


def vault_error(status: int, code: str, message: str, inner: str | None = None, **headers: str) -> Response:
    error: dict[str, Any] = {"code": code, "message": message}
    if inner is not None:
        error["innererror"] = {"code": inner}
    return JSONResponse({"error": error}, status_code=status, headers=headers)


def resource_of(host: str) -> str:
    return _RESOURCES[host.split(".", 1)[1]]


class KeyVaultService:
    """Every vault of one sandbox; ``verify_token`` checks a bearer token's signature and expiry."""

    def __init__(
        self,
        vaults: Mapping[str, Vault],
        verify_token: Callable[[str], dict[str, Any]],
        authority: Callable[[str], str],
    ) -> None:
        self.vaults = dict(vaults)
        self._verify = verify_token
        self._authority = authority

    def _challenge(self, vault: Vault) -> dict[str, str]:
        return {
            "WWW-Authenticate": f'Bearer authorization="{self._authority(vault.tenant_id)}", '
            f'resource="{resource_of(vault.host)}"'
        }

    def _caller(self, request: Request, vault: Vault) -> tuple[dict[str, Any] | None, Response | None]:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None, vault_error(
                401,
                "Unauthorized",
                "AKV10000: Request is missing a Bearer or PoP token.",
                **self._challenge(vault),
            )
        try:
            claims = self._verify(token.strip())
        except ValueError:
            return None, vault_error(
                401, "Unauthorized", "AKV10013: Token validation failed.", **self._challenge(vault)
            )
        if str(claims.get("aud", "")).rstrip("/").lower() != resource_of(vault.host):
            return None, vault_error(
                401,
                "Unauthorized",
                f"AKV10022: Invalid audience. Expected {resource_of(vault.host)}, found: {claims.get('aud')}.",
                **self._challenge(vault),
            )
        if str(claims.get("tid", "")).lower() != vault.tenant_id:
            return None, vault_error(
                401,
                "Unauthorized",
                f"AKV10032: Invalid issuer. Expected one of {self._authority(vault.tenant_id)}/v2.0, "
                f"found {claims.get('iss')}.",
                **self._challenge(vault),
            )
        return claims, None

    async def _get_secret(self, request: Request) -> Response:
        vault = self.vaults.get(request.path_params["vault"].lower())
        if vault is None:
            # No such vault: its DNS name does not resolve. The nearest the sandbox can do.
            return vault_error(
                404, "VaultNotFound", f"The vault {request.path_params['vault']} does not exist."
            )
        api_version = request.query_params.get("api-version")
        if api_version is None or api_version not in API_VERSIONS:
            return vault_error(
                400,
                "BadParameter",
                "The request URI contains an invalid or missing api-version query parameter.",
            )
        claims, refusal = self._caller(request, vault)
        if refusal is not None:
            return refusal
        assert claims is not None
        app_id = str(claims.get("appid") or claims.get("azp") or "").lower()
        if app_id not in vault.readers:
            return vault_error(
                403,
                "Forbidden",
                "Caller is not authorized to perform action on resource. If role assignments, deny "
                "assignments or role definitions were changed recently, please observe propagation time.\r\n"
                f"Caller: appid={app_id};oid={claims.get('oid')};iss={claims.get('iss')}\r\n"
                "Action: 'Microsoft.KeyVault/vaults/secrets/getSecret/action'\r\n"
                f"Resource: '{vault.host}/secrets/{request.path_params['name']}'\r\n"
                "Assignment: (not found)\r\nDecisionReason: 'DeniedWithNoValidRBAC'",
                "ForbiddenByRbac",
            )
        name, version = request.path_params["name"], request.path_params.get("version")
        found = vault.find(name, version)
        if found is None:
            shown = f"{name}/{version}" if version else name
            return vault_error(
                404,
                "SecretNotFound",
                f"A secret with (name/id) {shown} was not found in this key vault. If you recently deleted "
                "this secret you may be able to recover it using the correct recovery command. For help "
                "resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182",
            )
        if not found.enabled:
            return vault_error(
                403, "Forbidden", "Operation get is not allowed on a disabled secret.", "SecretDisabled"
            )
        return JSONResponse(_bundle(vault, name, found))

    def app(self) -> Starlette:
        """The ASGI app, mounted at ``/keyvault``."""
        return Starlette(
            routes=[
                Route("/{vault}/secrets/{name}", self._get_secret, methods=["GET"]),
                Route("/{vault}/secrets/{name}/{version}", self._get_secret, methods=["GET"]),
            ]
        )


def _bundle(vault: Vault, name: str, found: SecretVersion) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "enabled": found.enabled,
        "created": found.created,
        "updated": found.created,
        "recoveryLevel": "Recoverable+Purgeable",
        "recoverableDays": 90,
    }
    for key in ("exp", "nbf"):
        if getattr(found, key) is not None:
            attributes[key] = getattr(found, key)
    return {
        "value": found.value,
        "id": f"https://{vault.host}/secrets/{name}/{found.version}",
        "attributes": attributes,
        "tags": {},
    }
