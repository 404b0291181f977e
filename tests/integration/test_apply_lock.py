"""Issue 16 case 8: two applies of one tenant at once, Rescue's two-step technician create.

- On one machine the second apply waits for the first's lock (or, with --lock-timeout 0, exits 1
  with one line naming the holder); when it runs, its fresh read shows nothing left to do.
- Without a shared lock (two machines: two lock folders) both create the technician: the one
  whose setUser_v2 meets INVALIDPARAM_EMAIL_ALREADY_IN_USE adopts the other's node and deletes
  the nameless node its own createUser made. Either way: one technician, no nameless node.
- A nameless technician (a createUser with no setUser after it) is a plan finding.
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.config import load_tenants
from reconciler.engine.applier import ApplyOptions, run_apply
from reconciler.engine.connection import SandboxInfo
from reconciler.engine.planner import RunOptions, run_plan
from reconciler.plan import Plan
from rescue_sandbox import SandboxHandle

from .conftest import REPO, control, invoke
from .test_apply_support import FAST, live_view

pytestmark = pytest.mark.integration

DAVE = "dave@contoso.com"
# A setUser_v2 that takes 3 s: both applies of a race have read the hierarchy before either
# gives its new node the e-mail, and the first holds its lock long enough to be waited for.
SLOW_SET_USER = "rescue:latency=3,path=setUser_v2.aspx"


def rescue_call(handle: SandboxHandle, tenant: str, method: str, **params: str) -> str:
    """One Rescue API call as an administrator would make it (another tool, another machine)."""
    info = json.loads((handle.state_dir / "sandbox.json").read_text())["tenants"][tenant]
    ctx = ssl.create_default_context(cafile=str(handle.ca_file))
    with httpx.Client(verify=ctx, trust_env=False, timeout=30) as client:
        reply = client.post(
            f"{info['rescue_url']}/{method}.aspx", data={**params, "authcode": info["rescue_authcode"]}
        )
    assert reply.text.startswith("OK"), reply.text
    return reply.text


def _node_of(handle: SandboxHandle, tenant: str, email: str) -> dict[str, Any]:
    node = live_view(handle, tenant).node(email)
    assert node is not None
    return node


def _without_dave(handle: SandboxHandle, tenants: Path) -> str:
    """Dave leaves Rescue; the tenant file says to create him in Support/Tier 1. Returns the group's node ID."""
    dave = _node_of(handle, "contoso", DAVE)
    rescue_call(handle, "contoso", "deleteNode", node=str(dave["node_id"]))
    path = tenants / "contoso" / "tenant.yaml"
    text = path.read_text()
    path.write_text(
        text.replace(
            f"  - user: {DAVE}\n", f"  - user: {DAVE}\n    create: {{group: Support/Tier 1, name: Dave}}\n"
        )
    )
    return str(dave["parent_id"])


