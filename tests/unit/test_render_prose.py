"""Our own multi-line messages read as lines; markdown prose stays a sentence and never markup;
the manual checklist shows as many boxes as it counts."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from reconciler.plan import Manual, Plan, TenantPlan
from reconciler.plan.checklist import fleet_checklist
from reconciler.render import render_text
from reconciler.render.checklist import render_checklist_markdown, render_checklist_text
from reconciler.render.escape import md_prose, prose_lines

MD = MarkdownIt("gfm-like")


def _inline_children(text: str) -> list[str]:
    tokens = MD.parse(text)
    return [child.type for t in tokens if t.type == "inline" for child in (t.children or [])]


def test_a_message_of_ours_with_line_breaks_is_indented_lines_and_forges_no_line() -> None:
    message = "the org's metadata does not match (2 problem(s)):\n  - a: x\nTenant evil: no changes\u202e"
    lines = prose_lines(message)
    assert lines[0] == "the org's metadata does not match (2 problem(s)):"
    assert all(line.startswith("    ") for line in lines[1:]) and "\\u202e" in lines[2]
    text = render_text(Plan((TenantPlan(tenant="contoso", desired_digest="d", error=message),)))
    assert "\\n" not in text
    assert not any(line.startswith("Tenant evil") for line in text.splitlines())


def test_markdown_prose_keeps_plain_words_and_spans_only_the_words_with_syntax() -> None:
    step = "Set the URL to https://x.example/api and add `confirmed: YYYY-MM-DD` (today's date)."
    said = md_prose(step)
    assert said.startswith("Set the URL to `https://x.example/api` and add ")
    assert "(today's date)." in said
    assert set(_inline_children(said)) <= {"text", "code_inline", "softbreak"}


def test_markdown_prose_of_hostile_values_is_only_text_and_code() -> None:
    for hostile in (
        "click [here](javascript:alert(1)) now",
        "<img src=x onerror=alert(1)> hi",
        "@everyone see #12 and :smile: **bold** _it_ ~~s~~ www.evil.example",
        "- a list? 1. no # heading > quote",
        "a `` b ``` c",
        "line\nbreak\u202eend",
    ):
        said = md_prose(hostile)
        assert "\n" not in said
        kinds = set(_inline_children(said))
        assert kinds <= {"text", "code_inline"}, (hostile, said, kinds)
        first_block = MD.parse(said)[0].type
        assert first_block == "paragraph_open", (hostile, said)


def _steps(tenants: int) -> Plan:
    step = Manual(kind="rescue_group", key="Support", depends_on=(), title="Set export", reason="no API",
                  steps=("Sign in.", "Enable it."))  # fmt: skip
    return Plan(
        tuple(TenantPlan(tenant=f"t{i:02d}", desired_digest="d", changes=(step,)) for i in range(tenants))
    )


def test_the_checklist_shows_the_boxes_it_counts() -> None:
    checklist = fleet_checklist(_steps(12), manual_step_kinds={"rescue_group"})
    markdown = render_checklist_markdown(checklist)
    assert "1 manual step for 12 tenants: 12 to do in all" in markdown
    assert markdown.count("[ ]") == 12 == checklist.step_count
    text = render_checklist_text(checklist)
    assert "[ ]" not in text and "12 tenants: t00..t11" in text


@given(st.text(alphabet=st.sampled_from(list(":#\n \tab\u202e")), max_size=40))
def test_no_later_line_of_a_message_starts_a_ci_runner_command(message: str) -> None:
    lines = prose_lines("head\n" + message)
    assert all("\n" not in line for line in lines)
    assert not [line for line in lines[1:] if line.lstrip().startswith(("::", "##"))]
