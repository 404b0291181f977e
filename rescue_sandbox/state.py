"""What one sandbox holds, apart from how it is served: its tenants, the Entra token service they
share, the fault injector, the request log, and where its state is persisted.

Below the server (server.py composes the emulators and serves this state over HTTPS) and the
controls (controls.py change it from outside the APIs): both name it, neither needs the other.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rescue_sandbox import tls
from rescue_sandbox.entra.identity import IdentityService
from rescue_sandbox.faults import FaultInjector
from rescue_sandbox.keyvault.api import KeyVaultService
from rescue_sandbox.keyvault.seeding import KeyVaultSeed
from rescue_sandbox.requestlog import RequestLog
from rescue_sandbox.tenant import SandboxTenant

STATE_FILE = "state.json"
STATE_VERSION = 1


class SandboxState:
    """Every tenant of one sandbox, with what the emulators share across tenants."""

    def __init__(
        self,
        tenants: Mapping[str, SandboxTenant],
        signing_key: Any = None,
        keyvault: KeyVaultSeed | None = None,
    ) -> None:
        self.base_url = ""
        self.state_dir: Path | None = None  # set when the state is persisted
        self.tenants = dict(tenants)
        self.identity = IdentityService(signing_key or tls.new_rsa_key(), lambda: self.base_url)
        for tenant in self.tenants.values():
            self.identity.add_tenant(tenant.identity)
        self.keyvault_seed = keyvault or KeyVaultSeed()
        if self.keyvault_seed.directory is not None:
            self.identity.add_tenant(self.keyvault_seed.directory)
        self.keyvault = KeyVaultService(
            self.keyvault_seed.vaults, self.identity.verify_token, self.identity.authority
        )
        self.faults = FaultInjector()
        self.requests = RequestLog()
        self._segments: dict[tuple[str, str], str] = {}
        for tenant in self.tenants.values():
            self._segments[("identity", tenant.identity.tenant_id.lower())] = tenant.name
            self._segments[("dataverse", tenant.org_host.lower())] = tenant.name
            self._segments[("rescue", tenant.rescue.company_id)] = tenant.name

    def snapshot(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "signing_key": tls.key_to_pem(self.identity.signing_key),
            "tenants": [t.snapshot() for t in self.tenants.values()],
            "keyvault": self.keyvault_seed.snapshot(),
        }

    def tenant_for(self, service: str, segment: str) -> str:
        return self._segments.get((service, segment.lower()), "")

    def info(self, ca_file: Path, state_dir: Path) -> dict[str, Any]:
        """The content of sandbox.json (DESIGN §6, plus the keys the CLI uses in sandbox mode)."""
        base = self.base_url
        tenants: dict[str, Any] = {}
        for tenant in self.tenants.values():
            entry: dict[str, Any] = {
                "dataverse_url": f"{base}/dataverse/{tenant.org_host}",
                "authority": f"{base}/identity/{tenant.identity.tenant_id}",
                "client_id": tenant.client.client_id,
                "client_secret": tenant.client.secret,
                "rescue_url": f"{base}/rescue/{tenant.rescue.company_id}/API",
                "rescue_authcode": tenant.authcode,
                "graph_url": f"{base}/graph",
                "org_url": tenant.org.org_url,
                "company_id": tenant.rescue.company_id,
                "report_interval": tenant.rescue.book.report_interval,  # seconds between reports
                "secrets": tenant.resolved_secrets(),
            }
            if tenant.tenant_file_sign_in:
                entry["sign_in"] = "tenant_file"
            if tenant.certificate is not None:
                key_file = state_dir / f"{tenant.name}-client-key.pem"
                tls.write_private(key_file, tenant.certificate.private_key_pem)
                entry["certificate"] = {
                    "private_key_file": str(key_file),
                    "thumbprint": tenant.certificate.thumbprint,
                }
            tenants[tenant.name] = entry
        info: dict[str, Any] = {"url": base, "ca_file": str(ca_file), "tenants": tenants}
        directory = self.keyvault_seed.directory
        if directory is not None:  # the MSP's directory: where the fleet's app reads the vaults
            app = next(iter(directory.clients.values()))
            info["keyvault"] = {
                "tenant_id": directory.tenant_id,
                "authority": f"{base}/identity/{directory.tenant_id}",
                "client_id": app.client_id,
                "client_secret": app.secret,
                "vaults": {f"https://{host}": f"{base}/keyvault/{host}" for host in self.keyvault.vaults},
                "sign_in": "tenant_file" if self.keyvault_seed.tenant_file_sign_in else "sandbox",
            }
        return info


def save_state(sandbox: SandboxState, state_dir: Path) -> Path:
    """Write the sandbox's state so the next start with this state directory resumes it."""
    path = state_dir / STATE_FILE
    tmp = path.with_suffix(".tmp")
    tls.write_private(tmp, json.dumps(sandbox.snapshot()))
    tmp.replace(path)
    return path
