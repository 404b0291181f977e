"""Certificates for the sandbox: a local CA, the HTTPS server certificate and client certificates.

msal and Microsoft's SDK refuse plain http, so the sandbox serves real TLS. Clients trust it by
being handed the CA file explicitly (never by switching verification off). The CA is kept in the
state directory so a restarted sandbox is still trusted by clients that hold the old CA file.
Client certificates stand for the certificate credentials registered on an Entra app.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from rescue_sandbox.files import write_text

_KEY_SIZE = 2048


def new_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=_KEY_SIZE)


def key_to_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")


def key_from_pem(pem: str) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem.encode("ascii"), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("only RSA private keys are supported")
    return key


def cert_to_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def cert_from_pem(pem: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem.encode("ascii"))


def sha1_thumbprint(cert: x509.Certificate) -> str:
    """The thumbprint Entra shows for a certificate credential (upper-case hex SHA-1)."""
    return cert.fingerprint(hashes.SHA1()).hex().upper()  # the x5t header is SHA-1 by definition


def sha256_thumbprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex().upper()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "rescue-dynamics-reconciler sandbox"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


@dataclass(frozen=True)
class CertificateAuthority:
    """A CA that signs the server certificate; its PEM is what clients are told to trust."""

    key: rsa.RSAPrivateKey
    cert: x509.Certificate

    @classmethod
    def create(cls) -> CertificateAuthority:
        key = new_rsa_key()
        name = _name("rescue-dynamics-reconciler sandbox CA")
        now = _now()
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        return cls(key, cert)

    @classmethod
    def load_or_create(cls, cert_path: Path, key_path: Path) -> CertificateAuthority:
        """Reuse the CA kept in a state directory, or make (and keep) a new one."""
        if cert_path.is_file() and key_path.is_file():
            return cls(key_from_pem(key_path.read_text("ascii")), cert_from_pem(cert_path.read_text("ascii")))
        ca = cls.create()
        write_private(key_path, key_to_pem(ca.key))
        write_text(cert_path, cert_to_pem(ca.cert))
        return ca

    def issue_server_cert(self, hosts: tuple[str, ...] = ("127.0.0.1", "localhost")) -> tuple[str, str]:
        """A server certificate for the loopback names; returns (certificate chain PEM, key PEM)."""
        key = new_rsa_key()
        now = _now()
        names: list[x509.GeneralName] = []
        for host in hosts:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                names.append(x509.DNSName(host))
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(hosts[0]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False
            )
            .sign(self.key, hashes.SHA256())
        )
        return cert_to_pem(cert) + cert_to_pem(self.cert), key_to_pem(key)


def self_signed_client_cert(common_name: str) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    """A certificate credential as an admin would upload to an app registration."""
    key = new_rsa_key()
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=730))
        .sign(key, hashes.SHA256())
    )
    return cert, key


def write_private(path: Path, text: str) -> None:
    """Write a file readable by its owner only (keys, sandbox.json with secrets)."""
    write_text(path, text, private=True)
