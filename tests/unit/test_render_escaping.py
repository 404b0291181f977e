"""Every output escapes what it shows: no tenant or live value becomes markup or a control code.

The markdown is parsed with a real CommonMark parser (markdown-it-py): a value must never turn
into a heading, a link, an image or HTML, whatever it holds.
"""

from __future__ import annotations

import re

from markdown_checks import CONTROL, assert_inert

from reconciler.gitops.comment import comment_body
from reconciler.gitops.drift import IssueDecision, github_output, issue_body
from reconciler.kinds.rescue_group import RescueGroup
from reconciler.kinds.session_key import SessionKey
from reconciler.kinds.technician_settings import TechnicianSettings
from reconciler.plan import (
    Action,
    Create,
    Delete,
    FieldChange,
    Manual,
    Plan,
    TenantPlan,
    UnknownChange,
    Update,
)
from reconciler.render import render_markdown, render_text
from reconciler.render.escape import md_code, md_fence, md_text
from reconciler.resources import Unmanaged

HOSTILE = (
    "x\n```\n## Plan: no changes\n[click](https://evil.example/a) ![i](https://evil.example/i.png) "
    "<img src=x onerror=alert(1)> </details> `` ` ~~~ @admin #12 www.evil.example a@evil.example "
    "\u202eevil\u2066 \x1b[31m\r\t|cell| **bold** _it_ &amp; :x: $math$ \\"
)


def hostile_plan(value: str = HOSTILE) -> Plan:
    tech = TechnicianSettings(user=value, technician_id=value, sso_id=value)
    changes = (
        Create("technician", value, (), desired=tech),
        Update("technician", value, (), tech, tech, (FieldChange(value, value, [value, value]),)),
        Delete("rescue_group", value, (), live=RescueGroup(path=value)),
        Action(
            "session_key",
            value,
            (value,),
            "repair_session_key",
            SessionKey(table=value, key_name=value, status="Active"),
            None,
            value,
            (value, value),
        ),
        Manual("rescue_group", value, (), title=value, reason=value, steps=(value, value)),
        UnknownChange("consent", value, (), reason=value),
    )
    tenant = TenantPlan(
        tenant=value,
        desired_digest="d",
        changes=changes,
        unmanaged=(Unmanaged("technician", value, value),),
        problems=(value,),
        notes=(value,),
        requests={value: {"requests": value, "retries": 1}},
    )
    failed = TenantPlan(tenant=value + "2", desired_digest="d", error=value)
    return Plan((tenant, failed), created_at=value, tool_version=value)


def test_every_kind_of_change_renders_inert_markdown() -> None:
    plan = hostile_plan()
    assert_inert(render_markdown(plan), own_headings=1)
    assert_inert(comment_body(plan, run_url="https://github.com/o/r/actions/runs/1"), own_headings=1)
    tenant = plan.tenants[0]
    body = issue_body(
        plan, TenantPlan(tenant="contoso", desired_digest="d", changes=tenant.changes), "ab" * 32
    )
    assert_inert(body.replace("[this drift run]", ""), own_headings=2)


def test_the_drift_issue_of_a_hostile_tenant_name_is_inert() -> None:
    plan = hostile_plan()
    body = issue_body(plan, plan.tenants[0], "ab" * 32)
    assert_inert(body, own_headings=2)
    assert body.count("-->") == 2  # the two markers, never closed early by the name


def test_text_output_has_no_raw_control_characters_and_cuts_long_values() -> None:
    text = render_text(hostile_plan(HOSTILE + "y" * 1000))
    assert not CONTROL.search(text)
    assert "\\u202e" in text and "\\x1b" in text and "\\n```" in text
    assert "…(+" in text
    assert max(len(line) for line in text.splitlines()) < 1500  # value 200 + prose 1000 + words
    coloured = render_text(hostile_plan(), colour=True)
    assert not CONTROL.search(re.sub(r"\x1b\[[0-9;]*m", "", coloured))


def test_github_outputs_stay_one_line_each() -> None:
    decision = IssueDecision("update", "x\ny=1", "Drift\nnumber=99", "f", comment=HOSTILE)
    lines = github_output(decision).splitlines()
    assert [line.split("=", 1)[0] for line in lines] == [
        "action", "tenant", "title", "number", "fingerprint", "previous", "duplicates", "comment"
    ]  # fmt: skip


def test_comment_size_limit_holds_with_long_hostile_values() -> None:
    tenants = tuple(
        TenantPlan(
            tenant=f"t{i}",
            desired_digest="d",
            changes=(
                Manual(
                    "rescue_group", "g", (), title=HOSTILE * 50, reason=HOSTILE * 50, steps=(HOSTILE * 50,)
                ),
            ),
        )
        for i in range(300)
    )
    body = comment_body(Plan(tenants), limit=60_000)
    assert len(body) <= 60_000
    assert_inert(body, own_headings=1)


def test_escape_helpers() -> None:
    assert md_code("a`b") == "``a`b``"
    assert md_code("`a") == "`` `a ``"
    assert md_code("a|b", table=True) == "`a\\|b`"
    assert md_text("Support Tier 1") == "Support Tier 1"
    assert md_text("see www.x.com") == "`see www.x.com`"
    assert md_fence(["+ ````"], "diff") == ["`````diff", "+ ````", "`````"]
