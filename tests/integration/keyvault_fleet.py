"""A small generated fleet that signs in as one app and reads its secrets from the sandbox's
Key Vault (rescue_sandbox/keyvault/fleet.py), the CLI run against it, and the secret scan.

A test module imports the ``fleet`` fixture (``fleet_fixture``) from here (it is not in conftest.py: only the Key
Vault tests use it)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from rescue_sandbox import SandboxHandle, running_sandbox
from rescue_sandbox.faults import parse_spec
from rescue_sandbox.keyvault.fleet import generate_fleet, mint_token

from .conftest import Run, invoke

FLEET = 4


@dataclass
class Fleet:
    root: Path
    handle: SandboxHandle
    token_file: Path

    @property
    def tenants(self) -> Path:
        return self.root / "tenants"

    def run(self, *args: str, **env: str) -> Run:
        """``reconcile ARGS --sandbox DIR`` with the fleet's token file (and ``env``) set."""
        names = {"AZURE_FEDERATED_TOKEN_FILE": str(self.token_file), **env}
        saved = {name: os.environ.get(name) for name in names}
        os.environ.update(names)
        try:
            return invoke(*args, "--sandbox", str(self.handle.state_dir))
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value

    def faults(self, spec: str) -> None:
        self.handle.sandbox.faults.configure(*parse_spec(spec))

    def vault_requests(self) -> list[dict[str, Any]]:
        return [e for e in self.handle.sandbox.requests.summary()["entries"] if e["service"] == "keyvault"]


def secret_values(handle: SandboxHandle) -> list[str]:
    """Every value the sandbox's vaults hold, and every tenant credential it made."""
    values = [
        v.value
        for vault in handle.sandbox.keyvault.vaults.values()
        for vs in vault.secrets.values()
        for v in vs
    ]
    for entry in handle.info["tenants"].values():
        values += [entry["client_secret"], entry["rescue_authcode"]]
    assert values and all(len(v) >= 6 for v in values)
    return values


def assert_no_secret(handle: SandboxHandle, *texts: str, root: Path | None = None) -> None:
    """The secret scan: no secret value in any text, file under ``root`` or the environment."""
    values = secret_values(handle)
    corpus = list(texts) + [f"{k}={v}" for k, v in os.environ.items()]
    if root is not None:
        corpus += [p.read_text("utf-8", errors="replace") for p in root.rglob("*") if p.is_file()]
    for text in corpus:
        for value in values:
            assert value not in text


@pytest.fixture(name="fleet")
def fleet_fixture(tmp_path: Path) -> Iterator[Fleet]:
    generate_fleet(tmp_path / "fleet", tenants=FLEET, technicians=2, drift=0.5, rng_seed=3)
    token = tmp_path / "token"
    token.write_text(mint_token(tmp_path / "fleet"), "ascii")
    with running_sandbox(tmp_path / "fleet" / "seed.yaml", index_job_seconds=0.05) as handle:
        yield Fleet(tmp_path / "fleet", handle, token)
    shutil.rmtree(tmp_path / "fleet", ignore_errors=True)
