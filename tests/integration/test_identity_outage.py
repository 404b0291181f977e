"""An identity outage is one line per tenant, and short (issue 18, point 10).

With the sandbox's identity endpoint answering every request with 500, each tenant's sign-in
fails after its bounded retries and is one problem line naming the cause (not an Unknown per
read), the run exits 3 (incomplete, temporary), no warning reaches stderr without ``-v``, and
the run spends a bounded number of sign-in requests: the first tenants their retries, the rest
one attempt each once the outage is plain (``providers/entra_outage.py``). Counted, never timed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.providers.entra import SIGN_IN_RETRIES
from reconciler.providers.entra_outage import OUTAGE_AFTER
from rescue_sandbox import SandboxHandle, generate, running_sandbox

from .conftest import control, invoke

pytestmark = pytest.mark.integration

TENANTS = 3


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECONCILE_BACKOFF_CAP", "0.05")


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[tuple[SandboxHandle, Path]]:
    generate(tmp_path, tenants=TENANTS, technicians=5, drift=0.0)
    with running_sandbox(tmp_path / "seed.yaml", faults="identity:500=1") as handle:
        yield handle, tmp_path / "tenants"


def _identity_requests(handle: SandboxHandle) -> int:
    return int(control(handle, "GET", "/requests?service=identity")["total"])


def test_a_persistent_token_endpoint_500_is_one_line_per_tenant(fleet: tuple[SandboxHandle, Path]) -> None:
    handle, tenants = fleet
    control(handle, "DELETE", "/requests")
    # One tenant at a time, so which tenants still retry is deterministic.
    run = invoke("plan", str(tenants), "--sandbox", str(handle.state_dir), "--concurrency", "1")
    assert run.code == 3, run.output
    problems = [line for line in run.stdout.splitlines() if line.startswith("  problem: ")]
    assert len(problems) == TENANTS, run.stdout
    for problem in problems:
        assert "identity: sign-in at" in problem and "(HTTP 500)" in problem
        assert "a temporary failure of the identity service, not a configuration problem" in problem
        assert "check connection.dynamics" not in problem
    assert "unknown" not in run.stdout.replace("Plan:", ""), run.stdout  # no Unknown per read
    assert run.stderr == "", run.stderr  # retries are logged at -v only
    # The first OUTAGE_AFTER tenants try 1 + SIGN_IN_RETRIES times, each later one once; the
    # tenant's second scope (Graph) and every later read fail from the run's memory, unsent.
    expected = OUTAGE_AFTER * (1 + SIGN_IN_RETRIES) + (TENANTS - OUTAGE_AFTER)
    assert _identity_requests(handle) == expected


def test_doctor_under_the_outage_blames_the_identity_service(fleet: tuple[SandboxHandle, Path]) -> None:
    handle, tenants = fleet
    run = invoke("doctor", str(tenants), "--sandbox", str(handle.state_dir), "--concurrency", "1")
    assert run.code == 3, run.output  # could not be checked (temporary), nothing found wrong
    assert run.stdout.count("identity service") >= TENANTS
    assert "connection.dynamics" not in run.stdout and "consent was not granted" not in run.stdout
    assert "tenant ID" not in run.stdout.replace("not the tenant ID", "")
    assert run.stderr == "", run.stderr


def test_an_identity_403_blames_the_app_registration_not_the_tenant_id_or_consent(
    fleet: tuple[SandboxHandle, Path],
) -> None:
    handle, tenants = fleet
    control(handle, "POST", "/faults", {"spec": "identity:403=1"})
    control(handle, "DELETE", "/requests")
    run = invoke("doctor", str(tenants), "--sandbox", str(handle.state_dir), "--concurrency", "1")
    assert run.code == 1, run.output
    token_lines = [line for line in run.stdout.splitlines() if line.lstrip().startswith("FAIL  token")]
    assert len(token_lines) == TENANTS, run.stdout
    for line in token_lines:
        assert "refused the sign-in of app" in line and "AADSTS53003" in line
    assert "check connection.dynamics.tenant_id" not in run.stdout
    assert "consent was not granted" not in run.stdout and "adminconsent" not in run.stdout
    assert "Sign-in logs" in run.stdout
    assert _identity_requests(handle) == TENANTS  # a refusal is not retried
