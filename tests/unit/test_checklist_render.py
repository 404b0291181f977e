"""`reconcile manual`: the checklist shows titles, steps and tenant names through render.escape."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from markdown_checks import CONTROL, assert_inert

from reconciler.cli import cli
from reconciler.kinds import MANUAL_STEP_KINDS
from reconciler.plan import Manual, Plan, TenantPlan
from reconciler.plan.checklist import fleet_checklist
from reconciler.render import render_json
from reconciler.render.checklist import render_checklist_markdown, render_checklist_text

HOSTILE = [
    "turn\u202eit around",
    "a\ttab",
    "a\u2028line separator",
    "zero\u200bwidth",
    "see https://evil.example/x now",
    "visit www.evil.example",
    "ping @evil-team and mail evil@example.com",
    "x\x1b[31m [click](https://evil.example) <img src=x> | *b* `c`\n## heading",
]


def _plan() -> Plan:
    steps = tuple(
        Manual(kind="rescue_group", key=f"G{i}", depends_on=(), title=v, reason=v, steps=(v, "Sign in."))
        for i, v in enumerate(HOSTILE)
    )
    return Plan(
        (
            TenantPlan(tenant="contoso", desired_digest="d", changes=steps),
            TenantPlan(tenant="northwind", desired_digest="d", error=" ".join(HOSTILE)),
        )
    )


def test_the_markdown_checklist_is_inert() -> None:
    markdown = render_checklist_markdown(fleet_checklist(_plan(), manual_step_kinds=MANUAL_STEP_KINDS))
    assert_inert(markdown, own_headings=1)
    assert "see `https://evil.example/x` now" in markdown  # the URL a code span, the words words


def test_manual_from_a_saved_plan_prints_no_raw_control_bidi_or_invisible_character(tmp_path: Path) -> None:
    (tmp_path / "plan.json").write_text(render_json(_plan()), "utf-8")
    for fmt in ("text", "markdown"):
        result = CliRunner().invoke(cli, ["manual", "--from-plan", str(tmp_path), "--format", fmt])
        assert result.exit_code == 1, result.output  # northwind could not be planned
        assert not CONTROL.search(result.output), result.output
        assert "turn\\u202eit" in result.output and "a\\ttab" in result.output and "\\u2028" in result.output
    text = render_checklist_text(fleet_checklist(_plan(), manual_step_kinds=MANUAL_STEP_KINDS))
    assert "\n## heading" not in text and "\\n## heading" in text
