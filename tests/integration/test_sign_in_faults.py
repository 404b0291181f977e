"""Sign-in is as robust as every other call: the identity endpoint's 429, 500, 503 and dropped
connections, once or on a fifth of its requests, never end a run with a traceback or a blame on
the configuration; plan and apply finish, or exit 3 saying the failure is temporary."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rescue_sandbox import SandboxHandle, running_sandbox

from .conftest import EXAMPLE_TENANTS, control, invoke

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECONCILE_BACKOFF_CAP", "0.05")


@pytest.fixture
def sandbox() -> Iterator[SandboxHandle]:
    with running_sandbox(index_job_seconds=0.05) as handle:
        yield handle


def _no_blame(output: str) -> None:
    assert "Traceback" not in output
    assert "check connection.dynamics" not in output, output


@pytest.mark.parametrize("fault", ["429=1,retry_after=0", "500=1", "503=1", "drop=1"])
def test_one_failed_sign_in_is_retried_and_the_plan_completes(sandbox: SandboxHandle, fault: str) -> None:
    control(sandbox, "POST", "/faults", {"spec": f"identity:{fault},count=1"})
    run = invoke("plan", str(EXAMPLE_TENANTS), "--sandbox", str(sandbox.state_dir))
    assert run.code == 0, run.output
    _no_blame(run.output)
    assert control(sandbox, "GET", "/faults")["rules"][0]["fired"] == 1


def test_sign_in_failing_on_a_fifth_of_requests_plans_and_applies(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    spec = "identity:429=0.05,retry_after=0,500=0.05,503=0.05,drop=0.05;seed=3"
    control(sandbox, "POST", "/faults", {"spec": spec})
    for args in (("plan",), ("apply", "--auto-approve", "--force")):
        run = invoke(*args, str(EXAMPLE_TENANTS), "--sandbox", str(sandbox.state_dir))
        assert run.code in (0, 3), run.output
        _no_blame(run.output)
        if run.code == 3:
            assert "temporary failure" in run.output


def test_sign_in_that_keeps_failing_is_temporary_and_exits_3(sandbox: SandboxHandle) -> None:
    control(sandbox, "POST", "/faults", {"spec": "identity:503=1"})
    run = invoke("plan", str(EXAMPLE_TENANTS), "--sandbox", str(sandbox.state_dir))
    assert run.code == 3, run.output
    _no_blame(run.output)
    assert "a temporary failure of the identity service, not a configuration problem" in run.output
