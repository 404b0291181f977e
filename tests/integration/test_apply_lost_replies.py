"""Issue 5 reliability: "write committed, reply lost".

The sandbox's ``reply_lost`` fault lets the emulated API carry out a write and then closes the
connection before the reply, so the client sees a transport error for a change that was applied.
A client that simply re-sent the write would duplicate what it creates. What the product must do:

- Dataverse ``$batch`` (settings rows): not re-sent; its changes are reported failed, "may have
  been applied" (exit 3). A re-run re-reads, finds the rows, and creates nothing: no settings row
  exists twice. The rows carry the key-derived id, so a create that were re-sent would address
  the same row with ``If-None-Match: *`` (412), never a second one; and a plan saved before the
  lost reply is refused as stale instead of being applied again.
- Rescue ``setUser_v2`` sends every field as read, so repeating it is harmless: the client retries
  it at once and the run converges by itself.
- Rescue ``createGroup`` / ``createUser`` answer only the new node id, and the node has no name or
  email until the follow-up ``setGroup`` / ``setUser_v2``. After a lost reply the writer re-reads
  the hierarchy and adopts the one new unnamed node under the parent, so the run completes and no
  nameless node is left behind.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from reconciler.providers.dynamics.writer import stable_id
from rescue_sandbox import SandboxHandle, running_sandbox

from .conftest import control, invoke
from .test_apply_support import (
    Scenario,
    actionable,
    assert_matches_tenant_file,
    assert_no_duplicates,
    build_scenario,
    client_settings,
    live_view,
    log_entries,
    plan_json,
    reset_log,
    set_faults,
    settings_users,
    writes,
)

pytestmark = pytest.mark.integration

LOST_BATCH = "dataverse:reply_lost=1,method=POST,path=/$batch,count=1"
MAYBE_APPLIED = "the change may have been applied"


@pytest.fixture(autouse=True)
def _fast_clients(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with client_settings(monkeypatch):
        yield


def _apply(tenants: Path, handle: SandboxHandle, *extra: str) -> tuple[int, dict[str, Any]]:
    """`reconcile apply --format json`: exit code and the apply summary."""
    run = invoke(
        "apply",
        str(tenants),
        "--sandbox",
        str(handle.state_dir),
        "--auto-approve",
        "--force",
        "--format",
        "json",
        *extra,
    )
    start = run.stdout.find('{\n  "format_version"')
    assert start >= 0, run.output
    summary = json.loads(run.stdout[start:])
    assert isinstance(summary, dict)
    return run.code, summary


def _outcomes(summary: dict[str, Any], status: str) -> dict[str, str]:
    return {
        o["change_id"]: o["message"]
        for t in summary["tenants"]
        for o in t["outcomes"]
        if o["status"] == status
    }


def _plan_is_empty(tenants: Path, handle: SandboxHandle, names: list[str]) -> None:
    only = [arg for name in names for arg in ("--tenant", name)]
    run = invoke("plan", str(tenants), "--sandbox", str(handle.state_dir), "--format", "json", *only)
    assert run.code == 0, run.output
    assert actionable(plan_json(run.stdout)) == {name: [] for name in names}


def _statuses(handle: SandboxHandle, template: str) -> list[int]:
    return [int(e["status"]) for e in log_entries(handle) if e["template"] == template]


def _user_ids(handle: SandboxHandle, tenant: str) -> dict[str, str]:
    users = control(handle, "GET", f"/tenants/{tenant}/state")["dataverse"]["tables"]["systemuser"]
    return {str(u["domainname"]).lower(): str(u["systemuserid"]) for u in users}


# -- Dataverse: a $batch of settings-row creates --------------------------------------------------


def test_a_lost_batch_reply_is_reported_maybe_applied_and_the_rerun_duplicates_nothing(
    demo_sandbox: SandboxHandle, tenants_copy: Path, tmp_path: Path
) -> None:
    handle, names = demo_sandbox, ["contoso", "fabrikam"]
    saved = tmp_path / "plan.json"
    run = invoke("plan", str(tenants_copy), "--sandbox", str(handle.state_dir), "--out", str(saved))
    assert run.code == 0 and saved.is_file(), run.output
    set_faults(handle, LOST_BATCH)
    reset_log(handle)

    code, summary = _apply(tenants_copy, handle)

    # contoso's settings rows for dave and erin went in the one $batch whose reply was lost.
    assert code == 3, summary
    failed = _outcomes(summary, "failed")
    assert set(failed) == {"technician:dave@contoso.com", "technician:erin@contoso.com"}, summary
    assert all(
        "POST $batch: connection lost before the reply" in m and MAYBE_APPLIED in m for m in failed.values()
    )
    assert "rescue_technician:30213" in _outcomes(summary, "done")  # the rest went on
    assert _statuses(handle, "/$batch") == [0]  # not re-sent
    contoso = next(t for t in summary["tenants"] if t["tenant"] == "contoso")
    assert contoso["requests"]["dataverse"]["endpoints"]["POST $batch"] == {"requests": 1, "retries": 0}

    # The batch was committed: one row each, under the id derived from the user.
    view, ids = live_view(handle, "contoso"), _user_ids(handle, "contoso")
    org_url = str(handle.info["tenants"]["contoso"]["dataverse_url"])
    for user in ("dave@contoso.com", "erin@contoso.com"):
        rows = view.settings[user]
        assert len(rows) == 1, rows
        assert rows[0]["lmi_logmeinsettingsid"] == stable_id(org_url, "settings", ids[user])

    # The plan saved before the lost reply is not applied again: it is stale, and nothing is written.
    reset_log(handle)
    stale = invoke(
        "apply", str(tenants_copy), "--sandbox", str(handle.state_dir), "--auto-approve", "--plan", str(saved)
    )
    assert stale.code == 1, stale.output
    assert "technician:dave@contoso.com: did not exist at plan time, exists now" in stale.output
    assert writes(handle) == []

    # A fresh run re-reads, finds both rows and creates nothing.
    control(handle, "DELETE", "/faults")
    code, summary = _apply(tenants_copy, handle)
    assert code == 0, summary
    assert not any(c.startswith("technician:") for c in _outcomes(summary, "done")), summary
    assert_no_duplicates(handle, names)
    assert set(settings_users(handle, "contoso").values()) == {1}
    for name in names:
        assert_matches_tenant_file(handle, tenants_copy / name / "tenant.yaml")
    _plan_is_empty(tenants_copy, handle, names)


# -- Rescue: setUser_v2 (repeatable) -------------------------------------------------------------


def test_a_lost_set_user_reply_is_retried_at_once_and_converges(
    demo_sandbox: SandboxHandle, tenants_copy: Path
) -> None:
    handle = demo_sandbox
    set_faults(handle, "rescue:reply_lost=1,path=setUser_v2.aspx,count=1")
    reset_log(handle)

    code, summary = _apply(tenants_copy, handle, "--tenant", "fabrikam")

    assert code == 0, summary
    assert _outcomes(summary, "done")["rescue_technician:30213"] == "SSO ID set"
    assert _statuses(handle, "setUser_v2.aspx") == [0, 200]  # applied, reply lost, repeated
    grace = live_view(handle, "fabrikam").technicians["grace.smith@fabrikam.com"]
    assert [(n["node_id"], n["ssoid"]) for n in grace] == [(30213, "gsmith")]
    reset_log(handle)
    assert _apply(tenants_copy, handle, "--tenant", "fabrikam")[0] == 0
    assert writes(handle) == []
    _plan_is_empty(tenants_copy, handle, ["fabrikam"])


# -- Rescue: createGroup / createUser (not repeatable, the new node id is in the lost reply) -------


@dataclass(frozen=True)
class LostCreate:
    """One run of the scenario: a Rescue create whose reply is lost, then a clean re-run."""

    method: str
    first: tuple[int, dict[str, Any]]
    rerun: tuple[int, dict[str, Any]]
    third_run_writes: list[dict[str, Any]]
    before: dict[int, dict[str, Any]]  # Rescue nodes by id, before the first run
    after: dict[int, dict[str, Any]]  # and after the re-run
    duplicates: tuple[dict[str, int], dict[str, int]]  # settings rows, technicians by email


def _nodes(handle: SandboxHandle) -> dict[int, dict[str, Any]]:
    state = control(handle, "GET", "/tenants/tenant001/state")
    return {int(n["node_id"]): n for n in state["rescue"]["nodes"]}


@pytest.fixture(scope="module", params=["createGroup.aspx", "createUser.aspx"])
def lost_create(request: pytest.FixtureRequest) -> LostCreate:
    """tech00001's SSO ID changes (an independent change) and tech00002 is created in a new group
    Support/Extra; the reply of the first ``request.param`` call is lost."""
    method = str(request.param)
    scenario = Scenario(edits=("new_sso", "create_in_new_group"), drift=0.0, rng_seed=1, options=(None,) * 4)
    with tempfile.TemporaryDirectory(prefix="lost-create-") as tmp, pytest.MonkeyPatch.context() as patch:
        seed, tenant_file = build_scenario(scenario, Path(tmp))
        tenants = Path(tmp) / "tenants"
        with client_settings(patch), running_sandbox(seed, index_job_seconds=0.05) as handle:
            before = _nodes(handle)
            set_faults(handle, f"rescue:reply_lost=1,path={method},count=1")
            reset_log(handle)
            first = _apply(tenants, handle)
            assert _statuses(handle, method) == [0], "the fault did not fire"
            control(handle, "DELETE", "/faults")
            rerun = _apply(tenants, handle)
            _plan_is_empty(tenants, handle, ["tenant001"])
            assert_matches_tenant_file(handle, tenant_file)
            view = live_view(handle, "tenant001")
            reset_log(handle)
            _apply(tenants, handle)
            result = LostCreate(
                method,
                first,
                rerun,
                writes(handle),
                before,
                _nodes(handle),
                (view.duplicated_settings(), view.duplicated_technicians()),
            )
    return result  # the sandbox is stopped and the client settings restored before any test runs


def test_a_lost_rescue_create_reply_is_adopted_and_the_run_completes(lost_create: LostCreate) -> None:
    code, summary = lost_create.first
    created = {
        "createGroup.aspx": "rescue_group:Support/Extra",
        "createUser.aspx": "rescue_technician:new:tech00002@tenant001.example.com",
    }[lost_create.method]
    assert code == 0, summary  # the writer found the node the lost call made and named it
    done = _outcomes(summary, "done")
    assert created in done and "technician:tech00002@tenant001.example.com" in done
    assert _outcomes(summary, "failed") == {} and _outcomes(summary, "skipped") == {}

    code, summary = lost_create.rerun
    assert code == 0, summary
    assert lost_create.third_run_writes == []  # converged: nothing is created a third time
    assert lost_create.duplicates == ({}, {})
    # The declared group and technician exist exactly once.
    groups = [
        n for n in lost_create.after.values() if n["type"] == "TechnicianGroup" and n["name"] == "Extra"
    ]
    assert len(groups) == 1
    techs = [n for n in lost_create.after.values() if n["email"] == "tech00002@tenant001.example.com"]
    assert [t["parent_id"] for t in techs] == [groups[0]["node_id"]]


def test_a_lost_rescue_create_reply_leaves_no_unreported_node(lost_create: LostCreate) -> None:
    declared = {"Extra", "tech00002@tenant001.example.com"}
    new = {
        node_id: (n["type"], n["name"], n["email"])
        for node_id, n in lost_create.after.items()
        if node_id not in lost_create.before and not ({n["name"], n["email"]} & declared)
    }
    assert new == {}, f"{lost_create.method}: nodes no run reported: {new}"
