"""Validated scalar types of tenant files: GUIDs, https URLs, versions, company IDs, UPNs, secrets.

Each type normalises as it validates (GUIDs lower-case, URLs without a trailing slash, UPNs
lower-case) so desired and live state compare like with like.
"""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from reconciler.config.text import excerpt

_GUID_RE = re.compile(r"^\{?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\}?$")
_VERSION_RE = re.compile(r"^[0-9]+\.[0-9]+(\.[0-9]+){0,2}$")
_UPN_RE = re.compile(
    r"^[^@\s]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$"
)
_THUMBPRINT_RE = re.compile(r"^[0-9A-Fa-f]{40}$")
# ASCII digits only: `\d` and str.isdigit() also take other scripts' digits (U+0663), which int() converts.
_DIGITS_RE = re.compile(r"^[0-9]{1,18}$")
_TENANT_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_HOST_RE = re.compile(
    r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)
# Rescue documents no limit for a group name; a stricter cap than any real name (unverified).
MAX_GROUP_NAME = 128
MAX_LOCAL_PART = 64  # before the `@` of an e-mail address or UPN


def normalise_guid(value: str) -> str:
    if not isinstance(value, str) or not _GUID_RE.match(value.strip()):
        raise ValueError(
            f"{excerpt(value)} is not a GUID; expected the form 1e2716f5-fee6-4370-a121-baea6d360668"
        )
    return str(uuid.UUID(value.strip().strip("{}")))


def normalise_https_url(value: str) -> str:
    """An https URL without user info, query or fragment; host lower-case, no trailing slash."""
    text = value.strip()
    try:
        parts = urlsplit(text)
        port = parts.port  # an out-of-range or non-numeric port raises here
    except ValueError:
        raise ValueError(f"{excerpt(text)} is not a valid URL") from None
    if parts.scheme.lower() == "http":
        raise ValueError(f"{excerpt(text)} uses http://; only https:// URLs are allowed (TLS is always on)")
    if parts.scheme.lower() != "https" or not parts.hostname:
        raise ValueError(
            f"{excerpt(text)} is not an https URL; expected e.g. https://contoso.crm.dynamics.com"
        )
    if "@" in parts.netloc:
        # `https://contoso.crm.dynamics.com@evil.example.com` reads as contoso but goes to evil.
        raise ValueError(
            f"{excerpt(text)} has user info (a name before '@'); write only https://host[:port]/path"
        )
    if parts.query or parts.fragment or text.endswith(("?", "#")):
        raise ValueError(f"{excerpt(text)} must not have a query string or fragment")
    if not _HOST_RE.match(parts.hostname):
        raise ValueError(f"{excerpt(text)} has an invalid host name; expected e.g. contoso.crm.dynamics.com")
    host = parts.hostname.lower() + (f":{port}" if port is not None else "")
    path = parts.path.rstrip("/")
    return f"https://{host}{path}"


def _https_origin(value: str, only: str) -> str:
    """An https URL with no path; ``only`` says what it may be (after "has a path; ")."""
    url = normalise_https_url(value)
    if urlsplit(url).path:
        raise ValueError(f"{excerpt(value)} has a path; {only}")
    return url


def normalise_org_url(value: str) -> str:
    """A Dynamics org URL: an https URL of the org itself, with no path."""
    return _https_origin(
        value, "an org URL is only https://<org host>, e.g. https://contoso.crm.dynamics.com"
    )


def check_version(value: str) -> str:
    if not isinstance(value, str) or not _VERSION_RE.fullmatch(value):
        raise ValueError(
            f"{excerpt(value)} is not a version; expected numbers a.b, a.b.c or a.b.c.d (e.g. 2.1.0.0)"
        )
    return value


def version_tuple(value: str) -> tuple[int, int, int, int]:
    """'2.1' -> (2, 1, 0, 0): versions compare part by part as integers. A part that is not a
    number (a live value can be anything) counts as 0."""
    parts = [int(p) if p.isascii() and p.isdigit() else 0 for p in value.strip().split(".")[:4]]
    parts += [0] * (4 - len(parts))
    return (parts[0], parts[1], parts[2], parts[3])


