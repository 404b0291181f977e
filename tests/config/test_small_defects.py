"""Smaller defects of issue 11: -v after the command, --check-secrets with --sandbox, latency
counting toward a fault's count, `needs --force` under --force."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.kinds.application_user import ApplicationUser
from reconciler.plan import FieldChange, Plan, TenantPlan, Update
from reconciler.render import render_text
from rescue_sandbox.faults import FaultInjector, rule_from_mapping

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def root_level() -> Iterator[None]:
    level = logging.getLogger().level
    yield
    logging.getLogger().setLevel(level)


def test_verbose_works_after_the_subcommand_too(reconcile: Any, root_level: None) -> None:
    logging.getLogger().setLevel(logging.WARNING)
    outcome = reconcile(["validate", str(REPO / "tenants"), "-vv"])
    assert outcome.exit_code == 0, outcome.stderr
    assert logging.getLogger().level == logging.DEBUG
    logging.getLogger().setLevel(logging.WARNING)
    assert reconcile(["validate", str(REPO / "tenants"), "-v"]).exit_code == 0
    assert logging.getLogger().level == logging.INFO


def test_check_secrets_resolves_through_the_sandbox(
    reconcile: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = ("CONTOSO_DYNAMICS_CLIENT_SECRET", "CONTOSO_RESCUE_AUTHCODE", "CONTOSO_RESCUE_SSO_PASSWORD")
    for name in (*names, "CONTOSO_RESCUE_ADMIN_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    tenants = [str(REPO / "tenants"), "--tenant", "contoso"]
    without = reconcile(["validate", *tenants, "--check-secrets"])
    assert without.exit_code == 1 and "CONTOSO_RESCUE_AUTHCODE" in without.stderr
    secrets = {
        "env:CONTOSO_DYNAMICS_CLIENT_SECRET": "a",
        "env:CONTOSO_RESCUE_AUTHCODE": "b",
        "env:CONTOSO_RESCUE_SSO_PASSWORD": "c",
        "env:CONTOSO_RESCUE_ADMIN_PASSWORD": "d",  # connection.rescue.reports (health)
    }
    (tmp_path / "sandbox.json").write_text(
        json.dumps(
            {"url": "https://127.0.0.1:1", "ca_file": "ca.pem", "tenants": {"contoso": {"secrets": secrets}}}
        )
    )
    with_sandbox = reconcile(["validate", *tenants, "--check-secrets", "--sandbox", str(tmp_path)])
    assert with_sandbox.exit_code == 0, with_sandbox.stderr
    assert "contoso: ok (5 technicians, 2 rescue groups, 2 files, 4 secrets resolved)" in with_sandbox.stdout
    assert not any(v in with_sandbox.stdout + with_sandbox.stderr for v in ("a\n", "'b'", "'c'", "'d'"))


def test_a_delayed_request_counts_toward_count() -> None:
    faults = FaultInjector()
    faults.configure([rule_from_mapping({"service": "rescue", "latency": 0.5, "count": 2})], seed=1)
    delays = [faults.decide("rescue", "GET", "/API/x").latency for _ in range(4)]
    assert delays == [0.5, 0.5, 0.0, 0.0]


def test_needs_force_is_not_printed_under_force() -> None:
    change = Update(
        "application_user",
        "app",
        (),
        ApplicationUser(app_id="app", roles=frozenset({"R"})),
        ApplicationUser(app_id="app", roles=frozenset()),
        (FieldChange("roles", [], ["R"]),),
    )
    plan = Plan((TenantPlan("t", "d", changes=(change,)),))
    assert "needs --force: " in render_text(plan)
    forced = render_text(plan, forced=True)
    assert "needs --force" not in forced and "allowed by --force: " in forced


def test_error_messages_reach_the_terminal_escaped(reconcile: Any, tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text('{"format_version": "\\u001b[31m\\u202e"}')
    outcome = reconcile(["apply", "--plan", str(plan), str(REPO / "tenants"), "--auto-approve"])
    assert outcome.exit_code == 1
    assert "\x1b" not in outcome.stderr and "\u202e" not in outcome.stderr
