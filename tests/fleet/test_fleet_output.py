"""Output at fleet size: identical errors said once with a count; one manual-step checklist."""

from __future__ import annotations

import json

from reconciler.kinds import MANUAL_STEP_KINDS
from reconciler.plan import ApplyResult, Change, Manual, Plan, TenantApplyResult, TenantPlan, UnknownChange
from reconciler.plan.checklist import fleet_checklist
from reconciler.render import render_apply_text, render_text
from reconciler.render.checklist import (
    render_checklist_json,
    render_checklist_markdown,
    render_checklist_text,
)

EXPIRED = "Entra ID refused the credentials: AADSTS7000222 the client secret expired"


def step(group: str, title: str | None = None) -> Manual:
    return Manual(
        kind="rescue_group",
        key=group,
        depends_on=(),
        title=title or f"Set 'Post session details to URL' for Rescue group {group}",
        reason="the Rescue API cannot read or write export settings",
        steps=("Sign in to the Admin Center.", "Enable 'Post session details to URL'."),
    )


def tenant(name: str, *changes: Change, error: str = "") -> TenantPlan:
    return TenantPlan(tenant=name, desired_digest="d", changes=changes, error=error)


def test_identical_plan_errors_are_said_once_with_a_count_and_distinct_ones_stay() -> None:
    plan = Plan(
        (
            *(tenant(f"client-{i:03d}", error=EXPIRED) for i in range(30)),
            tenant("northwind", error="Dataverse answered 503"),
            tenant("contoso"),
        )
    )
    text = render_text(plan)
    assert text.count(EXPIRED) == 1
    assert f"30 tenants failed with the same error: {EXPIRED}" in text
    assert "tenants: client-000..client-029" in text  # thirty numbered names as one range
    assert "Tenant northwind: failed" in text and "Dataverse answered 503" in text
    assert "Tenant contoso:" in text


def test_identical_apply_errors_are_said_once_with_a_count() -> None:
    result = ApplyResult(
        (
            TenantApplyResult("a", error=EXPIRED),
            TenantApplyResult("b", error=EXPIRED),
            TenantApplyResult("c", error="other", manual=(step("Support"),)),
        )
    )
    text = render_apply_text(result)
    assert text.count(EXPIRED) == 1 and "2 tenants failed with the same error" in text
    assert "Tenant c: failed: other" in text and "Manual steps left (1 step for 1 tenant)" in text


def test_the_checklist_lists_each_step_once_with_its_tenants_and_the_unknown_tenants() -> None:
    plan = Plan(
        (
            tenant("contoso", step("Support/Tier 2"), step("Sales")),
            tenant("fabrikam", step("Support/Tier 2")),
            tenant("northwind", error="credentials refused"),
        )
    )
    checklist = fleet_checklist(plan, manual_step_kinds=MANUAL_STEP_KINDS)
    assert [(i.key, i.tenants) for i in checklist.items] == [
        ("Support/Tier 2", ("contoso", "fabrikam")),
        ("Sales", ("contoso",)),
    ]
    assert checklist.step_count == 3
    text = render_checklist_text(checklist)
    assert "2 manual steps for 2 tenants: 3 to do in all (each step once per tenant)." in text
    assert "- Set 'Post session details to URL' for Rescue group Support/Tier 2 (2 tenants)" in text
    assert "2 tenants: contoso, fabrikam" in text
    assert "not known for northwind: credentials refused" in text
    data = json.loads(render_checklist_json(checklist))
    assert data["steps"][0]["tenants"] == ["contoso", "fabrikam"]
    assert data["unplanned"] == [{"tenant": "northwind", "error": "credentials refused"}]
    markdown = render_checklist_markdown(checklist)
    assert "- **Set 'Post session details to URL' for Rescue group Support/Tier 2** (2 tenants)" in markdown
    assert markdown.count("- [ ] ") == 3  # a box per tenant of each step: the 3 it counts


def test_a_planned_tenant_whose_groups_could_not_be_read_has_its_steps_unknown() -> None:
    unreadable = UnknownChange("rescue_group", "Support/Tier 2", (), reason="Rescue: HTTP 500")
    technician = UnknownChange("technician", "dave@contoso.com", (), reason="Rescue: HTTP 500")
    plan = Plan((tenant("contoso", unreadable, technician), tenant("fabrikam", technician)))
    checklist = fleet_checklist(plan, manual_step_kinds=MANUAL_STEP_KINDS)
    assert checklist.items == ()
    # fabrikam's unknowns hide no manual step; contoso's group may need one.
    assert checklist.unplanned == (
        ("contoso", "the manual steps of rescue_group:Support/Tier 2 are not known: Rescue: HTTP 500"),
    )


def test_the_checklist_escapes_what_it_shows() -> None:
    hostile = "x\x1b[31m [click](https://evil.example) <img src=x> | *b* `c`\nnext"
    checklist = fleet_checklist(
        Plan((tenant("contoso", step("G", title=hostile)),)), manual_step_kinds=MANUAL_STEP_KINDS
    )
    text = render_checklist_text(checklist)
    assert "\x1b" not in text and "\\x1b[31m" in text and "\nnext" not in text
    markdown = render_checklist_markdown(checklist)  # a code span: tests/unit/test_checklist_render.py
    assert (
        "\x1b" not in markdown
        and "``x\\x1b[31m [click](https://evil.example) <img src=x> | *b* `c`\\nnext``" in markdown
    )
    assert json.loads(render_checklist_json(checklist))["steps"][0]["title"] == hostile
