"""`reconcile show`: a saved plan reads as `plan` printed it, as markdown for a review, and
the shard plans of a folder as one plan, without a request."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli import cli
from rescue_sandbox import SandboxHandle, running_sandbox

pytestmark = pytest.mark.integration

TENANTS = str(Path(__file__).resolve().parents[2] / "tenants")


@pytest.fixture(scope="module")
def demo() -> Iterator[SandboxHandle]:
    with running_sandbox(index_job_seconds=0.05) as handle:
        yield handle


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout


def test_show_prints_the_saved_plan_as_plan_printed_it(demo: SandboxHandle, tmp_path: Path) -> None:
    saved = tmp_path / "plan.json"
    code, printed = run("plan", TENANTS, "--sandbox", str(demo.state_dir), "--out", str(saved))
    assert code == 0
    sent = len(demo.sandbox.requests.entries())
    code, shown = run("show", str(saved))
    assert code == 0
    head, _, body = shown.partition("\n")
    created = json.loads(saved.read_text())["created_at"]
    assert head.startswith(f"Saved plan: made {created} by reconcile ")
    assert body == printed
    assert len(demo.sandbox.requests.entries()) == sent  # nothing sent

    code, markdown = run("show", str(saved), "--format", "markdown")
    assert code == 0 and markdown.startswith("<!-- reconcile-plan -->\n### reconcile show\n")
    code, again = run("show", str(saved), "--format", "json")
    assert code == 0 and json.loads(again)["tenants"] == json.loads(saved.read_text())["tenants"]


def test_show_merges_the_shard_plans_of_a_folder(demo: SandboxHandle, tmp_path: Path) -> None:
    plans = tmp_path / "plans"
    plans.mkdir()
    for tenant in ("contoso", "fabrikam"):
        code, _ = run("plan", TENANTS, "--tenant", tenant, "--sandbox", str(demo.state_dir),
                      "--out", str(plans / f"{tenant}.json"))  # fmt: skip
        assert code == 0
    code, shown = run("-v", "show", str(plans))
    assert code == 0
    assert "Tenant contoso:" in shown and "Tenant fabrikam:" in shown
    code, _ = run("show", str(tmp_path / "missing"))
    assert code == 1
