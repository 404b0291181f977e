"""Issue 18 point 6: Dataverse runs one solution import at a time (docs/sandbox.md, "One
solution import at a time").

- Two applies importing the same package at once: one imports, the other waits for that import
  and finds the solution installed ("nothing imported"); the org ran one successful import job.
- A re-run during a long import: the first run's bounded wait runs out (Unknown, exit 3, the
  system job named); a re-run with a short bound waits for that same job and ends Unknown (exit 3)
  naming it, never a configuration error; a re-run with a bound long enough waits for it and
  converges without importing again.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from reconciler.config import LoadedTenant, load_tenants
from reconciler.engine.applier import ApplyOptions, run_apply
from reconciler.engine.connection import SandboxInfo
from reconciler.engine.planner import RunOptions, run_plan
from reconciler.plan import ApplyResult
from rescue_sandbox import SandboxHandle, running_sandbox

from .conftest import invoke
from .test_apply_import import package_tenants
from .test_apply_support import FAST, log_entries

pytestmark = pytest.mark.integration

SOLUTION = "LogMeInRescueIntegration"


def _import_jobs(handle: SandboxHandle) -> list[tuple[int, int]]:
    """(statecode, statuscode) of every solution import system job of contoso's org."""
    org = handle.sandbox.tenants["contoso"].org
    with org.lock:
        return sorted(
            (row["statecode"], row["statuscode"])
            for row in org.rows("asyncoperation")
            if row["operationtype"] == 203
        )


def _import_posts(handle: SandboxHandle) -> int:
    return sum(
        1
        for e in log_entries(handle, "contoso")
        if e["method"] == "POST" and e["template"].endswith("/ImportSolutionAsync")
    )


def test_two_applies_importing_at_once_import_once(tmp_path: Path) -> None:
    tenants = package_tenants(tmp_path)
    with running_sandbox(index_job_seconds=0.1) as handle:
        loaded: list[LoadedTenant] = load_tenants([tenants / "contoso"])
        options = RunOptions(sandbox=SandboxInfo.load(handle.state_dir), settings=FAST)
        plan, _ = run_plan(loaded, options)
        [change] = [c for c in plan.tenants[0].actionable if c.kind == "solution"]
        pairs = list(zip(loaded, plan.tenants, strict=True))
        apply_options = ApplyOptions(poll_interval=0.05, import_wait_seconds=120)

        def apply() -> ApplyResult:
            return run_apply(pairs, options, apply_options)

        with ThreadPoolExecutor(max_workers=2) as pool:  # two machines, one org
            results = [f.result() for f in [pool.submit(apply), pool.submit(apply)]]

        messages = sorted(
            next(o for o in r.tenants[0].outcomes if o.change_id == change.id).message for r in results
        )
        statuses = {
            next(o for o in r.tenants[0].outcomes if o.change_id == change.id).status for r in results
        }
        assert statuses == {"done"}, messages
        assert messages[0].startswith("imported solution.zip: LogMeInRescueIntegration 2.2.0.0"), messages
        assert messages[1].startswith("installed meanwhile by the solution import that was running"), messages
        assert "nothing imported" in messages[1]
        # One import succeeded; a second one, if it reached the org, was refused by the lock.
        jobs = _import_jobs(handle)
        assert jobs.count((3, 30)) == 1 and set(jobs) <= {(3, 30), (3, 31)}, jobs
        assert _import_posts(handle) == len(jobs)
        again = invoke(
            "plan",
            str(tenants),
            "--tenant",
            "contoso",
            "--sandbox",
            str(handle.state_dir),
            "--detailed-exitcode",
        )
        assert again.code == 0, again.output


def test_a_rerun_during_a_long_import_waits_or_ends_unknown(tmp_path: Path) -> None:
    tenants = package_tenants(tmp_path)
    # An import of this package takes 15 x 0.4 + 60 x 0.4 x 0.05 = 7.2 s here (real ones: minutes).
    with running_sandbox(index_job_seconds=0.4) as handle:
        sandbox = str(handle.state_dir)
        args = (
            "apply",
            str(tenants),
            "--tenant",
            "contoso",
            "--sandbox",
            sandbox,
            "--auto-approve",
            "--force",
        )

        first = invoke(*args, "--import-wait", "0.5")
        assert first.code == 3, first.output
        assert "UNKNOWN solution:" in first.output and "still running after 0 s" in first.output
        [(state, _)] = _import_jobs(handle)
        assert state != 3
        org = handle.sandbox.tenants["contoso"].org
        with org.lock:
            [job] = [r["asyncoperationid"] for r in org.rows("asyncoperation") if r["operationtype"] == 203]
        assert f"system job {job}" in first.output

        rerun = invoke(*args, "--import-wait", "0.5", "--format", "json")
        assert rerun.code == 3, rerun.output
        assert f"another solution import is running in this org (system job {job}" in rerun.output
        [summary] = json.loads(rerun.stdout)["tenants"]
        statuses = {o["change_id"]: o["status"] for o in summary["outcomes"]}
        assert statuses.pop(f"solution:{SOLUTION}") == "unknown" and set(statuses.values()) == {"skipped"}
        assert _import_posts(handle) == 1  # the re-run imported nothing

        waited = invoke(*args, "--import-wait", "120")
        assert waited.code == 0, waited.output
        assert (
            f"installed meanwhile by the solution import that was running (system job {job})" in waited.output
        )
        assert _import_posts(handle) == 1 and _import_jobs(handle) == [(3, 30)]
        again = invoke(
            "plan", str(tenants), "--tenant", "contoso", "--sandbox", sandbox, "--detailed-exitcode"
        )
        assert again.code == 0, again.output
