"""Technicians by rule, pure: templates, expansion, precedence, conflicts, unknown sources, and
what the diff makes of them (no create, no prune when a source is unknown)."""

from __future__ import annotations

from typing import Any

import pytest
from tenant_models import tenant_model

from reconciler.config.models import Prune, Tenant
from reconciler.config.templates import check_template, expand, member_values, placeholders
from reconciler.diff import DesiredState, Directories, RescueDirectory, diff_tenant, resolve
from reconciler.diff.resolve import DynamicsUser
from reconciler.diff.rules import (
    DirectoryGroup,
    DirectoryTechnician,
    EntraGroup,
    EntraUser,
    limited_reason,
    rule_label,
)
from reconciler.kinds.rescue_technician import RescueTechnician
from reconciler.kinds.technician_settings import TechnicianSettings
from reconciler.plan import Create, Plan, SafetySettings, TenantPlan
from reconciler.plan.serialize import encode_plan
from reconciler.providers.graph import entra_group
from reconciler.render.markdown import render_markdown
from reconciler.render.text import render_text
from reconciler.resources import LiveState

GROUP = "5d0b2f3e-8c1a-4e6b-9f70-1a2b3c4d5e01"
GROUPS = (
    DirectoryGroup("1", ("Support",)),
    DirectoryGroup("2", ("Support", "Tier 1")),
    DirectoryGroup("3", ("Support", "Tier 1", "Night")),
    DirectoryGroup("4", ("Sales",)),
    DirectoryGroup("5", ("Supportive",)),
)
TECHS = (
    DirectoryTechnician("11", "ann@x.com", ("1", "2")),
    DirectoryTechnician("12", "ben@x.com", ("1", "2", "3")),
    DirectoryTechnician("13", "cy@x.com", ("4",)),
    DirectoryTechnician("14", "dee@x.com", ("5",)),  # not below "Support"
)


def _directories(
    entra: dict[str, EntraGroup] | None = None, *, rescue: bool = True, users: Any = "all"
) -> Directories:
    directory = RescueDirectory(technicians=(*TECHS, DirectoryTechnician("15", "eve@x.com")), groups=GROUPS)
    emails = [t.email for t in directory.technicians]
    everyone = {e: f"uid-{e}" for e in [*emails, "eve.smith@x.com", "ann.b@x.com"]}
    return Directories(
        rescue=directory if rescue else None,
        rescue_error="" if rescue else "HTTP 503",
        users=user_directory(everyone if users == "all" else users),
        entra_groups=entra or {},
    )


def user_directory(users: dict[str, str]) -> dict[str, tuple[DynamicsUser, ...]]:
    """UPN -> systemuserid, as the Dynamics reader hands them over (one enabled user each)."""
    return {upn: (DynamicsUser(uid, upn),) for upn, uid in users.items()}


def _resolve(tenant: Tenant, directories: Directories) -> DesiredState:
    return resolve(tenant, DesiredState(), directories)


def _settings(state: DesiredState) -> dict[str, tuple[str | None, str | None, str | None]]:
    return {
        r.user: (r.technician_id, r.sso_id, r.source)
        for r in state.resources
        if isinstance(r, TechnicianSettings)
    }


def test_templates() -> None:
    values = member_values(email="ann.b@x.com", upn="ann@x.onmicrosoft.com", extra={"node_id": "11"})
    assert expand("{local}-{node_id}@{domain} {{literal}}", values) == "ann.b-11@x.com {literal}"
    assert placeholders("{upn}/{email}") == ["upn", "email"]
    for bad in ("{email!r}", "{email:>9}", "{0}", "{email.x}", "{unclosed", "{upn[0]}"):
        with pytest.raises(ValueError):
            check_template(bad)
    with pytest.raises(ValueError, match=r"unknown placeholder \{id\}"):
        check_template("{id}", ("email", "node_id"))


def test_a_rescue_group_rule_takes_every_technician_below_the_path() -> None:
    tenant = tenant_model(technician_rules=[{"rescue_group": "support", "sso_id": "{local}"}])
    state = _resolve(tenant, _directories())
    label = 'technician_rules[0] rescue_group "support"'
    assert _settings(state) == {"ann@x.com": ("11", "ann", label), "ben@x.com": ("12", "ben", label)}
    assert {r.technician_id: r.sso_id for r in state.resources if isinstance(r, RescueTechnician)} == {
        "11": "ann",
        "12": "ben",
    }
    assert state.problems == [] and state.unknown == []


