"""Integration tests: the product code against the sandbox over real HTTPS on 127.0.0.1.

`invoke` runs a `reconcile` command in-process through click, with the same exit-code mapping
as the real entry point. Sandboxes are started per module (or per test where a test changes
state it cannot undo), so the suite stays fast.
"""

from __future__ import annotations

import shutil
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from reconciler.cli import cli
from reconciler.errors import ReconcileError
from rescue_sandbox import SandboxHandle, running_sandbox

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_TENANTS = REPO / "tenants"


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def invoke(*args: str, input: str | None = None) -> Run:
    """`reconcile ARGS...` in-process; ReconcileError mapped to its exit code like main()."""
    runner = CliRunner()
    result = runner.invoke(cli, list(args), standalone_mode=False, input=input, catch_exceptions=True)
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        exc = result.exception
        if isinstance(exc, ReconcileError):
            return Run(exc.exit_code, result.stdout, stderr + exc.format() + "\n")
        raise exc
    code = result.return_value if isinstance(result.return_value, int) else result.exit_code
    return Run(code, result.stdout, stderr)


def control(handle: SandboxHandle, method: str, path: str, body: Any = None) -> Any:
    """A sandbox control call (a person acting in an admin console)."""
    ctx = ssl.create_default_context(cafile=str(handle.ca_file))
    with httpx.Client(base_url=handle.url, verify=ctx, trust_env=False, timeout=30) as client:
        response = client.request(method, f"/_sandbox{path}", json=body)
    assert response.status_code < 300, response.text
    return response.json() if response.content else None


@pytest.fixture
def tenants_copy(tmp_path: Path) -> Path:
    """A private copy of the example tenants (tests may edit it)."""
    target = tmp_path / "tenants"
    shutil.copytree(EXAMPLE_TENANTS, target)
    return target


@pytest.fixture
def demo_sandbox() -> Iterator[SandboxHandle]:
    """A fresh demo sandbox for one test (for tests that change live state)."""
    with running_sandbox(index_job_seconds=0.05) as handle:
        yield handle


@pytest.fixture(scope="module")
def shared_demo() -> Iterator[SandboxHandle]:
    """A demo sandbox shared by a module's read-only tests."""
    with running_sandbox(index_job_seconds=0.05) as handle:
        yield handle
