"""The GitOps flow on the demo seed, over real HTTPS to the sandbox: the pull-request comment
merged from per-tenant plan jobs, and a drift issue's life (open, keep, update, close)."""

from __future__ import annotations

import json
import shutil
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.cli import cli
from reconciler.cli.gitops_cmd import gitops
from reconciler.config.shard import shard_of
from reconciler.render.markdown import MARKER
from rescue_sandbox import SandboxHandle, demo_seed_path, load_seed, running_sandbox

from .conftest import EXAMPLE_TENANTS, invoke

pytestmark = pytest.mark.integration

TENANTS = ("contoso", "fabrikam")


@pytest.fixture(scope="module")
def demo() -> Iterator[SandboxHandle]:
    with running_sandbox() as handle:
        yield handle


def secret_values(handle: SandboxHandle) -> list[str]:
    """Every secret the sandbox holds: credentials, resolved references, technicians' auth codes."""
    values: list[str] = []
    for entry in handle.info["tenants"].values():
        values += [entry["client_secret"], entry["rescue_authcode"]]
        values += [str(v) for v in entry.get("secrets", {}).values()]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("auth_code", "sso_password", "password") and isinstance(value, str):
                    values.append(value)
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(load_seed(demo_seed_path()))
    assert len(values) > 8 and all(len(v) >= 6 for v in values)
    return values


def plan_job(handle: SandboxHandle, tenant: str, out: Path, tenants: Path = EXAMPLE_TENANTS) -> str:
    """What one matrix job of plan.yml does: plan one tenant, keep the JSON."""
    run = invoke(
        cli,
        "plan",
        str(tenants),
        "--tenant",
        tenant,
        "--sandbox",
        str(handle.state_dir),
        "--format",
        "markdown",
        "--out",
        str(out / f"plan-{tenant}" / "plan.json"),
    )
    assert run.code == 0, run.stderr
    return run.stdout


