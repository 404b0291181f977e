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


def normalise_org_url(value: str) -> str:
    """A Dynamics org URL: an https URL of the org itself, with no path."""
    url = normalise_https_url(value)
    if urlsplit(url).path:
        raise ValueError(
            f"{excerpt(value)} has a path; an org URL is only https://<org host>, "
            "e.g. https://contoso.crm.dynamics.com"
        )
    return url


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
    "is a plain-text secret; secrets are references: write {env: VARIABLE_NAME} "
    "or {file: /path/to/file} and keep the value out of the repository"
)


class SecretRef(BaseModel):
    """A reference to a secret: exactly one of an environment variable or a file. Never a value."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    env: str | None = Field(
        default=None, description="Name of an environment variable that holds the secret."
    )
    file: str | None = Field(
        default=None, description="Path of a file whose content (stripped) is the secret."
    )

    @model_validator(mode="before")
    @classmethod
    def _refuse_plain_values(cls, data: Any) -> Any:
        if isinstance(data, str | int | float) and not isinstance(data, bool):
            raise ValueError(_PLAIN_SECRET)
        return data

    @model_validator(mode="after")
    def _exactly_one(self) -> SecretRef:
        if (self.env is None) == (self.file is None):
            raise ValueError("a secret reference needs exactly one of `env` or `file`")
        if self.env is not None and not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", self.env):
            raise ValueError(f"{excerpt(self.env)} is not an environment variable name")
        if self.file is not None and not self.file.strip():
            raise ValueError("`file` must be a path")
        return self

    @property
    def ref(self) -> str:
        """A printable handle, e.g. `env:NAME` (never the value)."""
        return f"env:{self.env}" if self.env is not None else f"file:{self.file}"

    def __str__(self) -> str:
        return self.ref
