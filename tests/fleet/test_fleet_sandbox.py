"""Fleet commands on the demo seed over real HTTPS: `--target` on plan and apply, apply showing
the plan once, and `reconcile manual` from live state and from saved shard plans."""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from reconciler.cli import cli
from reconciler.errors import ReconcileError
from rescue_sandbox import SandboxHandle, running_sandbox

pytestmark = pytest.mark.integration

TENANTS = str(Path(__file__).resolve().parents[2] / "tenants")


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), standalone_mode=False, catch_exceptions=True)
    exc = result.exception
    if isinstance(exc, ReconcileError):
        return exc.exit_code, result.stdout, result.stderr + exc.format()
    if exc is not None and not isinstance(exc, SystemExit):
        raise exc
    code = result.return_value if isinstance(result.return_value, int) else result.exit_code
    return code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def demo() -> Iterator[SandboxHandle]:
    with running_sandbox(index_job_seconds=0.05) as handle:
        yield handle


def changes(handle: SandboxHandle) -> dict[str, list[str]]:
    code, out, err = invoke("plan", TENANTS, "--sandbox", str(handle.state_dir), "--format", "json")
    assert code == 0, err
    return {
        t["tenant"]: [f"{c['kind']}:{c['key']}" for c in t["changes"]] for t in json.loads(out)["tenants"]
    }


def test_bad_targets_are_refused_with_the_kinds_listed(demo: SandboxHandle) -> None:
    code, _, err = invoke("plan", TENANTS, "--sandbox", str(demo.state_dir), "--target", "user:dave")
    assert code == 1 and "unknown kind 'user'; kinds: solution," in err
    code, _, err = invoke("apply", TENANTS, "--sandbox", str(demo.state_dir), "--auto-approve",
                          "--target", "technician:nobody@contoso.com")  # fmt: skip
    assert code == 1 and "nothing to do for --target technician:nobody@contoso.com" in err


def test_manual_checklist_from_live_state_and_from_saved_shard_plans(
    demo: SandboxHandle, tmp_path: Path
) -> None:
    code, out, err = invoke("manual", TENANTS, "--sandbox", str(demo.state_dir), "--format", "json")
    assert code == 0, err
    steps = json.loads(out)["steps"]
    assert [(s["key"], s["tenants"]) for s in steps] == [("Support/Tier 2", ["contoso"])]
    for index in range(2):  # what shard jobs leave behind: one plan file each
        code, _, err = invoke("plan", TENANTS, "--shard", f"{index}/2", "--sandbox", str(demo.state_dir),
                              "--out", str(tmp_path / f"shard-{index}" / "plan.json"))  # fmt: skip
        assert code == 0, err
    code, merged, err = invoke("manual", "--from-plan", str(tmp_path), "--format", "json")
    assert code == 0, err
    assert json.loads(merged)["steps"] == steps
    code, _, err = invoke("manual", TENANTS, "--from-plan", str(tmp_path))
    assert code == 1 and "give no PATH" in err


def test_apply_with_a_target_changes_only_that_object_and_shows_the_plan_once(demo: SandboxHandle) -> None:
    before = changes(demo)
    assert {"technician:dave@contoso.com", "technician:erin@contoso.com"} <= set(before["contoso"])
    code, out, err = invoke("apply", TENANTS, "--sandbox", str(demo.state_dir), "--auto-approve",
                            "--target", "technician:Dave@contoso.com")  # fmt: skip
    assert code == 0, err
    assert out.count("Plan: 1 to create, 0 to update, 0 to delete.") == 1  # the plan, once
    assert out.count("Plan:") == 1 and "erin@contoso.com" not in out
    assert "Apply: 1 done, 0 failed, 0 skipped." in out
    after = changes(demo)
    assert after["contoso"] == [c for c in before["contoso"] if c != "technician:dave@contoso.com"]
    assert after["fabrikam"] == before["fabrikam"]


def test_manual_names_the_tenants_whose_steps_are_unknown_when_rescue_cannot_be_read(
    demo: SandboxHandle,
) -> None:
    faults = f"{demo.url}/_sandbox/faults"
    verify = ssl.create_default_context(cafile=str(demo.ca_file))
    httpx.post(faults, json={"spec": "rescue:500=1"}, verify=verify, trust_env=False).raise_for_status()
    try:
        code, out, err = invoke("manual", TENANTS, "--sandbox", str(demo.state_dir))
        _, as_json, _ = invoke("manual", TENANTS, "--sandbox", str(demo.state_dir), "--format", "json")
    finally:
        httpx.delete(faults, verify=verify, trust_env=False).raise_for_status()
    assert code == 3, err
    # Support/Tier 2's export step is neither listed nor ruled out: both tenants are named, with
    # the groups whose steps are unknown.
    assert "not known for contoso" in out and "not known for fabrikam" in out
    assert "rescue_group:Support/Tier 2" in out
    unplanned = {u["tenant"]: u["error"] for u in json.loads(as_json)["unplanned"]}
    assert set(unplanned) == {"contoso", "fabrikam"}
    assert "the manual steps of rescue_group:" in unplanned["contoso"]


def test_apply_a_saved_plan_narrowed_by_a_target(demo: SandboxHandle, tmp_path: Path) -> None:
    saved = tmp_path / "plan.json"
    code, _, err = invoke("plan", TENANTS, "--tenant", "contoso", "--sandbox", str(demo.state_dir),
                          "--out", str(saved))  # fmt: skip
    assert code == 0, err
    before = changes(demo)
    assert "technician:erin@contoso.com" in before["contoso"]
    code, out, err = invoke("apply", TENANTS, "--tenant", "contoso", "--sandbox", str(demo.state_dir),
                            "--plan", str(saved), "--auto-approve", "--target", "technician:ERIN@contoso.com")  # fmt: skip
    assert code == 0, err
    assert (
        "Plan: 1 to create, 0 to update, 0 to delete." in out and "Apply: 1 done, 0 failed, 0 skipped." in out
    )
    after = changes(demo)
    assert after["contoso"] == [c for c in before["contoso"] if c != "technician:erin@contoso.com"]


def test_unknowns_outside_the_targets_do_not_make_the_narrowed_plan_incomplete(demo: SandboxHandle) -> None:
    faults = f"{demo.url}/_sandbox/faults"
    verify = ssl.create_default_context(cafile=str(demo.ca_file))
    # Every technician's SSO ID read fails: their Rescue technicians are unknown.
    spec = {"spec": "rescue:500=1,path=*getUser_v3*"}
    httpx.post(faults, json=spec, verify=verify, trust_env=False).raise_for_status()
    try:
        whole = invoke("plan", TENANTS, "--tenant", "contoso", "--sandbox", str(demo.state_dir))
        narrowed = invoke("plan", TENANTS, "--tenant", "contoso", "--sandbox", str(demo.state_dir),
                          "--detailed-exitcode", "--target", "integration:configuration")  # fmt: skip
    finally:
        httpx.delete(faults, verify=verify, trust_env=False).raise_for_status()
    assert whole[0] == 3, whole[2]
    code, out, err = narrowed
    assert code == 2, err  # changes, not incomplete: the unknowns are not acted on
    assert "not known, left out as outside the targets: rescue_technician:41001" in out
