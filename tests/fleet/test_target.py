"""`--target KIND:KEY` narrows a plan to chosen objects and what they depend on (pure)."""

from __future__ import annotations

import pytest

from reconciler.errors import InputError
from reconciler.kinds.rescue_technician import RescueTechnician
from reconciler.kinds.technician_settings import TechnicianSettings
from reconciler.plan import Create, Manual, Plan, TenantPlan, UnknownChange
from reconciler.plan.target import Target, parse_targets, select_targets


def rescue(tech_id: str) -> Create:
    return Create(kind="rescue_technician", key=tech_id, depends_on=(), desired=RescueTechnician(tech_id))


def settings(user: str, *after: str) -> Create:
    return Create(kind="technician", key=user, depends_on=after, desired=TechnicianSettings(user=user))


def tenant(name: str, *changes: object, error: str = "") -> TenantPlan:
    return TenantPlan(tenant=name, desired_digest="d", changes=tuple(changes), error=error)  # type: ignore[arg-type]


FLEET = Plan(
    (
        tenant(
            "contoso",
            rescue("41"),
            settings("alice@contoso.com", "rescue_technician:41"),
            settings("bob@contoso.com"),
            Manual(kind="rescue_group", key="Support", depends_on=(), title="t", reason="r", steps=()),
            UnknownChange(kind="technician", key="carol@contoso.com", depends_on=(), reason="503"),
        ),
        tenant("fabrikam", settings("alice@contoso.com")),
    )
)


def ids(plan: Plan) -> dict[str, list[str]]:
    return {t.tenant: [c.id for c in t.changes] for t in plan.tenants}


def test_parse_checks_the_kind_and_the_shape_and_reports_every_bad_one() -> None:
    assert parse_targets(["technician:A@x.com", "technician:A@x.com"]) == (Target("technician", "A@x.com"),)
    with pytest.raises(InputError) as raised:
        parse_targets(["tech:a", "technician", "technician:"])
    message = str(raised.value)
    assert "unknown kind 'tech'; kinds: solution, " in message and "rescue_technician" in message
    assert message.count("expected KIND:KEY") == 2


def test_a_target_keeps_its_change_and_its_dependencies_in_every_tenant() -> None:
    narrowed = select_targets(FLEET, parse_targets(["technician:ALICE@contoso.com"]))
    assert ids(narrowed) == {
        "contoso": ["rescue_technician:41", "technician:alice@contoso.com"],
        "fabrikam": ["technician:alice@contoso.com"],
    }
    included, left_out = narrowed.tenants[0].notes
    assert "also included" in included and "rescue_technician:41" in included
    assert left_out == "--target: not known, left out as outside the targets: technician:carol@contoso.com"


def test_an_unknown_outside_the_targets_does_not_make_the_narrowed_plan_incomplete() -> None:
    assert FLEET.incomplete and FLEET.exit_code(changes_exit=True) == 3
    narrowed = select_targets(FLEET, parse_targets(["technician:bob@contoso.com"]))
    assert not narrowed.incomplete and narrowed.exit_code(changes_exit=True) == 2
    # An unknown the target depends on stays, and the plan is incomplete.
    unknown_rescue = UnknownChange(kind="rescue_technician", key="42", depends_on=(), reason="503")
    held = Plan((tenant("contoso", unknown_rescue, settings("dave@contoso.com", "rescue_technician:42")),))
    narrowed = select_targets(held, parse_targets(["technician:dave@contoso.com"]))
    assert ids(narrowed)["contoso"] == ["rescue_technician:42", "technician:dave@contoso.com"]
    assert narrowed.incomplete and narrowed.exit_code(changes_exit=True) == 3


def test_manual_steps_and_unknowns_can_be_targeted_and_otherwise_drop_out() -> None:
    narrowed = select_targets(FLEET, parse_targets(["rescue_group:support", "technician:carol@contoso.com"]))
    assert ids(narrowed)["contoso"] == ["rescue_group:Support", "technician:carol@contoso.com"]
    assert not narrowed.has_changes and narrowed.incomplete


def test_a_target_matching_nothing_is_an_error_unless_a_tenant_failed() -> None:
    with pytest.raises(InputError, match=r"nothing to do for --target technician:zed@contoso\.com: "):
        select_targets(FLEET, parse_targets(["technician:zed@contoso.com", "technician:bob@contoso.com"]))
    failed = Plan((*FLEET.tenants, tenant("northwind", error="credentials refused")))
    assert ids(select_targets(failed, parse_targets(["technician:zed@contoso.com"])))["northwind"] == []
    assert select_targets(FLEET, ()) is FLEET