def _digits(value: Any) -> str:
    if isinstance(value, bool):
        raise ValueError('expected digits, e.g. "1234567"')
    if isinstance(value, int):
        value = str(value)
    if not isinstance(value, str) or not _DIGITS_RE.fullmatch(value.strip()):
        raise ValueError(f'{excerpt(value)} is not numeric; expected digits only, e.g. "1234567"')
    return value.strip()


def normalise_upn(value: str) -> str:
    text = value.strip()
    if not _UPN_RE.match(text):
        raise ValueError(f"{excerpt(text)} is not an email address / UPN; expected e.g. alice@contoso.com")
    local = text.rsplit("@", 1)[0]
    if len(local) > MAX_LOCAL_PART:  # RFC 5321 4.5.3.1.1; Entra's UPN prefix limit too
        raise ValueError(
            f"{excerpt(text)} has {len(local)} characters before the @; at most {MAX_LOCAL_PART} are allowed"
        )
    return text.lower()


def check_thumbprint(value: str) -> str:
    if not _THUMBPRINT_RE.match(value.replace(":", "")):
        raise ValueError("a certificate thumbprint is 40 hexadecimal digits (SHA-1)")
    return value.replace(":", "").upper()


def check_tenant_name(value: str) -> str:
    if not _TENANT_NAME_RE.match(value):
        raise ValueError(
            f"{excerpt(value)} is not a valid tenant name; use lower-case letters, digits, '-' and '_' "
            "(it names a folder)"
        )
    return value


def normalise_group_path(value: str) -> str:
    parts = [p.strip() for p in value.strip().strip("/").split("/")]
    if not value.strip() or any(not p for p in parts):
        raise ValueError(
            f"{excerpt(value)} is not a group path; expected names separated by '/', e.g. Support/Tier 1"
        )
    if any(p in (".", "..") for p in parts):
        raise ValueError(
            f"{excerpt(value)} has a '.' or '..' segment; a group path names each group, e.g. Support/Tier 1"
        )
    long = next((p for p in parts if len(p) > MAX_GROUP_NAME), None)
    if long is not None:
        raise ValueError(f"the group name {excerpt(long)} is longer than {MAX_GROUP_NAME} characters")
    return "/".join(parts)


Guid = Annotated[str, AfterValidator(normalise_guid)]
HttpsUrl = Annotated[str, AfterValidator(normalise_https_url)]
OrgUrl = Annotated[str, AfterValidator(normalise_org_url)]
Version = Annotated[str, BeforeValidator(lambda v: check_version(v) if isinstance(v, str) else v), Field()]
Digits = Annotated[str, BeforeValidator(_digits)]
Upn = Annotated[str, AfterValidator(normalise_upn)]
Thumbprint = Annotated[str, AfterValidator(check_thumbprint)]
TenantName = Annotated[str, AfterValidator(check_tenant_name)]
GroupPath = Annotated[str, AfterValidator(normalise_group_path)]


_PLAIN_SECRET = (
    "is a plain-text secret; secrets are references: write {env: VARIABLE_NAME}, "
    "{file: /path/to/file} or {keyvault: {vault: https://NAME.vault.azure.net, secret: NAME}} "
    "and keep the value out of the repository"
)

# Key Vault's own rules (Microsoft Learn, "About keys, secrets, and certificates"): a vault name is
# 3-24 characters of letters, digits and non-consecutive '-', starting with a letter and ending
# with a letter or digit; a secret name is 1-127 letters, digits and '-', starting with a letter;
# a version is a 32-character system-generated identifier. The vault's DNS suffix per cloud is
# in hosts.py (KEY_VAULT_SUFFIXES).
_VAULT_NAME_RE = re.compile(r"^[a-z](?:[a-z0-9]|-(?!-)){1,22}[a-z0-9]$")
_VAULT_SECRET_RE = re.compile(r"^[A-Za-z][0-9A-Za-z-]{0,126}$")
_VAULT_VERSION_RE = re.compile(r"^[0-9a-fA-F]{32}$")


