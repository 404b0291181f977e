"""Doctor never says "ready" over a blocker (issue 18, point 9): on the demo seed, doctor, health
and plan are run side by side; a tenant doctor calls ready has no blocker health reports and no
error or unknown in its plan, and each blocker health reports is a failed doctor check. Then an
admin follows doctor's fixes (apply, admin consent) and all three agree the tenants are ready."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from rescue_sandbox import SandboxHandle

from .conftest import EXAMPLE_TENANTS, control, invoke
from .test_apply_support import client_settings
from .test_doctor import APP_ID

pytestmark = pytest.mark.integration


def _json(*args: str) -> Any:
    run = invoke(*args, "--format", "json")
    return run.code, json.loads(run.stdout)


def _side_by_side(tenants: Path, handle: SandboxHandle) -> dict[str, dict[str, Any]]:
    """Each tenant's doctor checklist, health verdict and plan, by tenant name."""
    where = (str(tenants), "--sandbox", str(handle.state_dir))
    _, doctor = _json("doctor", *where)
    _, health = _json("health", *where)
    _, plan = _json("plan", *where)
    views: dict[str, dict[str, Any]] = {}
    for name, report in (("doctor", doctor), ("health", health), ("plan", plan)):
        for tenant in report["tenants"]:
            views.setdefault(tenant["tenant"], {})[name] = tenant
    return views


def _cross_check(views: dict[str, dict[str, Any]]) -> None:
    for tenant, view in views.items():
        doctor, health, plan = view["doctor"], view["health"], view["plan"]
        failed = [c for c in doctor["checks"] if c["status"] == "fail"]
        for blocker in health["blockers"]:
            if blocker["code"] == "consent_missing":
                named = [
                    c for c in failed if c["name"] == "consent" and "consent was not granted" in c["detail"]
                ]
            else:
                named = [
                    c
                    for c in failed
                    if c["name"] == "session flow" and c["detail"].startswith(blocker["text"])
                ]
            assert named, f"{tenant}: health reports {blocker['text']!r}, doctor does not: {failed}"
        if doctor["ok"]:
            assert (health["blockers"], health["unread"], health["error"]) == ([], [], None), tenant
            assert (plan["error"] or None, plan["problems"], plan["incomplete"]) == (None, [], False), tenant


def test_doctor_health_and_plan_agree_on_the_demo_seed(
    demo_sandbox: SandboxHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    views = _side_by_side(EXAMPLE_TENANTS, demo_sandbox)
    _cross_check(views)
    contoso = views["contoso"]
    assert not contoso["doctor"]["ok"]  # health: consent blocks every session
    assert {b["code"] for b in contoso["health"]["blockers"]} == {"consent_missing", "role_missing"}
    assert not views["fabrikam"]["doctor"]["ok"]  # health: the Session Key is Failed
    fixes = {c["name"]: c["fix"] for c in contoso["doctor"]["checks"] if c["status"] == "fail"}
    assert "adminconsent?client_id=" in fixes["consent"] and "apply --force" in fixes["session flow"]

    # The admin follows doctor's fixes: apply (the role, the Session Key), then admin consent.
    with client_settings(monkeypatch):
        applied = invoke(
            "apply",
            str(EXAMPLE_TENANTS),
            "--sandbox",
            str(demo_sandbox.state_dir),
            "--auto-approve",
            "--force",
        )
    assert applied.code == 0, applied.output
    control(demo_sandbox, "POST", "/tenants/contoso/identity/service-principals", {"app_id": APP_ID})
    # Rescue gives one session report a minute: a minute passes before health asks again.
    control(demo_sandbox, "POST", "/tenants/contoso/rescue/clock", {"seconds": 61})
    views = _side_by_side(EXAMPLE_TENANTS, demo_sandbox)
    _cross_check(views)
    assert all(view["doctor"]["ok"] for view in views.values()), views


def test_a_tenant_opts_out_of_the_consent_check_explicitly(
    demo_sandbox: SandboxHandle, tenants_copy: Path
) -> None:
    tenants = tenants_copy
    path = tenants / "contoso" / "tenant.yaml"
    data = yaml.safe_load(path.read_text("utf-8"))
    data["consent"] = {"check": False}
    path.write_text(yaml.safe_dump(data, sort_keys=False), "utf-8")
    control(demo_sandbox, "DELETE", "/requests")
    code, report = _json(
        "doctor", str(tenants), "--tenant", "contoso", "--sandbox", str(demo_sandbox.state_dir)
    )
    [contoso] = report["tenants"]
    consent = [c for c in contoso["checks"] if c["name"].startswith("consent")]
    assert [c["status"] for c in consent] == ["warn"] and "consent.check: false" in consent[0]["detail"]
    graph = control(demo_sandbox, "GET", "/requests?service=graph")["total"]
    assert graph == 0  # nothing asked of Graph: no consent check, no Entra rule
    assert code == 1  # the role blocker stands: opting out of consent hides nothing else


def test_a_rescue_record_plan_cannot_read_is_not_ready(demo_sandbox: SandboxHandle) -> None:
    """Plan reports such a node unknown (exit 3): doctor fails naming it, never "ready"."""
    company = demo_sandbox.sandbox.tenants["fabrikam"].rescue
    with company.lock:
        company.nodes[next(iter(company.nodes))].name = "Field\nService"
    where = (str(EXAMPLE_TENANTS), "--tenant", "fabrikam", "--sandbox", str(demo_sandbox.state_dir))
    _, plan = _json("plan", *where)
    assert plan["tenants"][0]["incomplete"]
    _, report = _json("doctor", *where)
    [rescue] = [c for c in report["tenants"][0]["checks"] if c["name"] == "rescue"]
    assert rescue["status"] == "fail" and "line breaks" in rescue["fix"]
