"""Issue 5: safety rails, confirmation, exit codes and the summary of a partial apply.

Rails (DESIGN §5): over-threshold updates, any change of the application user's roles and
prune deletes exit 4 without --force and write nothing (checked in the sandbox's request log);
with --force they go. A saved plan is judged by the same rails: thresholds from the tenant
files, counts from the fresh read, never from the plan file (issue 16). Without a TTY apply needs --auto-approve. A failed change skips its
dependants, independent changes go on; exit 3 when partly done, 1 when nothing could be done.
"""

from __future__ import annotations

import json
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.cli import apply_cmd
from reconciler.plan.serialize import decode_plan_data
from reconciler.render import render_json
from rescue_sandbox import SandboxHandle, running_sandbox

from .conftest import invoke
from .test_apply_support import (
    actionable,
    clear_faults,
    client_settings,
    generated_tenants,
    live_view,
    log_entries,
    plan_json,
    reset_log,
    set_faults,
    writes,
)

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _fast_clients(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with client_settings(monkeypatch):
        yield


def _apply(tenants: Path, handle: SandboxHandle, *extra: str, input: str | None = None) -> tuple[int, str]:
    run = invoke("apply", str(tenants), "--sandbox", str(handle.state_dir), *extra, input=input)
    return run.code, run.output


def _edit(path: Path, change: Any) -> None:
    data = yaml.safe_load(path.read_text("utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False), "utf-8")


def _summary(output: str) -> dict[str, Any]:
    start = output.find('{\n  "format_version"')
    assert start >= 0, output
    data = json.loads(output[start : output.rindex("}") + 1])
    assert isinstance(data, dict)
    return data


def _outcomes(summary: dict[str, Any], tenant: str) -> dict[str, tuple[str, str]]:
    entry = next(t for t in summary["tenants"] if t["tenant"] == tenant)
    return {o["change_id"]: (o["status"], o["message"]) for o in entry["outcomes"]}


def test_over_threshold_updates_need_force(tmp_path: Path) -> None:
    seed = generated_tenants(tmp_path, tenants=1, technicians=20, drift=1.0, rng_seed=3)
    tenants = tmp_path / "tenants"
    with running_sandbox(seed, index_job_seconds=0.05) as handle:
        code, output = _apply(tenants, handle, "--auto-approve")
        assert code == 4, output
        assert "refused by the safety rails" in output
        assert "tenant001: changes or deletes" in output and "technician objects (more than 30%)" in output
        assert writes(handle) == []
        code, output = _apply(tenants, handle, "--auto-approve", "--force")
        assert code == 0, output
        assert writes(handle)


def test_role_change_of_the_application_user_needs_force(
    demo_sandbox: SandboxHandle, tenants_copy: Path
) -> None:
    code, output = _apply(tenants_copy, demo_sandbox, "--auto-approve")
    assert code == 4, output
    assert "contoso: changes the application user's security roles" in output
    assert writes(demo_sandbox) == []  # not even the tenant without a rail violation is applied
    code, output = _apply(tenants_copy, demo_sandbox, "--auto-approve", "--force")
    assert code == 0, output


def test_prune_delete_needs_force_and_deletes_only_the_undeclared_row(
    demo_sandbox: SandboxHandle, tenants_copy: Path
) -> None:
    def prune_ivan(data: dict[str, Any]) -> None:
        data["technicians"] = [t for t in data["technicians"] if not t["user"].startswith("ivan")]
        data["prune"] = {"technicians": True}

    _edit(tenants_copy / "fabrikam" / "tenant.yaml", prune_ivan)
    args = ("--tenant", "fabrikam", "--auto-approve")
    code, output = _apply(tenants_copy, demo_sandbox, *args)
    assert code == 4, output
    assert "fabrikam: deletes technician ivan.petrov@fabrikam.com (prune)" in output
    assert writes(demo_sandbox) == []
    assert live_view(demo_sandbox, "fabrikam").row("ivan.petrov@fabrikam.com") is not None

    code, output = _apply(tenants_copy, demo_sandbox, *args, "--force")
    assert code == 0, output
    view = live_view(demo_sandbox, "fabrikam")
    assert view.row("ivan.petrov@fabrikam.com") is None
    assert set(view.settings) == {"grace.smith@fabrikam.com", "henry.ng@fabrikam.com"}


def test_without_a_tty_apply_needs_auto_approve(shared_demo: SandboxHandle, tenants_copy: Path) -> None:
    reset_log(shared_demo)
    code, output = _apply(tenants_copy, shared_demo, "--force")
    assert code == 1, output
    assert "apply needs confirmation" in output and "--auto-approve" in output
    assert writes(shared_demo) == []


def test_on_a_tty_only_yes_applies(
    demo_sandbox: SandboxHandle, tenants_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class _Stream:
        def __init__(self, tty: bool) -> None:
            self.tty = tty

        def isatty(self) -> bool:
            return self.tty

    monkeypatch.setattr(apply_cmd, "sys", types.SimpleNamespace(stdin=_Stream(True), stderr=_Stream(False)))
    code, output = _apply(tenants_copy, demo_sandbox, "--force", input="y\n")
    assert code == 1, output
    assert "Apply cancelled; nothing was written." in output
    assert writes(demo_sandbox) == []
    code, output = _apply(tenants_copy, demo_sandbox, "--force", input="yes\n")
    assert code == 0, output
    assert writes(demo_sandbox)


def test_a_failed_group_create_skips_its_technician_and_the_rest_goes_on(
    demo_sandbox: SandboxHandle, tenants_copy: Path
) -> None:
    def add_frank(data: dict[str, Any]) -> None:
        data["rescue_groups"].append({"path": "Support/Tier 3"})
        data["technicians"].append(
            {
                "user": "frank.miller@contoso.com",
                "sso_id": "frank",
                "create": {"group": "Support/Tier 3", "name": "Frank Miller"},
            }
        )

    _edit(tenants_copy / "contoso" / "tenant.yaml", add_frank)
    set_faults(demo_sandbox, "rescue:500=1,path=createGroup.aspx")
    code, output = _apply(tenants_copy, demo_sandbox, "--auto-approve", "--force", "--format", "json")
    assert code == 3, output
    summary = _summary(output)
    contoso = _outcomes(summary, "contoso")
    assert contoso["rescue_group:Support/Tier 3"][0] == "failed"
    assert "createGroup" in contoso["rescue_group:Support/Tier 3"][1]
    frank = "rescue_technician:new:frank.miller@contoso.com"
    assert contoso[frank] == ("skipped", "depends on rescue_group:Support/Tier 3, which did not succeed")
    assert contoso["technician:frank.miller@contoso.com"] == (
        "skipped",
        f"depends on {frank}, which did not succeed",
    )
    # Independent changes went on, in both tenants.
    assert contoso["technician:dave@contoso.com"][0] == "done"
    assert contoso["integration:configuration"][0] == "done"
    assert {s for s, _ in _outcomes(summary, "fabrikam").values()} == {"done"}
    assert summary["totals"] == {"done": 6, "failed": 1, "skipped": 2}
    assert not [e for e in log_entries(demo_sandbox) if e["template"] == "createUser.aspx"]

    clear_faults(demo_sandbox)
    code, output = _apply(tenants_copy, demo_sandbox, "--auto-approve", "--force")
    assert code == 0, output
    assert "ok      rescue_group:Support/Tier 3: created" in output
    assert "ok      technician:frank.miller@contoso.com: created" in output
    view = live_view(demo_sandbox, "contoso")
    node, row = view.node("frank.miller@contoso.com"), view.row("frank.miller@contoso.com")
    assert node is not None and row is not None
    assert row[view.technician_column] == str(node["node_id"]) and node["ssoid"] == "frank"


def test_partial_and_total_failure_exit_codes_and_text_summary(
    demo_sandbox: SandboxHandle, tenants_copy: Path
) -> None:
    # fabrikam has two changes: the Session Key repair (Dataverse DELETE + POST) and grace's SSO ID
    # in Rescue (setUser_v2). Failing all writes of one service leaves it partly done (3); failing
    # both, nothing could be done (1).
    args = ("--tenant", "fabrikam", "--auto-approve", "--format", "text")
    set_faults(
        demo_sandbox,
        "rescue:500=1,path=setUser_v2.aspx;dataverse:500=1,method=POST;dataverse:500=1,method=DELETE",
    )
    code, output = _apply(tenants_copy, demo_sandbox, *args)
    assert code == 1, output
    assert "Apply: 0 done, 2 failed, 0 skipped." in output
    assert "FAILED  rescue_technician:30213: [fabrikam] rescue: setUser_v2: HTTP 500" in output
    assert "FAILED  session_key:lmi_logmeinsession/lmi_sessionkey:" in output

    set_faults(demo_sandbox, "rescue:500=1,path=setUser_v2.aspx")
    code, output = _apply(tenants_copy, demo_sandbox, *args)
    assert code == 3, output
    assert "Tenant fabrikam: 1 done, 1 failed, 0 skipped" in output
    assert (
        "ok      session_key:lmi_logmeinsession/lmi_sessionkey: reactivated: Session Key is Active" in output
    )
    assert "Manual steps left" not in output  # fabrikam's export step is confirmed

    clear_faults(demo_sandbox)
    code, output = _apply(tenants_copy, demo_sandbox, *args)
    assert code == 0, output
    run = invoke(
        "plan",
        str(tenants_copy),
        "--tenant",
        "fabrikam",
        "--sandbox",
        str(demo_sandbox.state_dir),
        "--format",
        "json",
    )
    assert actionable(plan_json(run.stdout)) == {"fabrikam": []}


def test_the_rails_of_a_saved_plan_come_from_the_tenant_files_and_the_fresh_read(tmp_path: Path) -> None:
    """Issue 16, case 5: the rails once read their thresholds and counts from the plan file, so
    `live_counts` x 10^6, `min_objects: 1e9` or `max_change_fraction: NaN` let an over-threshold
    plan through without --force. Now each edit is refused (exit 4 with one line, or exit 1 for a
    file that is no plan), the untouched plan is held back by the rails as `apply` would hold it,
    and nothing is written."""
    seed = generated_tenants(tmp_path, tenants=1, technicians=20, drift=1.0, rng_seed=3)
    tenants = tmp_path / "tenants"
    saved = tmp_path / "plan.json"
    with running_sandbox(seed, index_job_seconds=0.05) as handle:
        run = invoke("plan", str(tenants), "--sandbox", str(handle.state_dir), "--out", str(saved))
        assert run.code == 0, run.output
        data = json.loads(saved.read_text("utf-8"))
        tenant = data["tenants"][0]
        assert tenant["violations"], tenant  # over the threshold: needs --force

        def tampered(edit: Any, name: str) -> Path:
            changed = json.loads(json.dumps(data))
            edit(changed["tenants"][0])
            path = tmp_path / name
            path.write_text(render_json(decode_plan_data(changed)), "utf-8")  # rail verdicts re-derived
            assert not json.loads(path.read_text("utf-8"))["tenants"][0]["violations"]  # looks safe
            return path

        def counts(t: dict[str, Any]) -> None:
            t["live_counts"] = {kind: n * 1_000_000 for kind, n in t["live_counts"].items()}

        cases = [
            (tampered(counts, "counts.json"), 4, "live_counts.technician: the plan has "),
            (tampered(lambda t: t["safety"].update(min_objects=10**9), "min.json"), 4, "safety.min_objects"),
            (
                tampered(lambda t: t["safety"].update(max_change_fraction=1.0), "max.json"),
                4,
                "max_change_fraction",
            ),
        ]
        nan = tmp_path / "nan.json"
        nan.write_text(
            saved.read_text("utf-8").replace('"max_change_fraction": 0.3', '"max_change_fraction": NaN')
        )
        cases.append((nan, 1, "holds NaN"))
        for path, exit_code, line in cases:
            reset_log(handle)
            code, output = _apply(tenants, handle, "--plan", str(path), "--auto-approve")
            assert code == exit_code, output
            assert line in output, output
            assert writes(handle) == [], path.name

        reset_log(handle)
        code, output = _apply(tenants, handle, "--plan", str(saved), "--auto-approve")
        assert code == 4, output
        assert "refused by the safety rails" in output and "technician objects (more than 30%)" in output
        assert writes(handle) == []
        code, output = _apply(tenants, handle, "--plan", str(saved), "--auto-approve", "--force")
        assert code == 0, output
        assert writes(handle)