def normalise_vault_url(value: str) -> str:
    """``https://NAME.<vault suffix>``: an https URL with no path (the host is checked per cloud
    against the allow-list in hosts.py, like every other service URL)."""
    url = _https_origin(value, "a vault URL is only https://<vault name>.vault.azure.net")
    parts = urlsplit(url)
    name = (parts.hostname or "").split(".", 1)[0]
    if not _VAULT_NAME_RE.match(name):
        raise ValueError(
            f"{excerpt(name)} is not a Key Vault name: 3-24 letters, digits and single '-', starting "
            "with a letter and ending with a letter or digit"
        )
    return url


def check_vault_secret_name(value: str) -> str:
    if not isinstance(value, str) or not _VAULT_SECRET_RE.match(value):
        raise ValueError(
            f"{excerpt(value)} is not a Key Vault secret name: 1-127 letters, digits and '-', starting "
            "with a letter (no '_', '.' or '/')"
        )
    return value


def check_vault_version(value: str) -> str:
    if not isinstance(value, str) or not _VAULT_VERSION_RE.match(value):
        raise ValueError(f"{excerpt(value)} is not a Key Vault secret version (32 hexadecimal digits)")
    return value.lower()


VaultUrl = Annotated[str, AfterValidator(normalise_vault_url)]
VaultSecretName = Annotated[str, AfterValidator(check_vault_secret_name)]
VaultVersion = Annotated[str, AfterValidator(check_vault_version)]


class KeyVaultSecret(BaseModel):
    """A secret in Azure Key Vault, read with the fleet's identity (``connection.keyvault``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    vault: VaultUrl = Field(description="The vault's URL, e.g. https://msp-fleet.vault.azure.net.")
    secret: VaultSecretName = Field(description="The secret's name in the vault.")
    version: VaultVersion | None = Field(
        default=None, description="A version of the secret (32 hex digits); the current one when left out."
    )

    @property
    def url(self) -> str:
        """The secret's identifier (``https://VAULT/secrets/NAME[/VERSION]``): never its value."""
        return f"{self.vault}/secrets/{self.secret}" + (f"/{self.version}" if self.version else "")


class SecretRef(BaseModel):
    """A reference to a secret: exactly one of an environment variable, a file or a Key Vault
    secret. Never a value."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    env: str | None = Field(
        default=None, description="Name of an environment variable that holds the secret."
    )
    file: str | None = Field(
        default=None, description="Path of a file whose content (stripped) is the secret."
    )
    keyvault: KeyVaultSecret | None = Field(
        default=None,
        description=(
            "A secret in Azure Key Vault, read late (once per run) with the fleet's identity; needs "
            "`connection.keyvault.tenant_id`."
        ),
    )

    @model_validator(mode="before")
    @classmethod
    def _refuse_plain_values(cls, data: Any) -> Any:
        if isinstance(data, str | int | float) and not isinstance(data, bool):
            raise ValueError(_PLAIN_SECRET)
        return data

    @model_validator(mode="after")
    def _exactly_one(self) -> SecretRef:
        if sum(v is not None for v in (self.env, self.file, self.keyvault)) != 1:
            raise ValueError("a secret reference needs exactly one of `env`, `file` or `keyvault`")
        if self.env is not None and not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", self.env):
            raise ValueError(f"{excerpt(self.env)} is not an environment variable name")
        if self.file is not None and not self.file.strip():
            raise ValueError("`file` must be a path")
        return self

    @property
    def ref(self) -> str:
        """A printable handle, e.g. `env:NAME` or `keyvault:https://v.vault.azure.net/secrets/NAME`
        (never the value)."""
        if self.keyvault is not None:
            return f"keyvault:{self.keyvault.url}"
        return f"env:{self.env}" if self.env is not None else f"file:{self.file}"
