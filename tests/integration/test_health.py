"""`reconcile health` against the sandbox: sessions that arrive, a group whose export was never
set, the setting made by hand, and a report read that fails (Unknown, exit 3)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rescue_sandbox import SandboxHandle

from .conftest import EXAMPLE_TENANTS, control, invoke

pytestmark = pytest.mark.integration
T = "/tenants/contoso"


def _health(handle: SandboxHandle, *args: str) -> tuple[int, dict[str, Any]]:
    run = invoke(
        "health",
        str(EXAMPLE_TENANTS),
        "--tenant",
        "contoso",
        "--sandbox",
        str(handle.state_dir),
        "--format",
        "json",
        *args,
    )
    return run.code, json.loads(run.stdout)["tenants"][0]


def _group(tenant: dict[str, Any], path: str) -> dict[str, Any]:
    return next(g for g in tenant["groups"] if g["path"] == path)


def test_a_group_without_export_loses_its_sessions_until_the_setting_is_made(
    demo_sandbox: SandboxHandle,
) -> None:
    # Everything else the integration needs is put in place by hand first.
    control(demo_sandbox, "POST", f"{T}/identity/service-principals", {})
    control(demo_sandbox, "POST", f"{T}/dynamics/application-user/roles", {})
    for user, node in (("dave@contoso.com", "41004"), ("erin@contoso.com", "41005")):
        control(demo_sandbox, "PATCH", f"{T}/dynamics/settings/{user}", {"technician_id": node})
    for group in ("Support/Tier 1", "Support/Tier 2"):
        control(
            demo_sandbox,
            "POST",
            f"{T}/rescue/sessions",
            {"group": group, "count": 2, "ended_minutes_ago": 30},
        )
    control(demo_sandbox, "DELETE", "/requests")

    code, before = _health(demo_sandbox)
    assert code == 2 and before["verdict"] == "failing" and before["blockers"] == []
    tier1, tier2 = _group(before, "Support/Tier 1"), _group(before, "Support/Tier 2")
    assert (tier1["verdict"], tier1["delivered"], tier1["sessions"]) == ("healthy", 6, 6)
    assert (tier2["verdict"], tier2["delivered"], tier2["sessions"]) == ("failing", 0, 4)
    assert [c["code"] for c in tier2["causes"]] == ["export_missing"]
    # One report per technician (5), each after every setting; one sign-in; one listing of the
    # session rows; never an authcode request.
    log = control(demo_sandbox, "GET", "/requests?tenant=contoso")
    counts = {(c["service"], c["template"]): c["count"] for c in log["counts"]}
    assert counts[("rescue", "getReport_v2.aspx")] == 5 and counts[("rescue", "login.aspx")] == 1
    for setting in ("setReportArea_v8", "setTimezone", "setReportDate_v2", "setReportTime", "setOutput"):
        assert counts[("rescue", f"{setting}.aspx")] == 5, setting
    assert not [t for s, t in counts if s == "rescue" and t.lower().startswith("requestauthcode")]
    assert counts[("dataverse", "/lmi_logmeinsessions")] == 1

    export = {"url": "https://dynamics.logmeinrescue.com/api/integration", "at_session_end": True}
    control(demo_sandbox, "PUT", f"{T}/rescue/groups/export", {"path": "Support/Tier 2", "export": export})
    control(demo_sandbox, "POST", f"{T}/rescue/sessions", {"group": "Support/Tier 2", "count": 1})
    control(demo_sandbox, "POST", f"{T}/rescue/clock", {"seconds": 61})  # Rescue: one report per minute

    code, after = _health(demo_sandbox)
    tier2 = _group(after, "Support/Tier 2")
    assert code == 0 and (tier2["verdict"], tier2["delivered"], tier2["sessions"]) == ("recovered", 2, 6)
    assert tier2["evidence"] == "observed_working" and tier2["last_delivered"]


def test_a_report_read_that_fails_makes_the_tenant_unknown(demo_sandbox: SandboxHandle) -> None:
    control(demo_sandbox, "POST", "/faults", {"spec": "rescue:500=1,path=getReport_v2.aspx"})
    code, tenant = _health(demo_sandbox)
    assert code == 3 and tenant["verdict"] == "unknown" and "getReport_v2: HTTP 500" in tenant["error"]
    assert tenant["groups"] == []


def test_without_a_report_sign_in_the_view_is_dynamics_only(demo_sandbox: SandboxHandle) -> None:
    run = invoke(
        "health", str(EXAMPLE_TENANTS), "--tenant", "fabrikam", "--sandbox", str(demo_sandbox.state_dir)
    )
    assert run.code == 2, run.output  # the Failed Session Key blocks every session
    assert "Dynamics-only view" in run.stdout and "the Session Key is Failed" in run.stdout


def test_a_refused_report_sign_in_is_unknown_and_names_the_setting(
    demo_sandbox: SandboxHandle, tenants_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = tenants_copy / "contoso" / "tenant.yaml"
    text = tenant.read_text("utf-8").replace(
        "{env: CONTOSO_RESCUE_ADMIN_PASSWORD}", "{env: CONTOSO_WRONG_ADMIN_PASSWORD}"
    )
    tenant.write_text(text, "utf-8")
    monkeypatch.setenv("CONTOSO_WRONG_ADMIN_PASSWORD", "not-the-password")
    run = invoke("health", str(tenants_copy), "--tenant", "contoso", "--sandbox", str(demo_sandbox.state_dir))
    assert run.code == 3, run.output
    assert "refused the report sign-in (INVALID): check connection.rescue.reports" in run.stdout
    assert "not-the-password" not in run.output


def test_the_dynamics_only_view_shows_sessions_per_group_and_technician(
    demo_sandbox: SandboxHandle, tenants_copy: Path
) -> None:
    control(demo_sandbox, "POST", f"{T}/identity/service-principals", {})
    control(demo_sandbox, "POST", f"{T}/dynamics/application-user/roles", {})
    control(demo_sandbox, "POST", f"{T}/rescue/sessions", {"group": "Support/Tier 1", "count": 2})
    tenant = tenants_copy / "contoso" / "tenant.yaml"
    text = tenant.read_text("utf-8")
    start = text.index("    # Optional: an administrator sign-in")
    end = text.index("{env: CONTOSO_RESCUE_ADMIN_PASSWORD}\n") + len("{env: CONTOSO_RESCUE_ADMIN_PASSWORD}\n")
    tenant.write_text(text[:start] + text[end:], "utf-8")
    args = ("--tenant", "contoso", "--sandbox", str(demo_sandbox.state_dir), "--format", "json")
    run = invoke("health", str(tenants_copy), *args)
    assert run.code == 0, run.output
    health = json.loads(run.stdout)["tenants"][0]
    tier1, tier2 = _group(health, "Support/Tier 1"), _group(health, "Support/Tier 2")
    assert tier1["verdict"] == "not_visible" and tier1["sessions"] is None
    assert tier1["in_dynamics"] == sum(t["sessions"] for t in tier1["technicians"]) > 0
    assert all(t["sessions"] == 2 and t["name"] for t in tier1["technicians"])
    assert tier2["in_dynamics"] == 0 and "Support/Tier 2" in health["notes"][1]
    assert "sessions that never reached Dynamics" in health["notes"][0]