def test_an_entra_rule_maps_upn_to_user_and_mail_to_the_rescue_technician() -> None:
    members = (
        EntraUser("o1", "ann.b@x.com", "ann@x.com"),
        EntraUser("o2", "eve.smith@x.com", "eve@x.com"),
        EntraUser("o3", "boss@x.com", ""),
    )
    tenant = tenant_model(
        technician_rules=[{"entra_group": GROUP, "sso_id": "{id}", "exclude": ["BOSS@x.com"]}]
    )
    state = _resolve(tenant, _directories({GROUP: EntraGroup(members)}))
    label = f'technician_rules[0] entra_group "{GROUP}"'
    assert _settings(state) == {"ann.b@x.com": ("11", "o1", label), "eve.smith@x.com": ("15", "o2", label)}


def test_explicit_entries_win_for_the_same_user_or_technician() -> None:
    tenant = tenant_model(
        technicians=[
            {"user": "ann@x.com", "sso_id": "A"},
            {"user": "other@x.com", "rescue_email": "ben@x.com"},
        ],
        technician_rules=[{"rescue_group": "Support", "sso_id": "{local}"}],
    )
    state = _resolve(tenant, _directories(users={"ann@x.com": "u1", "other@x.com": "u2", "ben@x.com": "u3"}))
    assert {u: v[:2] for u, v in _settings(state).items()} == {
        "ann@x.com": ("11", "A"),
        "other@x.com": ("12", None),
    }
    assert state.problems == []


def test_two_rules_mapping_a_user_differently_is_a_located_problem_and_neither_is_used() -> None:
    tenant = tenant_model(
        technician_rules=[
            {"rescue_group": "Support/Tier 1", "sso_id": "{local}"},
            {"rescue_group": "Support", "sso_id": "{node_id}"},
            {"rescue_group": "Support"},  # agrees with nobody on SSO IDs
            {"rescue_group": "Sales", "sso_id": "{local}"},
        ]
    )
    state = _resolve(tenant, _directories())
    assert set(_settings(state)) == {"cy@x.com"}
    assert len(state.problems) == 4  # ann and ben, in rules 1 and 2
    assert all(
        p.startswith(("technician_rules.1.rescue_group: technician_rules.1: member", "technician_rules.2"))
        for p in state.problems
    )
    assert "also at technician_rules.0" in state.problems[0]
    # The same mapping from two rules is one mapping.
    same = tenant_model(technician_rules=[{"rescue_group": "Support"}, {"rescue_group": "Support/Tier 1"}])
    assert set(_settings(_resolve(same, _directories()))) == {"ann@x.com", "ben@x.com"}


def test_missing_path_missing_user_and_missing_technician_are_located_problems() -> None:
    tenant = tenant_model(
        technician_rules=[
            {"rescue_group": "Nowhere"},
            {"rescue_group": "Sales"},
            {"entra_group": GROUP},
        ]
    )
    entra = {GROUP: EntraGroup((EntraUser("o9", "zed@x.com", "zed@x.com"),))}
    state = _resolve(tenant, _directories(entra, users={}))
    assert state.problems == [
        "technician_rules.0.rescue_group: technician_rules.0: no Rescue technician group has path 'Nowhere' "
        "(paths start below the Technicians root, e.g. Support/Tier 1)",
        "technician_rules.2.entra_group: technician_rules.2: member zed@x.com: no Rescue technician has email "
        "'zed@x.com' (set the rule's rescue_email template, or exclude the member)",
        "technician_rules.1.rescue_group: technician_rules.1: member cy@x.com: no Dynamics user with UPN "
        "'cy@x.com' (check the spelling, or that the user exists and is licensed)",
    ]
    assert _settings(state) == {}


def _plan(tenant: Tenant, directories: Directories, live: LiveState) -> Any:
    state = _resolve(tenant, directories)
    return diff_tenant(
        "t",
        state,
        live,
        prune=Prune(technicians=True),
        entra_tenant_id="e",
        desired_digest="d",
        safety=SafetySettings(1.0, 10),
    )


def _pruning_rules() -> tuple[Tenant, LiveState]:
    """An Entra rule and a Rescue rule, pruning on, over ann's row and a stranger's."""
    live = LiveState()
    live.add(TechnicianSettings(user="ann.b@x.com", technician_id="11", sso_id="o1"))
    live.add(TechnicianSettings(user="stranger@x.com", technician_id="99"))
    live.listed.add("technician")
    tenant = tenant_model(
        prune={"technicians": True},
        technician_rules=[{"entra_group": GROUP, "sso_id": "{id}"}, {"rescue_group": "Sales"}],
    )
    return tenant, live


