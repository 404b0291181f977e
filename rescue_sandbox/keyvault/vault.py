"""The vaults of one sandbox: their directory, who may read secrets, and the secrets' versions.

Plain data, seeded from the seed's top-level ``keyvault`` section (docs/sandbox.md, "Azure Key
Vault") and persisted with the rest of the state. A vault belongs to one directory (the MSP's):
only tokens of that directory are accepted, as the real service does (401 AKV10032).
Readers are app registrations (client IDs) holding the Key Vault Secrets User role, or a `get`
access policy; a secret has versions, the newest is the current one, and each version has its
own attributes (enabled, exp, nbf).
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rescue_sandbox.errors import InputError

VAULT_SUFFIXES = ("vault.azure.net", "vault.azure.cn", "vault.usgovcloudapi.net")
_VAULT_NAME = re.compile(r"^[a-z](?:[a-z0-9]|-(?!-)){1,22}[a-z0-9]$")
_SECRET_NAME = re.compile(r"^[A-Za-z][0-9A-Za-z-]{0,126}$")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_NS = uuid.UUID("6f1c62a4-5a8e-4bd3-9d55-5c1f0f7c2b7e")


@dataclass
class SecretVersion:
    version: str
    value: str
    enabled: bool = True
    exp: int | None = None
    nbf: int | None = None
    created: int = field(default_factory=lambda: int(time.time()))

    def snapshot(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "value": self.value,
            "enabled": self.enabled,
            "exp": self.exp,
            "nbf": self.nbf,
            "created": self.created,
        }


@dataclass
class Vault:
    """One vault: ``host`` is its DNS name (``msp-fleet.vault.azure.net``)."""

    host: str
    tenant_id: str
    readers: set[str] = field(default_factory=set)  # client IDs, lower-case
    secrets: dict[str, list[SecretVersion]] = field(default_factory=dict)  # name (lower) -> versions

    def put(self, name: str, value: str, **attributes: Any) -> SecretVersion:
        """A new current version of ``name`` (what Set Secret does)."""
        if not _SECRET_NAME.match(name):
            raise InputError(f"keyvault: {name!r} is not a Key Vault secret name")
        versions = self.secrets.setdefault(name.lower(), [])
        version = uuid.uuid5(_NS, f"{self.host}/{name.lower()}/{len(versions)}").hex
        entry = SecretVersion(version, value, **attributes)
        versions.append(entry)
        return entry

    def find(self, name: str, version: str | None) -> SecretVersion | None:
        versions = self.secrets.get(name.lower(), [])
        if version is None:
            return versions[-1] if versions else None
        return next((v for v in versions if v.version == version.lower()), None)

    def snapshot(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "tenant_id": self.tenant_id,
            "readers": sorted(self.readers),
            "secrets": {n: [v.snapshot() for v in vs] for n, vs in self.secrets.items()},
        }

    @classmethod
    def restore(cls, raw: Mapping[str, Any]) -> Vault:
        vault = cls(str(raw["host"]), str(raw["tenant_id"]), set(raw.get("readers") or []))
        for name, versions in dict(raw.get("secrets") or {}).items():
            vault.secrets[str(name)] = [SecretVersion(**v) for v in versions]
        return vault


def vault_host(name: str, where: str) -> str:
    """``msp-fleet`` -> ``msp-fleet.vault.azure.net``; a full host keeps its cloud's suffix."""
    text = str(name).strip().lower()
    label, _, suffix = text.partition(".")
    if suffix and suffix not in VAULT_SUFFIXES:
        raise InputError(f"{where}: {name!r} is not a Key Vault host (<name>.{VAULT_SUFFIXES[0]})")
    if not _VAULT_NAME.match(label):
        raise InputError(f"{where}: {label!r} is not a Key Vault name (3-24 letters, digits and single '-')")
    return f"{label}.{suffix or VAULT_SUFFIXES[0]}"


def vaults_from_seed(raw: Any, resolve: Callable[[str, str], str]) -> dict[str, Vault]:
    """The seed's ``keyvault.vaults``; ``resolve(source, where)`` turns ``{from: ...}`` into a value."""
    if raw is None:
        return {}
    if not isinstance(raw, list):
        raise InputError("keyvault.vaults: expected a list of vaults")
    vaults: dict[str, Vault] = {}
    for index, item in enumerate(raw):
        where = f"keyvault.vaults[{index}]"
        if not isinstance(item, Mapping) or "name" not in item or "tenant_id" not in item:
            raise InputError(f"{where}: 'name' and 'tenant_id' are required")
        tenant_id = str(item["tenant_id"])
        if not _GUID.match(tenant_id):
            raise InputError(f"{where}.tenant_id: {tenant_id!r} is not a GUID")
        host = vault_host(str(item["name"]), f"{where}.name")
        readers = {str(r).lower() for r in item.get("readers") or []}
        vault = Vault(host, tenant_id.lower(), readers)
        for name, spec in dict(item.get("secrets") or {}).items():
            here = f"{where}.secrets.{name}"
            spec = spec if isinstance(spec, Mapping) else {"value": spec}
            value = resolve(str(spec["from"]), here) if "from" in spec else spec.get("value")
            if not isinstance(value, str):
                raise InputError(f"{here}: give 'value' or 'from'")
            vault.put(
                str(name),
                value,
                enabled=bool(spec.get("enabled", True)),
                exp=int(spec["exp"]) if spec.get("exp") is not None else None,
                nbf=int(spec["nbf"]) if spec.get("nbf") is not None else None,
            )
        if host in vaults:
            raise InputError(f"{where}: the vault {host} is listed twice")
        vaults[host] = vault
    return vaults
