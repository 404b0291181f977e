"""Drift fingerprints and the one-issue-per-tenant decision (hand-made plans, no network)."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from reconciler.cli.gitops_cmd import gitops
from reconciler.errors import IncompleteError, InputError, ReconcileError
from reconciler.gitops import OpenIssue, decide, drift_fingerprint, issue_body, parse_issues
from reconciler.gitops.drift import marker
from reconciler.render import render_json

from .conftest import (
    REPO,
    integration_update,
    invoke,
    manual_step,
    plan_of,
    technician_create,
    tenant_plan,
    unknown,
)

DRIFT = (integration_update(True, False), technician_create("dave@contoso.com"))


def issue(number: int, tenant: str, fingerprint: str, extra: str = "") -> OpenIssue:
    return OpenIssue(number, f"Drift in tenant {tenant}", f"{marker(tenant, fingerprint)}\n{extra}")


def test_fingerprint_is_stable_across_runs() -> None:
    first = tenant_plan("contoso", *DRIFT, requests=7)
    # Another run: other ETags, request counts, order of changes and plan time; same drift.
    again = tenant_plan(
        "contoso", technician_create("dave@contoso.com"), integration_update(True, False, 'W/"9"')
    )
    again = dataclasses.replace(again, requests={"dataverse": {"requests": 99}})
    assert drift_fingerprint(first) == drift_fingerprint(again)
    assert len(drift_fingerprint(first)) == 64


def test_fingerprint_changes_with_the_drift() -> None:
    base = drift_fingerprint(tenant_plan("contoso", *DRIFT))
    other_value = tenant_plan(
        "contoso", integration_update(False, True), technician_create("dave@contoso.com")
    )
    other_object = tenant_plan(
        "contoso", integration_update(True, False), technician_create("erin@contoso.com")
    )
    other_content = tenant_plan(
        "contoso", integration_update(True, False), technician_create("dave@contoso.com", "9")
    )
    less = tenant_plan("contoso", integration_update(True, False))
    prints = {base} | {drift_fingerprint(p) for p in (other_value, other_object, other_content, less)}
    assert len(prints) == 5


def test_no_drift_has_no_fingerprint_and_manual_steps_alone_are_not_drift() -> None:
    assert drift_fingerprint(tenant_plan("contoso")) == ""
    assert drift_fingerprint(tenant_plan("contoso", manual_step())) == ""


def test_fingerprint_survives_the_plan_json_round_trip(tmp_path: Path) -> None:
    plan = plan_of(tenant_plan("contoso", *DRIFT, manual_step()))
    path = tmp_path / "drift.json"
    path.write_text(render_json(plan), "utf-8")
    run = invoke(gitops, "drift-fingerprint", str(path))
    assert run.code == 0, run.stderr
    assert run.stdout.strip() == drift_fingerprint(plan.tenants[0])


def test_fingerprint_lines_for_several_tenants(tmp_path: Path) -> None:
    plan = plan_of(tenant_plan("contoso", *DRIFT), tenant_plan("fabrikam"))
    path = tmp_path / "plan.json"
    path.write_text(render_json(plan), "utf-8")
    run = invoke(gitops, "drift-fingerprint", str(path))
    assert run.stdout.splitlines() == [f"contoso {drift_fingerprint(plan.tenants[0])}", "fabrikam -"]
    assert invoke(gitops, "drift-fingerprint", str(path), "--tenant", "fabrikam").stdout == "\n"
    missing = invoke(gitops, "drift-fingerprint", str(path), "--tenant", "nosuch")
    assert missing.code == 1
    assert "not in the plan" in missing.stderr


def test_decisions() -> None:
    drifting = tenant_plan("contoso", *DRIFT)
    fp = drift_fingerprint(drifting)
    clean = tenant_plan("contoso", manual_step())

    assert decide(clean, []).action == "none"
    created = decide(drifting, [issue(3, "fabrikam", "ab")])
    assert (created.action, created.number, created.title) == ("create", None, "Drift in tenant contoso")

    same = decide(drifting, [issue(5, "contoso", fp)])
    assert (same.action, same.number) == ("none", 5)

    changed = decide(drifting, [issue(5, "contoso", "0" * 64)])
    assert (changed.action, changed.number, changed.previous) == ("update", 5, "0" * 64)
    assert "changed" in changed.comment

    closed = decide(clean, [issue(5, "contoso", fp)])
    assert (closed.action, closed.number) == ("close", 5)
    assert "no drift" in closed.comment


def test_only_the_oldest_issue_of_a_tenant_is_kept() -> None:
    drifting = tenant_plan("contoso", *DRIFT)
    fp = drift_fingerprint(drifting)
    decision = decide(
        drifting, [issue(9, "contoso", "1" * 64), issue(4, "contoso", fp), issue(2, "contoso-eu", "2")]
    )
    assert (decision.action, decision.number, decision.duplicates) == ("none", 4, (9,))


def test_incomplete_or_failed_runs_leave_the_issue_alone() -> None:
    with pytest.raises(IncompleteError):
        decide(tenant_plan("contoso", unknown(), *DRIFT), [issue(5, "contoso", "a")])
    with pytest.raises(ReconcileError, match="credentials refused"):
        decide(tenant_plan("contoso", error="credentials refused"), [issue(5, "contoso", "a")])


def test_issue_body_has_the_marker_the_drift_and_how_to_resolve_it() -> None:
    plan = plan_of(tenant_plan("contoso", *DRIFT, manual_step()))
    fp = drift_fingerprint(plan.tenants[0])
    body = issue_body(plan, plan.tenants[0], fp, run_url="https://github.com/o/r/actions/runs/1")
    assert body.startswith(marker("contoso", fp) + "\n")
    assert "close_ticket_on_session_end: true -> false" in body
    assert "- [ ] **Set 'Post session details to URL'" in body
    assert "reconcile export --tenant contoso --overwrite" in body
    assert "reconcile apply --tenant contoso" in body
    assert "actions/runs/1" in body
    assert len(body) < 65_536
    assert OpenIssue(1, "", body).fingerprint_for("contoso") == fp


def test_parse_issues_rejects_what_gh_does_not_print() -> None:
    assert parse_issues([{"number": 1, "title": "t", "body": None}]) == [OpenIssue(1, "t", "")]
    with pytest.raises(InputError):
        parse_issues({"number": 1})
    with pytest.raises(InputError):
        parse_issues([{"title": "no number"}])


def test_drift_issue_command_prints_github_outputs_and_writes_the_body(tmp_path: Path) -> None:
    plan = plan_of(tenant_plan("contoso", *DRIFT))
    fp = drift_fingerprint(plan.tenants[0])
    (tmp_path / "drift.json").write_text(render_json(plan), "utf-8")
    issues = [{"number": 12, "title": "Drift in tenant contoso", "body": marker("contoso", "f" * 64)}]
    (tmp_path / "issues.json").write_text(json.dumps(issues), "utf-8")
    args = ["drift-issue", str(tmp_path / "drift.json"), "--issues", str(tmp_path / "issues.json")]
    run = invoke(gitops, *args, "--body-out", str(tmp_path / "issue.md"), "--run-url", "https://x/runs/2")
    assert run.code == 0, run.stderr
    outputs = dict(line.split("=", 1) for line in run.stdout.splitlines())
    assert outputs["action"] == "update"
    assert outputs["number"] == "12"
    assert outputs["fingerprint"] == fp
    assert outputs["title"] == "Drift in tenant contoso"
    assert (tmp_path / "issue.md").read_text("utf-8").startswith(marker("contoso", fp))


def test_drift_issue_command_refuses_bad_input(tmp_path: Path) -> None:
    plan = plan_of(tenant_plan("contoso", unknown()))
    (tmp_path / "drift.json").write_text(render_json(plan), "utf-8")
    (tmp_path / "issues.json").write_text("not json", "utf-8")
    args = ["drift-issue", str(tmp_path / "drift.json"), "--body-out", str(tmp_path / "b.md")]
    bad_issues = invoke(gitops, *args, "--issues", str(tmp_path / "issues.json"))
    assert bad_issues.code == 1
    assert "is not JSON" in bad_issues.stderr
    (tmp_path / "issues.json").write_text("[]", "utf-8")
    incomplete = invoke(gitops, *args, "--issues", str(tmp_path / "issues.json"))
    assert incomplete.code == 3
    assert not (tmp_path / "b.md").exists()
    (tmp_path / "drift.json").write_text('{"tenants": []}', "utf-8")
    not_a_plan = invoke(gitops, *args, "--issues", str(tmp_path / "issues.json"))
    assert not_a_plan.code == 1
    assert "not a reconcile plan" in not_a_plan.stderr


def test_the_drift_workflow_step_handles_each_tenant_of_a_shard(tmp_path: Path) -> None:
    """Run drift.yml's issue step with bash: the real `reconcile`, a `gh` that records its calls.

    A shard of three tenants: one drifting (an issue is created), one clean (nothing), one that
    could not be read (its issue is left alone and the step fails at the end)."""
    workflow = yaml.safe_load((REPO / ".github" / "workflows" / "drift.yml").read_text("utf-8"))
    (script,) = [
        s["run"] for s in workflow["jobs"]["drift"]["steps"] if "gh issue create" in s.get("run", "")
    ]
    plan = plan_of(
        tenant_plan("contoso", integration_update(True, False)),
        tenant_plan("fabrikam"),
        tenant_plan("northwind", error="Dataverse answered 503"),
    )
    (tmp_path / "drift.json").write_text(render_json(plan), "utf-8")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake_gh = bin_dir / "gh"
    fake_gh.write_text(
        '#!/bin/sh\necho "$*" >> "$GH_CALLS"\ncase "$1 $2" in "issue list") echo "[]" ;; esac\n', "utf-8"
    )
    fake_gh.chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "GH_CALLS": str(tmp_path / "calls.txt"),
        "GH_TOKEN": "x",
        "TENANTS": "contoso fabrikam northwind",
        "DRIFT_RC": "3",
        "RUN_URL": "https://github.com/o/r/actions/runs/1",
        "GITHUB_REPOSITORY": "o/r",
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
    }
    done = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", script],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 3, done.stderr  # the incomplete run fails the job, after the others
    calls = (tmp_path / "calls.txt").read_text("utf-8").splitlines()
    created = [c for c in calls if c.startswith("issue create")]
    assert len(created) == 1 and "Drift in tenant contoso" in created[0]
    assert not any("fabrikam" in c or "northwind" in c for c in calls)
