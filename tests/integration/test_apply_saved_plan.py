"""Issue 5 reliability: `apply --plan FILE` applies exactly a reviewed plan, or nothing.

When an object the plan touches changed since (a field changed by hand, a row that appeared),
apply refuses with exit 1, says field by field what changed, and writes nothing (checked in the
sandbox's request log). So it does when the tenant files changed since the plan.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from reconciler.sandbox import SandboxHandle

from .conftest import control, invoke
from .test_apply_support import actionable, client_settings, live_view, plan_json, reset_log, writes

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _fast_clients(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with client_settings(monkeypatch):
        yield


def _save_plan(tenants: Path, handle: SandboxHandle, out: Path) -> None:
    run = invoke("plan", str(tenants), "--sandbox", str(handle.state_dir), "--out", str(out))
    assert run.code == 0, run.output
    assert out.is_file()


def _apply_saved(tenants: Path, handle: SandboxHandle, plan: Path) -> tuple[int, str]:
    run = invoke(
        "apply",
        str(tenants),
        "--plan",
        str(plan),
        "--sandbox",
        str(handle.state_dir),
        "--auto-approve",
        "--force",
    )
    return run.code, run.output


def test_stale_saved_plan_is_refused_field_by_field_and_nothing_is_written(
    demo_sandbox: SandboxHandle, tenants_copy: Path, tmp_path: Path
) -> None:
    plan = tmp_path / "plan.json"
    _save_plan(tenants_copy, demo_sandbox, plan)
    # By hand, after the review: another option of the integration row the plan updates, the
    # SSO ID of the Rescue technician the plan updates, and the settings row the plan would
    # create appears (the integration creates it at dave's first PIN request).
    control(
        demo_sandbox,
        "PATCH",
        "/tenants/contoso/dynamics/integration",
        {"fields": {"reassign_case_on_session_start": False}},
    )
    control(
        demo_sandbox,
        "PATCH",
        "/tenants/fabrikam/rescue/technicians/grace.smith@fabrikam.com",
        {"ssoid": "grace-2"},
    )
    pin = control(demo_sandbox, "POST", "/tenants/contoso/rescue/pin", {"email": "dave@contoso.com"})
    assert pin["settings_row_created"]
    reset_log(demo_sandbox)

    code, output = _apply_saved(tenants_copy, demo_sandbox, plan)

    assert code == 1, output
    assert "the saved plan is stale; nothing was written" in output
    assert (
        "contoso: integration:configuration: reassign_case_on_session_start: planned true, now false"
        in output
    )
    assert 'fabrikam: rescue_technician:30213: sso_id: planned "g.smith", now "grace-2"' in output
    assert "contoso: technician:dave@contoso.com: did not exist at plan time, exists now" in output
    # What did not change is not blamed.
    assert "erin@contoso.com" not in output
    assert "session_key" not in output
    assert writes(demo_sandbox) == []


def test_saved_plan_is_refused_when_the_tenant_files_changed(
    demo_sandbox: SandboxHandle, tenants_copy: Path, tmp_path: Path
) -> None:
    plan = tmp_path / "plan.json"
    _save_plan(tenants_copy, demo_sandbox, plan)
    path = tenants_copy / "contoso" / "tenant.yaml"
    data = yaml.safe_load(path.read_text("utf-8"))
    data["technicians"][0]["sso_id"] = "alice-2"
    path.write_text(yaml.safe_dump(data, sort_keys=False), "utf-8")
    reset_log(demo_sandbox)

    code, output = _apply_saved(tenants_copy, demo_sandbox, plan)

    assert code == 1, output
    assert "contoso: the tenant files changed since the plan was made" in output
    assert "fabrikam: the tenant files changed" not in output
    assert writes(demo_sandbox) == []


def test_unchanged_saved_plan_is_applied_exactly(
    demo_sandbox: SandboxHandle, tenants_copy: Path, tmp_path: Path
) -> None:
    """Drift on an object the plan does not touch neither blocks the plan nor is fixed by it."""
    plan = tmp_path / "plan.json"
    _save_plan(tenants_copy, demo_sandbox, plan)
    control(demo_sandbox, "PATCH", "/tenants/contoso/dynamics/settings/bob@contoso.com", {"sso_id": "bobby"})

    code, output = _apply_saved(tenants_copy, demo_sandbox, plan)

    assert code == 0, output
    run = invoke("plan", str(tenants_copy), "--sandbox", str(demo_sandbox.state_dir), "--format", "json")
    assert actionable(plan_json(run.stdout)) == {
        "contoso": [("update", "technician:bob@contoso.com")],
        "fabrikam": [],
    }
    row = live_view(demo_sandbox, "contoso").row("bob@contoso.com")
    assert row is not None and row[live_view(demo_sandbox, "contoso").sso_column] == "bobby"
