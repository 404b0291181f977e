"""Text output at fleet size, over real HTTPS: 40 generated tenants that share one manual step.

`apply` printed 984 lines for such a fleet (the same seven-line manual step per tenant, and
`0 done, 0 failed, 0 skipped` for every tenant with nothing to do); `health` 319 lines with one
note repeated per tenant. Each is now said once with the tenants' names collapsed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli import cli
from rescue_sandbox import SandboxHandle, running_sandbox
from rescue_sandbox.generator import generate

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SandboxHandle, Path]]:
    root = tmp_path_factory.mktemp("fleet40")
    generate(root, tenants=40, technicians=2, drift=0.03, rng_seed=3)
    with running_sandbox(root / "seed.yaml", index_job_seconds=0.05) as handle:
        yield handle, root / "tenants"


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout


def test_apply_of_forty_tenants_with_one_shared_manual_step_is_short(
    fleet: tuple[SandboxHandle, Path],
) -> None:
    handle, tenants = fleet
    code, out = run("apply", str(tenants), "--sandbox", str(handle.state_dir), "--auto-approve")
    assert code == 0, out
    lines = out.splitlines()
    assert len(lines) < 100, out
    # The drift the generator injected is shown per tenant, the manual step once after the apply.
    assert out.count("Set 'Post session details to URL'") == 1
    assert out.count("~ update integration settings configuration") == 2  # the injected drift, shown
    assert "Manual steps left (1 step for 40 tenants)" in out
    assert "40 tenants: tenant001..tenant040" in out
    assert "0 done, 0 failed, 0 skipped" not in out

    code, again = run("apply", str(tenants), "--sandbox", str(handle.state_dir), "--auto-approve")
    assert code == 0 and len(again.splitlines()) < 30, again
    assert "Nothing to do in 40 tenants: tenant001..tenant040" in again
    assert again.rstrip().endswith("40 tenants: 40 nothing to do.")

    code, verbose = run("-v", "apply", str(tenants), "--sandbox", str(handle.state_dir), "--auto-approve")
    assert code == 0 and verbose.count("Tenant tenant0") == 80, verbose  # every tenant, plan and apply
    assert "requests: dataverse" in verbose


def test_health_says_what_forty_tenants_share_once_and_takes_a_shard(
    fleet: tuple[SandboxHandle, Path],
) -> None:
    handle, tenants = fleet
    code, out = run("health", str(tenants), "--sandbox", str(handle.state_dir))
    assert code == 2  # admin consent is not granted in the generated tenants: every session blocked
    assert len(out.splitlines()) < 20, out
    assert out.count("Dynamics-only view: without a Rescue report sign-in") == 1
    assert (
        "tenant001..tenant040 (40 tenants): BLOCKED (1 prerequisite(s) stop every session), not visible"
        in out
    )
    assert "40 tenants: 40 blocked." in out  # consent is not granted in the generated tenants
    assert out.rstrip().endswith("Groups losing sessions: 0.")

    shards = [
        run("health", str(tenants), "--sandbox", str(handle.state_dir), "--shard", f"{k}/3") for k in range(3)
    ]
    counted = [int(out.splitlines()[-1].split(" ")[0]) for _, out in shards]
    assert sum(counted) == 40 and all(0 < n < 40 for n in counted), counted
