"""Doctor's fleet-identity helpers: the admin-consent fix only for a missing service principal,
and a certificate's notAfter for the credentials list."""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from reconciler.engine.doctor_fleet import admin_consent_url, certificate_not_after, consent_fix

TENANT = "6c1f4d5e-2a7b-4c1d-9e3f-0a1b2c3d4e5f"
APP = "3f2a1b4c-5d6e-4f70-8a91-b2c3d4e5f607"


def test_the_consent_url_is_named_only_when_the_app_has_no_service_principal() -> None:
    url = admin_consent_url("https://login.microsoftonline.us/", TENANT, APP)
    assert url == f"https://login.microsoftonline.us/{TENANT}/adminconsent?client_id={APP}"
    for code in ("AADSTS7000229", "AADSTS700016"):
        fix = consent_fix(
            f"token request refused: invalid_client: {code}: …",
            "https://login.microsoftonline.com",
            TENANT,
            APP,
        )
        assert (
            fix is not None
            and f"https://login.microsoftonline.com/{TENANT}/adminconsent?client_id={APP}" in fix
        )
    assert (
        consent_fix("AADSTS7000215: Invalid client secret", "https://login.microsoftonline.com", TENANT, APP)
        is None
    )
    assert (
        consent_fix("AADSTS70001600: something else", "https://login.microsoftonline.com", TENANT, APP)
        is None
    )


def test_certificate_not_after() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fleet")])
    until = dt.datetime(2031, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(7)
        .not_valid_before(until - dt.timedelta(days=365))
        .not_valid_after(until)
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM).decode("ascii")
    assert certificate_not_after(pem) == until
    assert certificate_not_after(None) is None
    assert certificate_not_after("-----BEGIN CERTIFICATE-----\nnot one\n-----END CERTIFICATE-----\n") is None
