"""`reconcile gitops comment-body` and `plan-matrix`: per-tenant plan files -> one PR comment."""

from __future__ import annotations

import json
from pathlib import Path

from reconciler.cli.gitops_cmd import gitops
from reconciler.gitops import comment_body, merge_plans
from reconciler.gitops.comment import NO_PLAN, keep_ticks
from reconciler.plan import UnknownChange
from reconciler.render import render_json
from reconciler.render.markdown import MARKER

from .conftest import integration_update, invoke, manual_step, plan_of, technician_create, tenant_plan


def write_plan(folder: Path, *tenants: object, created_at: str = "2026-01-01T00:00:00+00:00") -> Path:
    """A plan file as the plan job's artifact holds it: plans/plan-<tenant>/plan.json."""
    plan = plan_of(*tenants, created_at=created_at)  # type: ignore[arg-type]
    target = folder / f"plan-{plan.tenants[0].tenant}" / "plan.json"
    target.parent.mkdir(parents=True)
    target.write_text(render_json(plan), "utf-8")
    return target


def test_per_tenant_plans_merge_into_one_comment_summary_first(tmp_path: Path) -> None:
    plans = tmp_path / "plans"
    write_plan(
        plans, tenant_plan("fabrikam", technician_create("grace@fabrikam.com")), created_at="2026-01-02"
    )
    write_plan(plans, tenant_plan("contoso", integration_update(True, False), manual_step()))
    run = invoke(gitops, "comment-body", str(plans), "--run-url", "https://github.com/o/r/actions/runs/7")
    assert run.code == 0, run.stderr
    body = run.stdout
    assert body.startswith(MARKER + "\n")
    assert "Plan: 1 to create, 1 to update, 0 to delete." in body
    summary, contoso, fabrikam = (
        body.index("**Plan:"),
        body.index("<b>contoso</b>"),
        body.index("<b>fabrikam</b>"),
    )
    assert summary < contoso < fabrikam
    assert "| contoso | changes |" in body
    assert "- [ ] **Set 'Post session details to URL' for Rescue group Support/Tier 2**" in body
    assert "[Plans and logs of this run](https://github.com/o/r/actions/runs/7)" in body
    assert "2026-01-02" in body  # the latest plan time


def test_a_tenant_without_a_plan_shows_as_failed(tmp_path: Path) -> None:
    plans = tmp_path / "plans"
    write_plan(plans, tenant_plan("contoso", integration_update(True, False)))
    matrix = json.dumps({"tenant": ["contoso", "fabrikam"]})
    run = invoke(gitops, "comment-body", str(plans), "--expect-matrix", matrix)
    assert run.code == 0, run.stderr
    assert "| fabrikam | failed |" in run.stdout
    assert NO_PLAN in run.stdout
    assert "1 tenant(s) failed" in run.stdout


def test_no_plans_at_all(tmp_path: Path) -> None:
    (tmp_path / "plans").mkdir()
    run = invoke(gitops, "comment-body", str(tmp_path / "plans"), "--expect-matrix", "[]")
    assert run.stdout.startswith(MARKER)
    assert "No tenant is affected" in run.stdout
    everything_failed = invoke(
        gitops, "comment-body", str(tmp_path / "plans"), "--expect-matrix", '{"tenant": ["contoso"]}'
    )
    assert "| contoso | failed |" in everything_failed.stdout


def test_bad_inputs_are_reported(tmp_path: Path) -> None:
    plans = tmp_path / "plans"
    write_plan(plans, tenant_plan("contoso"))
    twice = tmp_path / "again" / "plan.json"
    twice.parent.mkdir()
    twice.write_text((plans / "plan-contoso" / "plan.json").read_text("utf-8"), "utf-8")
    run = invoke(gitops, "comment-body", str(plans), str(twice))
    assert run.code == 1
    assert "tenant contoso is in two plan files" in run.stderr

    assert "no such file or folder" in invoke(gitops, "comment-body", str(tmp_path / "nope")).stderr
    bad_matrix = invoke(gitops, "comment-body", str(plans), "--expect-matrix", "{tenant")
    assert (bad_matrix.code, "not JSON" in bad_matrix.stderr) == (1, True)
    wrong_shape = invoke(gitops, "comment-body", str(plans), "--expect-matrix", '{"x": 1}')
    assert wrong_shape.code == 1
    (tmp_path / "junk.json").write_text("{", "utf-8")
    junk = invoke(gitops, "comment-body", str(tmp_path / "junk.json"))
    assert (junk.code, "is not JSON" in junk.stderr) == (1, True)


