"""`reconcile validate` through the real entry point: summaries, secrets, filters, no network."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
VALUE = "s3cr3t-VALUE-never-shown"


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to resolve a name or open a connection fails the test."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.mark.usefixtures("no_network")
def test_example_tenants_validate(reconcile: Any) -> None:
    outcome = reconcile(["validate"], cwd=REPO)
    assert outcome.exit_code == 0, outcome.stderr
    assert outcome.stdout.splitlines() == [
        "contoso: ok (5 technicians, 2 rescue groups, 2 files)",
        "fabrikam: ok (3 technicians, 1 rescue group, 2 files)",
    ]
    assert outcome.stderr == ""


@pytest.mark.usefixtures("no_network")
def test_tenant_filter_and_unknown_tenant(reconcile: Any) -> None:
    outcome = reconcile(["validate", "tenants", "--tenant", "fabrikam"], cwd=REPO)
    assert outcome.stdout.splitlines() == ["fabrikam: ok (3 technicians, 1 rescue group, 2 files)"]
    unknown = reconcile(["validate", "--tenant", "contosoo"], cwd=REPO)
    assert unknown.exit_code == 1
    assert unknown.stderr.strip() == "error: unknown tenant 'contosoo'; known tenants: contoso, fabrikam"


@pytest.mark.usefixtures("no_network")
def test_check_secrets_names_the_variable_never_a_value(
    reconcile: Any, monkeypatch: pytest.MonkeyPatch, write_tree: Any, acme: str
) -> None:
    root = write_tree({"tenants/acme/tenant.yaml": acme})
    monkeypatch.setenv("ACME_CLIENT_SECRET", VALUE)
    monkeypatch.setenv("ACME_SSO_PASSWORD", VALUE)
    monkeypatch.delenv("ACME_RESCUE_AUTHCODE", raising=False)
    plain = reconcile(["validate"], cwd=root)
    assert plain.exit_code == 0  # without --check-secrets references are only checked for syntax
    outcome = reconcile(["validate", "--check-secrets"], cwd=root)
    assert outcome.exit_code == 1
    assert outcome.stderr.splitlines() == [
        "tenants/acme/tenant.yaml:10:15: connection.rescue.authcode: environment variable ACME_RESCUE_AUTHCODE "
        "is not set",
        "error: 1 problem in the tenant files; nothing was sent to any API",
    ]
    assert VALUE not in outcome.stderr + outcome.stdout
    monkeypatch.setenv("ACME_RESCUE_AUTHCODE", VALUE)
    resolved = reconcile(["validate", "--check-secrets"], cwd=root)
    assert resolved.exit_code == 0
    assert resolved.stdout == "acme: ok (2 technicians, 1 rescue group, 1 file, 3 secrets resolved)\n"
    assert VALUE not in resolved.stdout + resolved.stderr


def test_a_missing_path_is_an_error_without_traceback(reconcile: Any, tmp_path: Path) -> None:
    outcome = reconcile(["validate", "nope"], cwd=tmp_path)
    assert outcome.exit_code == 1
    assert outcome.stderr.splitlines()[0] == "nope: no such file or folder"
    assert "Traceback" not in outcome.stderr


@pytest.mark.usefixtures("no_network")
@pytest.mark.parametrize("command", ["plan", "apply"])
def test_a_named_tenant_outside_the_shard_is_an_error(reconcile: Any, command: str) -> None:
    """`--tenant contoso --shard 1/2` (contoso is in shard 0) must not print "0 tenant(s)" and pass."""
    outcome = reconcile([command, "--tenant", "contoso", "--shard", "1/2"], cwd=REPO)
    assert outcome.exit_code == 1
    assert "error: --tenant names a tenant outside shard 1/2: 'contoso' is in shard 0/2" in outcome.stderr
    assert "0 tenant(s)" not in outcome.stderr