def _apply(tenants: Path, handle: SandboxHandle, *extra: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "reconciler", "apply", str(tenants), "--tenant", "contoso",
               "--sandbox", str(handle.state_dir), "--auto-approve", "--force", *extra]  # fmt: skip
    env = {**os.environ, "NO_COLOR": "1"}
    return subprocess.Popen(
        command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


def _finish(run: subprocess.Popen[str]) -> tuple[int, str, str]:
    with run:
        out, err = run.communicate(timeout=120)
    return run.returncode, out, err


def _assert_one_dave_and_no_nameless_node(handle: SandboxHandle) -> None:
    view = live_view(handle, "contoso")
    assert len(view.technicians[DAVE]) == 1, view.technicians[DAVE]
    assert "" not in view.technicians, view.technicians[""]  # no technician without an e-mail
    assert view.technicians[DAVE][0]["ssoid"] == "dave"


def _held(lock: Path) -> bool:
    if not lock.exists():
        return False
    with lock.open("rb") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        return False


def _wait_for_lock(lock: Path) -> None:
    deadline = time.monotonic() + 60
    while not _held(lock):
        assert time.monotonic() < deadline, "the first apply never took its lock"
        time.sleep(0.02)


def test_a_second_apply_of_the_tenant_waits_or_exits_with_the_lock_message(
    demo_sandbox: SandboxHandle, tenants_copy: Path
) -> None:
    _without_dave(demo_sandbox, tenants_copy)
    control(demo_sandbox, "POST", "/faults", {"spec": SLOW_SET_USER})
    lock = tenants_copy / "contoso" / ".reconcile-apply.lock"
    first = _apply(tenants_copy, demo_sandbox)
    runs = [first]
    try:
        _wait_for_lock(lock)
        refused = invoke("apply", str(tenants_copy), "--tenant", "contoso", "--sandbox",
                         str(demo_sandbox.state_dir), "--auto-approve", "--lock-timeout", "0")  # fmt: skip
        runs.append(_apply(tenants_copy, demo_sandbox))
    finally:
        (code, out, err), *later = [_finish(run) for run in runs]
    assert code == 0, out + err
    assert refused.code == 1 and refused.stdout == ""
    (line,) = refused.stderr.splitlines()
    assert line.startswith("error: another apply of tenant contoso holds its lock (") and " on " in line
    assert "nothing was read or written" in line and "--lock-timeout" in line
    ((code, out, err),) = later
    assert code == 0, out + err
    assert "waiting for another apply of tenant contoso to end (pid " in err
    assert "rescue_technician" not in out  # it read live state after the first ended: nothing to create
    _assert_one_dave_and_no_nameless_node(demo_sandbox)


def test_two_applies_without_a_shared_lock_leave_one_technician(
    demo_sandbox: SandboxHandle, tenants_copy: Path, tmp_path: Path
) -> None:
    """Two machines: each has its own lock. The loser of the setUser race adopts the winner's node."""
    _without_dave(demo_sandbox, tenants_copy)
    control(demo_sandbox, "POST", "/faults", {"spec": SLOW_SET_USER})
    # Only the technician: the demo's drifted configuration row would meet the ETag race of
    # issue 11 (test_apply_races.py), which is not this test's subject.
    only = ("--target", f"rescue_technician:new:{DAVE}")
    runs = [_apply(tenants_copy, demo_sandbox, *only, "--lock-dir", str(tmp_path / f"m{i}")) for i in (1, 2)]
    results = [_finish(run) for run in runs]
    for code, out, err in results:
        assert code == 0, out + err
    outputs = "".join(out for _, out, _ in results)
    assert outputs.count("rescue_technician") >= 2  # both planned the create: it was a race
    assert "(another run created it first)" in outputs
    _assert_one_dave_and_no_nameless_node(demo_sandbox)
    control(demo_sandbox, "DELETE", "/faults")
    again = invoke("plan", str(tenants_copy), "--tenant", "contoso", "--sandbox", str(demo_sandbox.state_dir),
                   "--format", "json")  # fmt: skip
    changes = json.loads(again.stdout)["tenants"][0]["changes"]
    assert not [c for c in changes if c["kind"] == "rescue_technician"], changes
    assert json.loads(again.stdout)["tenants"][0]["findings"] == []


def test_every_set_user_reply_lost_the_create_is_settled_by_reading_the_email_back(
    demo_sandbox: SandboxHandle, tenants_copy: Path
) -> None:
    """setUser_v2 is retried after a lost reply; when every try's reply is lost, the writer reads
    the hierarchy and finds the e-mail on its own new node: done, one node, none nameless."""
    _without_dave(demo_sandbox, tenants_copy)
    loaded = load_tenants([tenants_copy], only=["contoso"])
    options = RunOptions(sandbox=SandboxInfo.load(demo_sandbox.state_dir), settings=FAST)
    plan, _ = run_plan(loaded, options)
    create = next(c for c in plan.tenants[0].actionable if c.kind == "rescue_technician" and c.op == "create")
    control(demo_sandbox, "POST", "/faults", {"spec": "rescue:reply_lost=1,path=setUser_v2.aspx"})
    only = Plan((dataclasses.replace(plan.tenants[0], changes=(create,)),))
    result = run_apply(
        list(zip(loaded, only.tenants, strict=True)), options, ApplyOptions(poll_interval=0.05)
    )
    (outcome,) = result.tenants[0].outcomes
    assert outcome.status == "done" and outcome.message.startswith("created (node "), outcome
    control(demo_sandbox, "DELETE", "/faults")
    _assert_one_dave_and_no_nameless_node(demo_sandbox)


def test_plan_reports_a_nameless_technician_as_a_finding(
    demo_sandbox: SandboxHandle, tenants_copy: Path
) -> None:
    group = str(_node_of(demo_sandbox, "contoso", DAVE)["parent_id"])  # Support/Tier 2 in the demo
    node = rescue_call(demo_sandbox, "contoso", "createUser", parent=group).split()[-1]  # no setUser after it
    state = str(demo_sandbox.state_dir)
    text = invoke("plan", str(tenants_copy), "--tenant", "contoso", "--sandbox", state, "--detailed-exitcode")
    assert text.code == 2, text.output  # drift: someone must remove it
    expected = f"technician node {node} in group 'Support/Tier 2' has no e-mail (named 'New User')"
    assert f"! Rescue: {expected}" in text.stdout
    markdown = invoke(
        "plan", str(tenants_copy), "--tenant", "contoso", "--sandbox", state, "--format", "markdown"
    )
    assert f":warning: Rescue: {expected}" in markdown.stdout  # plain words stay words
    data = json.loads(
        invoke(
            "plan", str(tenants_copy), "--tenant", "contoso", "--sandbox", state, "--format", "json"
        ).stdout
    )
    (finding,) = data["tenants"][0]["findings"]
    assert finding.startswith(f"Rescue: {expected}")
    assert invoke("drift", str(tenants_copy), "--tenant", "contoso", "--sandbox", state).code == 2
