"""Fixtures for the config tests: run `reconcile` the way a user does, and write tenant folders."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from reconciler.cli import main

REPO = Path(__file__).resolve().parents[2]
BAD = REPO / "tests" / "data" / "bad"

# A small valid tenant; tests change one thing at a time.
ACME = """\
tenant: acme
connection:
  dynamics:
    org_url: https://acme.crm.dynamics.com
    tenant_id: 11111111-2222-4333-8444-555555555555
    client_id: 22222222-3333-4444-8555-666666666666
    credential:
      client_secret: {env: ACME_CLIENT_SECRET}
  rescue:
    authcode: {env: ACME_RESCUE_AUTHCODE}
solution:
  min_version: 2.1.0.0
integration:
  instance: production
  company_id: "1234567"
  sso_password: {env: ACME_SSO_PASSWORD}
  org_url: https://acme.crm.dynamics.com
  office365_tenant_id: 11111111-2222-4333-8444-555555555555
technicians:
  - user: alice@acme.com
    sso_id: alice
  - user: bob@acme.com
    sso_id: bob
rescue_groups:
  - path: Support
"""


@dataclass(frozen=True)
class Outcome:
    exit_code: int
    stdout: str
    stderr: str


Run = Callable[..., Outcome]


@pytest.fixture
def reconcile(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Run:
    """Run the real entry point (its one error table) and capture exit code and output."""

    def run(args: Sequence[str], *, cwd: Path | None = None) -> Outcome:
        if cwd is not None:
            monkeypatch.chdir(cwd)
        capsys.readouterr()
        with pytest.raises(SystemExit) as stop:
            main(list(args))
        out, err = capsys.readouterr()
        code = stop.value.code
        return Outcome(code if isinstance(code, int) else 1, out, err)

    return run


WriteTree = Callable[[dict[str, str]], Path]


@pytest.fixture
def acme() -> str:
    """The text of a small valid tenant file (tenant `acme`)."""
    return ACME


@pytest.fixture
def write_tree(tmp_path: Path) -> WriteTree:
    """Write ``{"relative/path.yaml": text}`` under a fresh folder (text is dedented); return it."""

    def write(files: dict[str, str]) -> Path:
        for name, text in files.items():
            path = tmp_path / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text), encoding="utf-8")
        return tmp_path

    return write