def test_ticked_manual_steps_stay_ticked_when_the_comment_is_rewritten(tmp_path: Path) -> None:
    plans = tmp_path / "plans"
    write_plan(plans, tenant_plan("contoso", manual_step("Support/Tier 2"), manual_step("Field")))
    first = invoke(gitops, "comment-body", str(plans)).stdout
    ticked = first.replace(
        "- [ ] **Set 'Post session details to URL' for Rescue group Field**",
        "- [x] **Set 'Post session details to URL' for Rescue group Field**",
    )
    (tmp_path / "previous.md").write_text(ticked, "utf-8")
    out = tmp_path / "comment.md"
    run = invoke(
        gitops, "comment-body", str(plans), "--previous", str(tmp_path / "previous.md"), "--out", str(out)
    )
    assert run.code == 0, run.stderr
    body = out.read_text("utf-8")
    assert "- [x] **Set 'Post session details to URL' for Rescue group Field**" in body
    assert "- [ ] **Set 'Post session details to URL' for Rescue group Support/Tier 2**" in body
    # A previous comment that does not exist yet (first push) is fine.
    assert invoke(gitops, "comment-body", str(plans), "--previous", str(tmp_path / "none.md")).code == 0
    assert keep_ticks("- [ ] a\n- [ ] b\n", "- [X] b\n") == "- [ ] a\n- [x] b\n"


def test_hundreds_of_tenants_stay_under_githubs_comment_limit() -> None:
    tenants = [
        tenant_plan(
            f"tenant-{i:03d}",
            integration_update(True, False),
            *(technician_create(f"user{j}@tenant-{i:03d}.example.com") for j in range(20)),
            manual_step(),
        )
        for i in range(300)
    ]
    plan = merge_plans([(Path(f"{t.tenant}.json"), plan_of(t)) for t in tenants])
    body = comment_body(plan, run_url="https://github.com/o/r/actions/runs/1")
    assert len(body) < 65_536
    assert "tenant section(s) cut" in body
    assert "| tenant-299 | changes |" in body  # the summary table still lists every tenant
    assert body.rstrip().endswith("(https://github.com/o/r/actions/runs/1)")


def test_plan_matrix_drops_only_the_tenants_of_a_shard_whose_plan_failed(tmp_path: Path) -> None:
    """One shard's plan file (written although the plan exited 1 or 3): the others are applied."""
    unknown = UnknownChange("rescue_group", "Support", (), reason="Rescue: HTTP 500")
    plan = plan_of(
        tenant_plan("contoso", integration_update(True, False)),
        tenant_plan("fabrikam", technician_create("f@fabrikam.com"), unknown),  # incomplete: exit 3
        tenant_plan("northwind", error="Entra ID refused the credentials"),  # exit 1
        tenant_plan("tailspin", technician_create("t@tailspin.com")),
    )
    target = tmp_path / "plans" / "apply-plan-shard-0-of-1" / "plan.json"
    target.parent.mkdir(parents=True)
    target.write_text(render_json(plan), "utf-8")
    planned = json.dumps(
        {"include": [{"job": "shard-0-of-1", "tenants": "contoso fabrikam northwind tailspin"}]}
    )
    run = invoke(gitops, "plan-matrix", str(tmp_path / "plans"), "--expect-matrix", planned)
    assert run.code == 0, run.stderr
    assert json.loads(run.stdout) == {"include": [{"job": "shard-0-of-1", "tenants": "contoso tailspin"}]}


def test_plan_matrix_lists_tenants_with_changes(tmp_path: Path) -> None:
    plans = tmp_path / "plans"
    write_plan(plans, tenant_plan("contoso", integration_update(True, False)))
    write_plan(plans, tenant_plan("fabrikam", manual_step()))
    write_plan(plans, tenant_plan("northwind"))
    run = invoke(gitops, "plan-matrix", str(plans))
    assert run.code == 0, run.stderr
    assert json.loads(run.stdout) == {"include": [{"job": "contoso", "tenants": "contoso"}]}
    planned = json.dumps({"include": [{"job": "shard-0-of-1", "tenants": "contoso fabrikam northwind"}]})
    kept = invoke(gitops, "plan-matrix", str(plans), "--expect-matrix", planned)
    assert json.loads(kept.stdout) == {"include": [{"job": "shard-0-of-1", "tenants": "contoso"}]}
    empty = tmp_path / "empty"
    empty.mkdir()
    assert invoke(gitops, "plan-matrix", str(empty)).stdout.strip() == "[]"
