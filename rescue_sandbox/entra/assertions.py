"""Client authentication by assertion (RFC 7523), as Entra ID checks it, and its OAuth2 errors.

A certificate credential's assertion is a JWT the client signs itself: ``iss`` = ``sub`` = the
client id, ``aud`` = the token endpoint, the certificate named by ``x5t`` (SHA-1) or ``x5t#S256``.
A federated assertion is a JWT of another issuer (a CI OIDC token, for instance) that must match a
registered issuer, subject and audience. Failures carry Entra's AADSTS codes.
"""

from __future__ import annotations

import base64
import datetime as dt
import time
import uuid
from typing import Any

import jwt
from starlette.responses import JSONResponse

from rescue_sandbox import tls
from rescue_sandbox.entra.tenant import AppClient


class OAuthError(Exception):
    """An Entra-shaped error answer of the token endpoint."""

    def __init__(self, status: int, error: str, code: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.code = code
        self.description = description

    def response(self) -> JSONResponse:
        trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
        stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        return JSONResponse(
            {
                "error": self.error,
                "error_description": f"AADSTS{self.code}: {self.description} Trace ID: {trace} "
                f"Correlation ID: {correlation} Timestamp: {stamp}",
                "error_codes": [self.code],
                "timestamp": stamp,
                "trace_id": trace,
                "correlation_id": correlation,
                "error_uri": f"https://login.microsoftonline.com/error?code={self.code}",
            },
            status_code=self.status,
        )


def _norm(url: str) -> str:
    return url.strip().rstrip("/").lower()


def _b64thumb(hex_thumbprint: str) -> str:
    return base64.urlsafe_b64encode(bytes.fromhex(hex_thumbprint)).decode("ascii").rstrip("=")


def check_times(claims: dict[str, Any]) -> None:
    now = time.time()
    exp, nbf = claims.get("exp"), claims.get("nbf", claims.get("iat", 0))
    if not isinstance(exp, int | float) or exp < now or float(nbf) > now + 300:
        raise OAuthError(
            401, "invalid_client", 700024, "Client assertion is not within its valid time range."
        )


def verify_certificate_assertion(
    client: AppClient, assertion: str, header: dict[str, Any], token_endpoint: str
) -> None:
    """A certificate credential's assertion: signed by a registered certificate, aud = the token endpoint."""
    # base64url with or without padding: msal pads, the RFC does not.
    wanted_sha1 = str(header.get("x5t") or "").rstrip("=")
    wanted_sha256 = str(header.get("x5t#S256") or "").rstrip("=")
    cert = next(
        (
            c
            for c in client.certificates
            if wanted_sha1 == _b64thumb(tls.sha1_thumbprint(c))
            or wanted_sha256 == _b64thumb(tls.sha256_thumbprint(c))
        ),
        None,
    )
    if cert is None:
        raise OAuthError(
            401,
            "invalid_client",
            700027,
            "The certificate with identifier used to sign the client assertion is not registered "
            f"on application. [Reason - The key was not found., Thumbprint of key used by client: "
            f"'{wanted_sha1 or wanted_sha256}']",
        )
    try:
        claims: dict[str, Any] = jwt.decode(
            assertion,
            cert.public_key(),  # type: ignore[arg-type]
            algorithms=["RS256", "PS256"],
            options={"verify_aud": False, "verify_exp": False, "verify_nbf": False, "verify_iat": False},
        )
    except jwt.PyJWTError as exc:
        raise OAuthError(
            401, "invalid_client", 700027, "Client assertion failed signature validation."
        ) from exc
    if claims.get("sub") != client.client_id:
        raise OAuthError(
            401,
            "invalid_client",
            700021,
            "Client assertion application identifier doesn't match 'client_id' parameter.",
        )
    if _norm(str(claims.get("aud", ""))) != _norm(token_endpoint):
        raise OAuthError(
            401,
            "invalid_client",
            501481,
            "The Client Assertion Audience Claim does not match the Realm issuer.",
        )
    check_times(claims)


def verify_federated_assertion(client: AppClient, assertion: str, unverified: dict[str, Any]) -> None:
    """A federated credential's assertion: a registered issuer and subject, audience and key."""
    iss, sub = unverified.get("iss"), unverified.get("sub")
    creds = [c for c in client.federated if c.issuer == iss and c.subject == sub]
    if not creds:
        raise OAuthError(
            400,
            "invalid_request",
            70021,
            "No matching federated identity record found for presented assertion. "
            f"Assertion Issuer: '{iss}'. Assertion Subject: '{sub}'.",
        )
    aud = unverified.get("aud")
    auds = aud if isinstance(aud, list) else [aud]
    creds = [c for c in creds if any(a in c.audiences for a in auds)]
    if not creds:
        raise OAuthError(
            400,
            "invalid_request",
            700212,
            f"No matching federated identity record found for presented assertion audience '{aud}'.",
        )
    for cred in creds:
        keys = list(cred.public_keys)
        if cred.signing_key is not None:
            keys.append(cred.signing_key.public_key())
        for key in keys:
            try:
                claims: dict[str, Any] = jwt.decode(
                    assertion,
                    key,
                    algorithms=["RS256", "PS256"],
                    options={"verify_aud": False, "verify_exp": False, "verify_nbf": False},
                )
            except jwt.PyJWTError:
                continue
            check_times(claims)
            return
    raise OAuthError(401, "invalid_client", 700027, "Client assertion failed signature validation.")