def test_an_unreadable_source_is_unknown_never_a_create_nor_a_prune() -> None:
    tenant, live = _pruning_rules()
    failed = {GROUP: EntraGroup(None, "HTTP 503")}
    plan = _plan(tenant, _directories(failed), live)
    ops = {(c.op, c.id) for c in plan.changes}
    assert ("unknown", "technician:technician_rules[0]") in ops
    assert ("create", "technician:cy@x.com") in ops  # the readable rule still plans
    assert not [c for c in plan.changes if c.op == "delete"] and plan.unmanaged == ()
    # Read, the same tenant prunes the stranger and keeps ann.
    read = {GROUP: EntraGroup((EntraUser("o1", "ann.b@x.com", "ann@x.com"),))}
    plan = _plan(tenant, _directories(read), live)
    technician_rows = [c for c in plan.changes if c.kind == "technician"]
    assert {(c.op, c.id) for c in technician_rows if c.op in ("delete", "unknown", "update")} == {
        ("delete", "technician:stranger@x.com")
    }
    # No Rescue hierarchy: a Rescue-group rule is unknown too.
    plan = _plan(tenant, _directories(read, rescue=False), live)
    assert ("unknown", "technician:technician_rules[1]") in {(c.op, c.id) for c in plan.changes}
    assert not [c for c in plan.changes if c.op in ("delete", "create")]


def test_members_shown_with_limited_information_make_the_rule_unknown_naming_the_permission() -> None:
    """GroupMember.Read.All alone: Graph lists user members by ID only. Part of the group is no
    group, so the rule is Unknown (no create, no prune) even for the members it could read, and a
    member is never matched by an empty UPN."""
    tenant, live = _pruning_rules()
    readable = EntraUser("o2", "eve.smith@x.com", "eve@x.com")
    ids = tuple(f"o{i}" for i in range(3, 10))
    group = EntraGroup((readable,), limited=ids)
    plan = _plan(tenant, _directories({GROUP: group}), live)
    ops = {(c.op, c.id) for c in plan.changes}
    assert ("unknown", "technician:technician_rules[0]") in ops
    assert ("create", "technician:cy@x.com") in ops  # the Rescue rule still plans
    assert not [c for c in plan.changes if c.op == "delete"] and plan.unmanaged == ()
    assert not [c for c in plan.changes if c.id.endswith(("eve.smith@x.com", "ann.b@x.com"))]
    [unknown] = [c for c in plan.changes if c.id == "technician:technician_rules[0]"]
    assert unknown.reason == (
        f'technician_rules[0] entra_group "{GROUP}": Entra group {GROUP}: 7 member(s) came with limited '
        "information (ID only, no userPrincipalName: 'o3', 'o4', 'o5', 'o6', 'o7' and 2 more): grant the "
        "reconciler's app registration the Graph application permission User.Read.All; nothing it maps "
        "is created, changed or pruned"
    )
    assert limited_reason(EntraGroup((readable,))) == ""


def test_graph_rows_without_a_upn_are_limited_members_never_empty_upns() -> None:
    group = entra_group(
        [
            {"id": "o1", "userPrincipalName": "Ann.B@x.com", "mail": "ANN@x.com"},
            {"id": "o2", "userPrincipalName": "eve@x.com", "mail": None},
            {"@odata.type": "#microsoft.graph.user", "id": "o3", "userPrincipalName": None, "mail": None},
            {"id": "o4", "userPrincipalName": ""},
            {"id": "o5"},
        ]
    )
    assert group.members == (EntraUser("o1", "ann.b@x.com", "ann@x.com"), EntraUser("o2", "eve@x.com", ""))
    assert group.limited == ("o3", "o4", "o5")


def test_the_rule_behind_a_change_is_shown_escaped_in_every_format() -> None:
    tenant = tenant_model(technician_rules=[{"rescue_group": 'Sup"port\n```<b>'}])
    label = rule_label(tenant.technician_rules[0], 0)
    assert label == 'technician_rules[0] rescue_group "Sup\\"port\\n```<b>"'
    change = Create("technician", "ann@x.com", (), desired=TechnicianSettings(user="ann@x.com", source=label))
    plan = Plan(tenants=(TenantPlan(tenant="t", desired_digest="d", changes=(change,)),))
    assert f"      from {label}\n" in render_text(plan)
    markdown = render_markdown(plan)
    assert f"+     from {label}" in markdown and "\n```<b>" not in markdown
    assert encode_plan(plan)["tenants"][0]["changes"][0]["source"] == label
