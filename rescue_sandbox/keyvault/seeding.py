"""The seed's ``keyvault`` section: the vaults' directory (the MSP's Entra tenant, with the fleet's
app registration) and the vaults with their readers and secrets (format: docs/sandbox.md).

A secret's value may be ``{from: tenants.<name>.<source>}`` (``rescue.authcode``,
``rescue.sso_password``, ``identity.client_secret``), a value the sandbox generates for a tenant.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rescue_sandbox.entra.tenant import IdentityTenant
from rescue_sandbox.errors import InputError
from rescue_sandbox.keyvault.vault import Vault, vaults_from_seed
from rescue_sandbox.seed import identity_from_seed
from rescue_sandbox.tenant import SandboxTenant


@dataclass
class KeyVaultSeed:
    """What the seed's ``keyvault`` section built, and the section itself (kept for restarts)."""

    raw: Mapping[str, Any] = field(default_factory=dict)
    directory: IdentityTenant | None = None
    vaults: dict[str, Vault] = field(default_factory=dict)

    @property
    def tenant_file_sign_in(self) -> bool:
        """The directory's ``sign_in: tenant_file``: vaults are read with the tenant file's own
        federated credential instead of the app secret sandbox.json names."""
        directory = self.raw.get("directory")
        return isinstance(directory, Mapping) and directory.get("sign_in") == "tenant_file"

    def snapshot(self) -> dict[str, Any]:
        return {"seed": dict(self.raw), "vaults": [v.snapshot() for v in self.vaults.values()]}


def build_keyvault(raw: Any, tenants: Mapping[str, SandboxTenant]) -> KeyVaultSeed:
    if raw is None:
        return KeyVaultSeed()
    if not isinstance(raw, Mapping):
        raise InputError("keyvault: expected a mapping with 'directory' and 'vaults'")

    def resolve(source: str, where: str) -> str:
        parts = source.split(".", 2)
        tenant = tenants.get(parts[1]) if len(parts) == 3 and parts[0] == "tenants" else None
        value = tenant.secret_from(parts[2]) if tenant is not None else None
        if value is None:
            raise InputError(f"{where}: unknown source {source!r} (e.g. tenants.contoso.rescue.authcode)")
        return value

    directory = None
    if raw.get("directory") is not None:
        if not isinstance(raw["directory"], Mapping):
            raise InputError("keyvault.directory: expected a mapping like a tenant's identity")
        sign_in = raw["directory"].get("sign_in")
        if sign_in not in (None, "sandbox", "tenant_file"):
            raise InputError(
                f"keyvault.directory.sign_in: expected 'sandbox' or 'tenant_file', not {sign_in!r}"
            )
        directory, _ = identity_from_seed("keyvault-directory", raw["directory"], None)
    vaults = vaults_from_seed(raw.get("vaults"), resolve)
    return KeyVaultSeed(raw, directory, vaults)


def restore_keyvault(state: Any, tenants: Mapping[str, SandboxTenant]) -> KeyVaultSeed:
    """From a snapshot: the directory rebuilt from its seed, the vaults as they were."""
    if not isinstance(state, Mapping):
        return KeyVaultSeed()
    built = build_keyvault({**dict(state.get("seed") or {}), "vaults": None}, tenants)
    built.vaults = {v.host: v for v in (Vault.restore(raw) for raw in state.get("vaults") or [])}
    return built