def drift_job(
    handle: SandboxHandle, tenant: str, out: Path, tenants: Path = EXAMPLE_TENANTS
) -> tuple[int, Path]:
    run = invoke(
        cli, "drift", str(tenants), "--tenant", tenant, "--sandbox", str(handle.state_dir), "--format", "json"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(run.stdout, "utf-8")
    return run.code, out


def issue_step(drift: Path, issues: list[dict[str, Any]], tmp: Path) -> tuple[dict[str, str], str]:
    (tmp / "issues.json").write_text(json.dumps(issues), "utf-8")
    body = tmp / "issue.md"
    run = invoke(
        gitops,
        "drift-issue",
        str(drift),
        "--tenant",
        "contoso",
        "--issues",
        str(tmp / "issues.json"),
        "--body-out",
        str(body),
    )
    assert run.code == 0, run.stderr
    return dict(line.split("=", 1) for line in run.stdout.splitlines()), body.read_text("utf-8")


def test_the_pr_comment_for_the_demo_seed(demo: SandboxHandle, tmp_path: Path) -> None:
    plans = tmp_path / "plans"
    for tenant in TENANTS:
        plan_job(demo, tenant, plans)
    matrix = json.dumps({"include": [{"job": t, "tenants": t} for t in TENANTS]})
    run_url = "https://github.com/org/tenants/actions/runs/42"
    run = invoke(gitops, "comment-body", str(plans), "--expect-matrix", matrix, "--run-url", run_url)
    assert run.code == 0, run.stderr
    body = run.stdout
    assert len(body) < 65_536  # GitHub's comment limit
    assert body.startswith(MARKER + "\n### reconcile plan\n")
    summary = "**Plan: 2 to create, 3 to update, 0 to delete, 1 repair(s). 1 manual step(s).**"
    assert body.index(summary) < body.index("| contoso | changes |") < body.index("<details")
    assert "| fabrikam | changes |" in body
    assert "- [ ] **Set 'Post session details to URL' for Rescue group Support/Tier 2**" in body
    assert "close_ticket_on_session_end: true -> false" in body
    assert 'sso_id: "g.smith" -> "gsmith"' in body
    assert "| failed |" not in body and "tenant(s) failed" not in body
    for secret in secret_values(demo):
        assert secret not in body
    # Only tenants with changes go on to the apply jobs.
    selected = invoke(gitops, "plan-matrix", str(plans), "--expect-matrix", matrix)
    assert json.loads(selected.stdout) == json.loads(matrix)


def test_drift_fingerprint_is_stable_across_runs_and_follows_the_drift(
    demo: SandboxHandle, tmp_path: Path
) -> None:
    prints = []
    for run_no in range(2):
        code, drift = drift_job(demo, "contoso", tmp_path / f"run{run_no}" / "drift.json")
        assert code == 2
        prints.append(invoke(gitops, "drift-fingerprint", str(drift)).stdout.strip())
    assert prints[0] == prints[1] and len(prints[0]) == 64

    # The admin changes the tenant file: the drift is different, so is its fingerprint.
    tenants = tmp_path / "tenants"
    shutil.copytree(EXAMPLE_TENANTS, tenants)
    tenant_file = tenants / "contoso" / "tenant.yaml"
    text = tenant_file.read_text("utf-8").replace(
        "close_ticket_on_session_end: false", "close_ticket_on_session_end: true"
    )
    tenant_file.write_text(text, "utf-8")
    code, drift = drift_job(demo, "contoso", tmp_path / "edited" / "drift.json", tenants)
    assert code == 2
    assert invoke(gitops, "drift-fingerprint", str(drift)).stdout.strip() != prints[0]


def test_a_drift_issue_is_opened_kept_updated_and_closed(tmp_path: Path) -> None:
    with running_sandbox(index_job_seconds=0.05) as handle:
        tenants = tmp_path / "tenants"
        shutil.copytree(EXAMPLE_TENANTS, tenants)
        _, drift = drift_job(handle, "contoso", tmp_path / "1" / "drift.json", tenants)
        outputs, body = issue_step(drift, [], tmp_path)
        assert outputs["action"] == "create"
        assert outputs["title"] == "Drift in tenant contoso"
        assert body.startswith(f"<!-- reconcile-drift:contoso:{outputs['fingerprint']} -->")
        assert len(body) < 65_536
        for secret in secret_values(handle):
            assert secret not in body
        issue = {"number": 7, "title": outputs["title"], "body": body}

        # The next scheduled run sees the same drift: the issue is left alone (no spam).
        _, drift = drift_job(handle, "contoso", tmp_path / "2" / "drift.json", tenants)
        outputs, _ = issue_step(drift, [issue], tmp_path)
        assert (outputs["action"], outputs["number"]) == ("none", "7")

        # An apply without --force is refused (the role change needs it) and writes nothing.
        run = invoke(
            cli,
            "apply",
            str(tenants),
            "--tenant",
            "contoso",
            "--sandbox",
            str(handle.state_dir),
            "--auto-approve",
        )
        assert run.code == 4  # the role change needs --force; nothing was written
        assert "security roles" in run.stderr
        # The admin accepts part of the drift in the tenant file: the issue is updated.
        tenant_file = tenants / "contoso" / "tenant.yaml"
        tenant_file.write_text(
            tenant_file.read_text("utf-8").replace(
                "close_ticket_on_session_end: false", "close_ticket_on_session_end: true"
            ),
            "utf-8",
        )
        _, drift = drift_job(handle, "contoso", tmp_path / "3" / "drift.json", tenants)
        outputs, body = issue_step(drift, [issue], tmp_path)
        assert (outputs["action"], outputs["number"]) == ("update", "7")
        issue["body"] = body

        # Apply everything: clean again, the issue is closed.
        run = invoke(
            cli,
            "apply",
            str(tenants),
            "--tenant",
            "contoso",
            "--sandbox",
            str(handle.state_dir),
            "--auto-approve",
            "--force",
        )
        assert run.code == 0, run.stdout + run.stderr
        code, drift = drift_job(handle, "contoso", tmp_path / "4" / "drift.json", tenants)
        assert code == 0
        outputs, _ = issue_step(drift, [issue], tmp_path)
        assert (outputs["action"], outputs["number"]) == ("close", "7")


def test_shards_plan_and_drift_every_tenant_exactly_once(demo: SandboxHandle) -> None:
    """What the sharded matrix jobs and the Kubernetes Indexed Job do: `--shard K/N` per job."""
    count = next(n for n in range(2, 20) if shard_of("contoso", n) != shard_of("fabrikam", n))
    planned: list[str] = []
    for index in range(count):
        for command in ("plan", "drift"):
            run = invoke(
                cli, command, str(EXAMPLE_TENANTS), "--shard", f"{index}/{count}",
                "--sandbox", str(demo.state_dir), "--format", "json",
            )  # fmt: skip
            assert run.code in (0, 2), run.stderr
            assert f"shard {index}/{count}:" in run.stderr
            names = [t["tenant"] for t in json.loads(run.stdout)["tenants"]]
            assert names == [t for t in TENANTS if shard_of(t, count) == index]
            if command == "plan":
                planned += names
    assert sorted(planned) == sorted(TENANTS)


def requests_total(handle: SandboxHandle) -> int:
    ctx = ssl.create_default_context(cafile=str(handle.ca_file))
    with httpx.Client(base_url=handle.url, verify=ctx, trust_env=False, timeout=30) as client:
        total = client.get("/_sandbox/requests").json()["total"]
    assert isinstance(total, int)
    return total


@pytest.mark.parametrize("value", ["0/0", "3/2", "x"])
def test_a_bad_shard_is_refused_before_any_request(demo: SandboxHandle, value: str) -> None:
    before = requests_total(demo)
    for command in ("plan", "drift", "apply"):
        run = invoke(cli, command, str(EXAMPLE_TENANTS), "--shard", value, "--sandbox", str(demo.state_dir))
        assert run.code == 1
        assert f"--shard {value!r}" in run.stderr
    assert requests_total(demo) == before
