"""Issue 5 reliability: `reconcile apply` killed with SIGKILL mid-apply, then run again.

The apply runs as a real subprocess against an in-process sandbox (it reads the sandbox's
sandbox.json). Latency on the writes keeps it busy long enough; it is killed once the sandbox
has seen a random number of its writes. Whatever was half done, the re-run converges: no
settings row or Rescue technician exists twice, and the next plan is empty.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rescue_sandbox import SandboxHandle, running_sandbox

from .conftest import REPO, invoke
from .test_apply_support import (
    actionable,
    assert_matches_tenant_file,
    assert_no_duplicates,
    clear_faults,
    generated_tenants,
    is_write,
    plan_json,
    set_faults,
    tenant_names,
)

pytestmark = pytest.mark.integration

SLOW_WRITES = "rescue:latency=0.05,path=setUser_v2.aspx;dataverse:latency=0.4,method=POST,path=*$batch*"


def _writes_seen(handle: SandboxHandle) -> int:
    return sum(1 for e in handle.sandbox.requests.entries() if is_write(e.__dict__))


def _kill_after(handle: SandboxHandle, tenants: Path, writes: int, delay: float) -> int:
    """Start the apply, SIGKILL it ``delay`` s after the sandbox answered ``writes`` writes."""
    command = [
        sys.executable,
        "-m",
        "reconciler",
        "apply",
        str(tenants),
        "--auto-approve",
        "--force",
        "--sandbox",
        str(handle.state_dir),
    ]
    start = _writes_seen(handle)
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while _writes_seen(handle) - start < writes:
            if process.poll() is not None:
                stderr = process.stderr.read().decode() if process.stderr else ""
                pytest.fail(
                    f"apply ended (exit {process.returncode}) before {writes} writes: {stderr[-2000:]}"
                )
            assert time.monotonic() < deadline, "the apply did not progress"
            time.sleep(0.005)
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        return process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
        if process.stderr:
            process.stderr.close()


@pytest.mark.parametrize("kill_seed", [1, 2, 3])
def test_apply_killed_mid_way_converges_on_rerun(tmp_path: Path, kill_seed: int) -> None:
    seed = generated_tenants(tmp_path, tenants=3, technicians=40, drift=0.7, rng_seed=40 + kill_seed)
    tenants = tmp_path / "tenants"
    names = tenant_names(tenants)
    with running_sandbox(seed, index_job_seconds=0.05) as handle:
        run = invoke("plan", str(tenants), "--sandbox", str(handle.state_dir), "--format", "json")
        planned = actionable(plan_json(run.stdout))
        # Every change but the settings rows is one write or more; settings rows go in one
        # $batch per tenant and wave: the kill lands anywhere from the first write to the last.
        singles = sum(
            1 for changes in planned.values() for _, c in changes if not c.startswith("technician:")
        )
        assert singles >= 10 and all(planned.values())
        rng = random.Random(kill_seed)
        writes, delay = rng.randint(1, singles + len(names)), rng.uniform(0, 0.4)
        set_faults(handle, SLOW_WRITES)
        assert _kill_after(handle, tenants, writes, delay) == -signal.SIGKILL
        time.sleep(0.5)  # let requests the killed process left in flight finish on the server
        clear_faults(handle)
        assert_no_duplicates(handle, names)

        rerun = invoke("apply", str(tenants), "--sandbox", str(handle.state_dir), "--auto-approve", "--force")
        assert rerun.code == 0, rerun.output
        run = invoke("plan", str(tenants), "--sandbox", str(handle.state_dir), "--format", "json")
        assert actionable(plan_json(run.stdout)) == {name: [] for name in names}
        assert_no_duplicates(handle, names)
        for name in names:
            assert_matches_tenant_file(handle, tenants / name / "tenant.yaml")
