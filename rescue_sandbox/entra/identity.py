"""Entra ID emulator: OIDC discovery and the client-credentials token endpoint.

msal's ConfidentialClientApplication must work against it unchanged (see the msal section of
reference/dataverse.md): discovery at ``/identity/<tenant>/v2.0/.well-known/openid-configuration``
(fetched inside msal's constructor), tokens at ``/identity/<tenant>/oauth2/v2.0/token`` for a
client secret, a certificate assertion (``x5t`` / ``x5t#S256`` header, verified against the
registered certificate, ``aud`` = the token endpoint) or a federated assertion (a JWT of a
registered issuer and subject). Errors use Entra's OAuth2 JSON shape with AADSTS codes.

Access tokens are RS256 JWTs signed by one sandbox key (Entra, too, signs every tenant's tokens
with shared keys); the Dataverse and Graph emulators check them with :meth:`verify_token`.
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Callable
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from rescue_sandbox.entra.assertions import (
    OAuthError,
    verify_certificate_assertion,
    verify_federated_assertion,
)
from rescue_sandbox.entra.tenant import AppClient, IdentityTenant

CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
GRAPH_RESOURCE = "https://graph.microsoft.com"
KEY_VAULT_RESOURCES = ("https://vault.azure.net", "https://vault.azure.cn", "https://vault.usgovcloudapi.net")
_RESERVED_SCOPES = {"openid", "profile", "offline_access"}
_SIGNING_KID = "sandbox-signing-key"


def _norm(url: str) -> str:
    return url.strip().rstrip("/").lower()


class IdentityService:
    """All emulated Entra tenants of one sandbox, and the key that signs their tokens."""

    def __init__(self, signing_key: rsa.RSAPrivateKey, base_url: Callable[[], str]) -> None:
        self.signing_key = signing_key
        self.base_url = base_url
        self.tenants: dict[str, IdentityTenant] = {}

    def add_tenant(self, tenant: IdentityTenant) -> None:
        self.tenants[tenant.tenant_id.lower()] = tenant

    def authority(self, tenant_id: str) -> str:
        return f"{self.base_url()}/identity/{tenant_id}"

    def issuer(self, tenant_id: str) -> str:
        return f"{self.authority(tenant_id)}/v2.0"

    def token_endpoint(self, tenant_id: str) -> str:
        return f"{self.authority(tenant_id)}/oauth2/v2.0/token"

    # -- tokens ---------------------------------------------------------------------------

    def resources_of(self, tenant: IdentityTenant) -> set[str]:
        """Resources this tenant may ask tokens for: its orgs (real and sandbox URL), Graph, Key Vault."""
        base = self.base_url()
        # Key Vault's resource is in every directory (the vault then checks the token's tenant).
        found = {_norm(GRAPH_RESOURCE), _norm(f"{base}/graph"), *KEY_VAULT_RESOURCES}
        for org_url in tenant.org_urls:
            host = org_url.split("://", 1)[-1].strip("/")
            found.add(_norm(org_url))
            found.add(_norm(f"{base}/dataverse/{host}"))
        return found

    def issue_token(self, tenant: IdentityTenant, client: AppClient, resource: str) -> tuple[str, int]:
        now = int(time.time())
        claims = {
            "aud": resource.rstrip("/"),
            "iss": self.issuer(tenant.tenant_id),
            "tid": tenant.tenant_id,
            "appid": client.client_id,
            "azp": client.client_id,
            "oid": client.object_id,
            "sub": client.object_id,
            "idtyp": "app",
            "ver": "2.0",
            "iat": now,
            "nbf": now,
            "exp": now + tenant.token_lifetime,
            "jti": str(uuid.uuid4()),
        }
        token = jwt.encode(claims, self.signing_key, algorithm="RS256", headers={"kid": _SIGNING_KID})
        return token, tenant.token_lifetime

    def verify_token(self, token: str) -> dict[str, Any]:
        """Claims of a token this sandbox issued; ValueError when forged, foreign or expired."""
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self.signing_key.public_key(),
                algorithms=["RS256"],
                options={"verify_aud": False, "require": ["exp", "iss", "aud", "tid"]},
            )
        except jwt.PyJWTError as exc:
            raise ValueError(f"invalid token: {exc}") from exc
        if not str(claims["iss"]).startswith(f"{self.base_url()}/identity/"):
            raise ValueError("token was not issued by this sandbox")
        return claims

    def jwks(self) -> dict[str, Any]:
        jwk = jwt.algorithms.RSAAlgorithm.to_jwk(self.signing_key.public_key(), as_dict=True)
        jwk.update({"kid": _SIGNING_KID, "use": "sig", "alg": "RS256"})
        return {"keys": [jwk]}

    def mint_federated_token(self, tenant_name: str, lifetime: int = 600) -> str:
        """A token of a sandbox-made federated issuer (stands in for e.g. a CI OIDC token)."""
        for tenant in self.tenants.values():
            if tenant.name != tenant_name:
                continue
            for client in tenant.clients.values():
                for cred in client.federated:
                    if cred.signing_key is not None:
                        now = int(time.time())
                        claims = {
                            "iss": cred.issuer,
                            "sub": cred.subject,
                            "aud": cred.audiences[0],
                            "iat": now,
                            "nbf": now,
                            "exp": now + lifetime,
                            "jti": str(uuid.uuid4()),
                        }
                        return jwt.encode(claims, cred.signing_key, algorithm="RS256")
        raise KeyError(f"tenant {tenant_name!r} has no sandbox-made federated issuer")

    # -- client authentication ------------------------------------------------------------

    def _tenant(self, tenant_id: str) -> IdentityTenant:
        tenant = self.tenants.get(tenant_id.lower())
        if tenant is None:
            raise OAuthError(
                400,
                "invalid_request",
                90002,
                f"Tenant '{tenant_id}' not found. Check to make sure you have the correct tenant ID "
                "and are signing into the correct cloud.",
            )
        return tenant

    def _authenticate(
        self, tenant: IdentityTenant, form: dict[str, str], basic: tuple[str, str] | None
    ) -> AppClient:
        client_id = form.get("client_id") or (basic[0] if basic else "")
        if not client_id:
            raise OAuthError(
                400,
                "invalid_request",
                900144,
                "The request body must contain the following parameter: 'client_id'.",
            )
        client = tenant.clients.get(client_id.lower())
        if client is None:
            raise OAuthError(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{client_id}' was not found in the directory "
                f"'{tenant.tenant_id}'. This can happen if the application has not been installed by "
                "the administrator of the tenant or consented to by any user in the tenant.",
            )
        secret = form.get("client_secret") or (basic[1] if basic else "")
        assertion = form.get("client_assertion", "")
        if secret:
            if client.secret is None or secret != client.secret:
                raise OAuthError(
                    401,
                    "invalid_client",
                    7000215,
                    "Invalid client secret provided. Ensure the secret being sent in the request is the "
                    f"client secret value, not the client secret ID, for a secret added to app '{client_id}'.",
                )
            return client
        if not assertion:
            raise OAuthError(
                401,
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
            )
        if form.get("client_assertion_type") != CLIENT_ASSERTION_TYPE:
            raise OAuthError(
                400,
                "invalid_request",
                50026,
                f"The client_assertion_type must be '{CLIENT_ASSERTION_TYPE}'.",
            )
        try:
            header = jwt.get_unverified_header(assertion)
            unverified: dict[str, Any] = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise OAuthError(401, "invalid_client", 50027, "JWT token is invalid or malformed.") from exc
        if unverified.get("iss") == client.client_id or "x5t" in header or "x5t#S256" in header:
            verify_certificate_assertion(client, assertion, header, self.token_endpoint(tenant.tenant_id))
        else:
            verify_federated_assertion(client, assertion, unverified)
        return client

    def _resource(self, tenant: IdentityTenant, scope: str) -> str:
        scopes = [s for s in scope.split() if s not in _RESERVED_SCOPES]
        if len(scopes) != 1 or not scopes[0].endswith("/.default"):
            raise OAuthError(
                400,
                "invalid_scope",
                1002012,
                f"The provided value for scope {scope} is not valid. Client credential flows must have a "
                "scope value with /.default suffixed to the resource identifier (application ID URI).",
            )
        resource = scopes[0][: -len("/.default")].rstrip("/")
        if _norm(resource) not in self.resources_of(tenant):
            raise OAuthError(
                400,
                "invalid_resource",
                500011,
                f"The resource principal named {resource} was not found in the tenant named "
                f"{tenant.tenant_id}. This can happen if the application has not been installed by the "
                "administrator of the tenant or consented to by any user in the tenant.",
            )
        return resource

    # -- HTTP -----------------------------------------------------------------------------

    async def _discovery(self, request: Request) -> Response:
        tenant_id = request.path_params["tenant"]
        try:
            self._tenant(tenant_id)
        except OAuthError as exc:
            exc.error = "invalid_tenant"
            return exc.response()
        authority = self.authority(tenant_id)
        return JSONResponse(
            {
                "token_endpoint": self.token_endpoint(tenant_id),
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "private_key_jwt",
                    "client_secret_basic",
                ],
                "jwks_uri": f"{authority}/discovery/v2.0/keys",
                "response_modes_supported": ["query", "fragment", "form_post"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                "issuer": self.issuer(tenant_id),
                "request_uri_parameter_supported": False,
                "authorization_endpoint": f"{authority}/oauth2/v2.0/authorize",
                "device_authorization_endpoint": f"{authority}/oauth2/v2.0/devicecode",
                "end_session_endpoint": f"{authority}/oauth2/v2.0/logout",
                "http_logout_supported": True,
                "frontchannel_logout_supported": True,
                "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nbf", "tid", "oid", "azp", "appid"],
                "tenant_region_scope": "EU",
                "cloud_instance_name": "microsoftonline.com",
                "cloud_graph_host_name": "graph.windows.net",
                "msgraph_host": "graph.microsoft.com",
            }
        )

    async def _keys(self, request: Request) -> Response:
        return JSONResponse(self.jwks())

    async def _token(self, request: Request) -> Response:
        try:
            tenant = self._tenant(request.path_params["tenant"])
            if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
                raise OAuthError(
                    400,
                    "invalid_request",
                    900144,
                    "The request body must contain the following parameter: 'grant_type'.",
                )
            form = {k: str(v) for k, v in (await request.form()).items()}
            grant = form.get("grant_type", "")
            if not grant:
                raise OAuthError(
                    400,
                    "invalid_request",
                    900144,
                    "The request body must contain the following parameter: 'grant_type'.",
                )
            if grant != "client_credentials":
                raise OAuthError(
                    400,
                    "unsupported_grant_type",
                    70003,
                    f"The app requested an unsupported grant type '{grant}'.",
                )
            client = self._authenticate(tenant, form, _basic_auth(request))
            resource = self._resource(tenant, form.get("scope", ""))
        except OAuthError as exc:
            return exc.response()
        token, lifetime = self.issue_token(tenant, client, resource)
        return JSONResponse(
            {
                "token_type": "Bearer",
                "expires_in": lifetime,
                "ext_expires_in": lifetime,
                "access_token": token,
            },
            headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
        )

    def app(self) -> Starlette:
        """The ASGI app, mounted at ``/identity``."""
        return Starlette(
            routes=[
                Route("/{tenant}/v2.0/.well-known/openid-configuration", self._discovery, methods=["GET"]),
                Route("/{tenant}/discovery/v2.0/keys", self._keys, methods=["GET"]),
                Route("/{tenant}/oauth2/v2.0/token", self._token, methods=["POST"]),
            ]
        )


def _basic_auth(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("basic "):
        return None
    try:
        user, _, password = base64.b64decode(header[6:]).decode("utf-8").partition(":")
    except ValueError:
        return None
    return user, password
