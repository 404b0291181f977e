"""Issue 16, cases 1-4, pure: one matching decision for group paths, e-mails and UPNs; ambiguity
is Unknown with every candidate named; live names in another form are the declared one."""

from __future__ import annotations

import unicodedata
from typing import Any

import pytest
from tenant_models import tenant_model

from reconciler.config.models import Prune, Tenant
from reconciler.diff import DesiredState, Directories, build_desired, diff_tenant, resolve
from reconciler.diff.resolve import DynamicsUser
from reconciler.errors import ChangeFailed
from reconciler.kinds.technician_settings import TechnicianSettings
from reconciler.plan import Create, SafetySettings, UnknownChange
from reconciler.profile import default_profile
from reconciler.providers.dynamics.settings_read import users_by_upn
from reconciler.providers.rescue.groups import groups_from_tree
from reconciler.providers.rescue.mapping import RescueTree, build_tree
from reconciler.resources import LiveState
from reconciler.resources.matching import Index, Match, declared_path_key, name_key, path_key, show_path

NFD_CAFE = unicodedata.normalize("NFD", "Café")


def test_name_key_is_the_normal_form_validate_accepts() -> None:
    assert NFD_CAFE != "Café" and name_key(NFD_CAFE) == name_key("Café") == "café"
    assert name_key("Sup\u200bport") == name_key("SUPPORT ") == name_key(" support") == "support"
    assert name_key("a\u202eb\ufeff") == "ab"  # bidi and BOM are invisible differences too
    assert name_key("Tier 2") != name_key("Tier  2")  # inner spaces are part of the name


def test_a_slash_inside_a_name_reads_like_the_separator_but_stays_one_name() -> None:
    assert (
        path_key(("Support/Tier 2",))
        == path_key(("Support", "Tier 2"))
        == declared_path_key("support/TIER 2")
    )
    assert show_path(("Support/Tier 2",)) == '"Support/Tier 2"'
    assert show_path(("Support", "Tier 2")) == '"Support" / "Tier 2"'
    assert "not NFC" in show_path((NFD_CAFE,)) and "\\u200b" in show_path(("a\u200bb",))


def test_match_answers_one_none_or_every_candidate() -> None:
    index = Index(["a", "A ", "b"], key=name_key)
    assert index.find("a").candidates == ("a", "A ") and index.find("a").ambiguous
    assert index.find("b").one == "b" and index.find("c").none
    assert index.find("a").pinned("A ", str).one == "A "
    assert index.find("a").pinned("x", str).none  # a pin chooses among candidates, never adds one
    many = Match(tuple(str(i) for i in range(13)))
    assert many.named(str).endswith("9 and 3 more")


def _blocks(*groups: tuple[str, str, str]) -> list[dict[str, str]]:
    blocks = [{"NODEID": "1", "PARENTID": "0", "NAME": "Technicians", "TYPE": "Technicians"}]
    return blocks + [
        {"NODEID": n, "PARENTID": p, "NAME": name, "TYPE": "TechnicianGroup"} for n, p, name in groups
    ]


def _tree(blocks: list[dict[str, str]], techs: tuple[tuple[str, str, str], ...] = ()) -> RescueTree:
    """A hierarchy of ``blocks`` plus technicians (node, parent, e-mail)."""
    return build_tree(
        blocks
        + [{"NODEID": n, "PARENTID": p, "NAME": e, "TYPE": "Technician", "EMAIL": e} for n, p, e in techs]
    )


# Case 1: the real Support -> Tier 2 (11), a group literally named "Support/Tier 2" (20), and a
# sibling "SUPPORT " (30) beside Support (10).
CASE_1 = _tree(
    _blocks(
        ("10", "1", "Support"),
        ("11", "10", "Tier 2"),
        ("20", "1", "Support/Tier 2"),
        ("30", "1", "SUPPORT "),
        ("40", "1", NFD_CAFE),
    ),
    techs=(("101", "11", "ann@x.com"), ("102", "20", "mallory@x.com")),
)


def test_a_path_naming_two_groups_is_unknown_with_both_named() -> None:
    read = groups_from_tree(CASE_1, ["Support/Tier 2"])
    reasons = {u.key: u.reason for u in read.unknown}
    assert set(reasons) == {"Support", "Support/Tier 2"}
    assert 'node 11 "Support" / "Tier 2"' in reasons["Support/Tier 2"]
    assert 'node 20 "Support/Tier 2"' in reasons["Support/Tier 2"]
    assert 'node 10 "Support"' in reasons["Support"] and 'node 30 "SUPPORT"' in reasons["Support"]
    assert "Support/Tier 2" not in read.ids  # no permissions are read, nothing is written


def test_a_pinned_node_id_chooses_among_the_candidates() -> None:
    read = groups_from_tree(CASE_1, ["Support/Tier 2"], {"support/tier 2": "11", "support": "10"})
    assert read.ids == {"support/tier 2": "11", "support": "10"} and not read.unknown
    wrong = groups_from_tree(CASE_1, ["Support/Tier 2"], {"support/tier 2": "40", "support": "10"})
    assert "pinned to node_id 40 in rescue_groups, which is not a group it names" in wrong.unknown[0].reason


def test_a_name_in_another_unicode_form_is_the_declared_group_not_a_new_one() -> None:
    read = groups_from_tree(CASE_1, ["Café"])
    assert read.ids == {"café": "40"} and not read.unknown
    assert "not NFC" in read.notes[0]
    desired = DesiredState(
        resources=build_desired(
            tenant_model(rescue_groups=[{"path": "Café"}]), default_profile(), sso_password=None
        ).resources
    )
    live = LiveState(listed={"rescue_group"})
    for group in read.groups:
        live.add(group)
    plan = _diff(desired, live)
    assert plan.changes == ()  # no second group


def test_a_missing_group_under_an_ambiguous_parent_is_not_created() -> None:
    read = groups_from_tree(CASE_1, ["Support/Night"])
    (unknown,) = [u for u in read.unknown if u.key == "Support/Night"]
    assert "its parent path 'Support' names 2 Rescue groups" in unknown.reason


def test_writes_never_pick_one_of_several_groups() -> None:
    with pytest.raises(ChangeFailed, match="names 2 Rescue groups"):
        CASE_1.group_id("Support/Tier 2")
    assert CASE_1.group_id("café") == "40"


def test_a_rule_takes_the_technicians_inside_the_group_node_never_a_path_prefix() -> None:
    tree = _tree(
        _blocks(("10", "1", "Support"), ("11", "10", "Tier 2"), ("20", "1", "Support/Tier 3")),
        techs=(("101", "11", "ann@x.com"), ("102", "20", "mallory@x.com")),
    )
    tenant = tenant_model(technician_rules=[{"rescue_group": "Support"}])
    state = _resolve(tenant, tree, {"ann@x.com": "u1", "mallory@x.com": "u2"})
    assert [(r.user, r.technician_id) for r in state.resources if isinstance(r, TechnicianSettings)] == [
        ("ann@x.com", "101")
    ]
    ambiguous = _resolve(
        tenant_model(technician_rules=[{"rescue_group": "Support/Tier 2"}]), CASE_1, {"ann@x.com": "u1"}
    )
    (unknown,) = ambiguous.unknown
    assert (
        "names 2 Rescue groups" in unknown.reason
        and "node 20" in unknown.reason
        and "node 11" in unknown.reason
    )
    assert not [r for r in ambiguous.resources if isinstance(r, TechnicianSettings)]


# Case 2: two technicians with one e-mail after case folding and stripping.
CASE_2 = _tree(
    _blocks(("10", "1", "Support"), ("50", "1", "Archive")),
    techs=(("101", "10", "alice@contoso.com"), ("501", "50", " Alice@Contoso.com")),
)


def test_a_shared_email_is_unknown_with_both_technicians_named() -> None:
    tenant = tenant_model(technicians=[{"user": "alice@contoso.com", "sso_id": "alice"}])
    state = _resolve(tenant, CASE_2, {"alice@contoso.com": "u1"})
    (unknown,) = state.unknown
    assert (
        unknown.key == "alice@contoso.com" and "node 101" in unknown.reason and "node 501" in unknown.reason
    )
    assert "pin technician_id" in unknown.reason
    assert not [r for r in state.resources if r.kind in ("technician", "rescue_technician")]
    pinned = _resolve(
        tenant_model(technicians=[{"user": "alice@contoso.com", "technician_id": "101"}]),
        CASE_2,
        {"alice@contoso.com": "u1"},
    )
    assert [r.technician_id for r in pinned.resources if isinstance(r, TechnicianSettings)] == ["101"]


def test_two_entra_members_reaching_one_technician_are_both_refused_whatever_their_order() -> None:
    from reconciler.diff.rules import EntraGroup, EntraUser

    group = "5d0b2f3e-8c1a-4e6b-9f70-1a2b3c4d5e01"
    tenant = tenant_model(technician_rules=[{"entra_group": group, "rescue_email": "tech@contoso.com"}])
    tree = _tree(_blocks(("10", "1", "Support")), techs=(("101", "10", "tech@contoso.com"),))
    members = EntraGroup((EntraUser("1", "ann@contoso.com"), EntraUser("2", "bob@contoso.com")))
    state = resolve(
        tenant,
        DesiredState(),
        Directories(
            rescue=tree.directory(),
            users=_users({"ann@contoso.com": "u1", "bob@contoso.com": "u2"}),
            entra_groups={group: members},
        ),
    )
    assert not [r for r in state.resources if isinstance(r, TechnicianSettings)]
    assert len(state.problems) == 2 and all("Rescue technician 101" in p for p in state.problems)


# Case 3 for e-mails: a zero-width space in the live e-mail.
def test_an_invisible_character_in_a_live_email_is_the_declared_one() -> None:
    tree = _tree(_blocks(("10", "1", "Support")), techs=(("101", "10", "ali\u200bce@contoso.com"),))
    state = _resolve(
        tenant_model(technicians=[{"user": "alice@contoso.com"}]), tree, {"alice@contoso.com": "u1"}
    )
    assert [r.technician_id for r in state.resources if isinstance(r, TechnicianSettings)] == ["101"]


# Case 4: a disabled Dynamics user with the same domainname, listed last.
def test_a_upn_of_two_users_is_unknown_and_a_pin_chooses() -> None:
    rows = [
        {"systemuserid": "AAAA", "domainname": "alice@contoso.com", "isdisabled": False},
        {"systemuserid": "BBBB", "domainname": "Alice@Contoso.com ", "isdisabled": True},
        {"systemuserid": "CCCC", "domainname": "bob@contoso.com", "isdisabled": True},
    ]
    users = users_by_upn(rows, {"alice@contoso.com", "bob@contoso.com"})
    assert [u.id for u in users["alice@contoso.com"]] == ["aaaa", "bbbb"]
    tree = _tree(
        _blocks(("10", "1", "Support")),
        techs=(("101", "10", "alice@contoso.com"), ("102", "10", "bob@contoso.com")),
    )
    tenant = tenant_model(technicians=[{"user": "alice@contoso.com"}, {"user": "bob@contoso.com"}])
    state = resolve(tenant, DesiredState(), Directories(rescue=tree.directory(), users=users))
    reasons = {u.key: u.reason for u in state.unknown}
    assert "aaaa ('alice@contoso.com')" in reasons["alice@contoso.com"]
    assert "bbbb ('Alice@Contoso.com ', disabled)" in reasons["alice@contoso.com"]
    assert "is disabled" in reasons["bob@contoso.com"]  # a single disabled user gets no row either
    assert not [r for r in state.resources if isinstance(r, TechnicianSettings)]
    pin = "aaaaaaaa-0000-4000-8000-000000000000"
    users = {
        "alice@contoso.com": (
            DynamicsUser(pin, "alice@contoso.com"),
            DynamicsUser("bbbb", "alice@contoso.com", True),
        )
    }
    tenant = tenant_model(technicians=[{"user": "alice@contoso.com", "dynamics_user_id": pin}])
    state = resolve(tenant, DesiredState(), Directories(rescue=tree.directory(), users=users))
    assert [r.user_id for r in state.resources if isinstance(r, TechnicianSettings)] == [pin]
    stray = tenant_model(
        technicians=[
            {"user": "alice@contoso.com", "dynamics_user_id": "bbbbbbbb-0000-4000-8000-000000000000"}
        ]
    )
    state = resolve(stray, DesiredState(), Directories(rescue=tree.directory(), users=users))
    assert "dynamics_user_id: no Dynamics user with UPN 'alice@contoso.com' has the ID" in state.problems[0]


def test_unknown_technicians_become_unknown_changes_never_creates() -> None:
    tenant = tenant_model(technicians=[{"user": "alice@contoso.com"}])
    state = _resolve(tenant, CASE_2, {"alice@contoso.com": "u1"})
    plan = _diff(state, LiveState(listed={"technician", "rescue_technician"}))
    assert [type(c) for c in plan.changes] == [UnknownChange] and not any(
        isinstance(c, Create) for c in plan.changes
    )
    assert plan.incomplete


def _users(users: dict[str, str]) -> dict[str, tuple[DynamicsUser, ...]]:
    return {upn: (DynamicsUser(uid, upn),) for upn, uid in users.items()}


def _resolve(tenant: Tenant, tree: RescueTree, users: dict[str, str]) -> DesiredState:
    return resolve(tenant, DesiredState(), Directories(rescue=tree.directory(), users=_users(users)))


def _diff(desired: DesiredState, live: LiveState) -> Any:
    return diff_tenant(
        "t", desired, live, prune=Prune(), entra_tenant_id="x", desired_digest="d", safety=SafetySettings()
    )


def test_entra_members_whose_upns_differ_only_in_form_never_make_two_rows() -> None:
    from reconciler.diff.rules import EntraGroup, EntraUser

    group = "5d0b2f3e-8c1a-4e6b-9f70-1a2b3c4d5e01"
    tenant = tenant_model(technician_rules=[{"entra_group": group, "sso_id": "{local}"}])
    tree = _tree(_blocks(("10", "1", "Support")), techs=(("101", "10", "alice@contoso.com"),))
    members = EntraGroup((EntraUser("1", "alice@contoso.com"), EntraUser("2", "ali\u200bce@contoso.com")))
    state = resolve(
        tenant,
        DesiredState(),
        Directories(
            rescue=tree.directory(),
            users=_users({"alice@contoso.com": "u1"}),
            entra_groups={group: members},
        ),
    )
    assert not [r for r in state.resources if isinstance(r, TechnicianSettings)]
    assert "maps user" in state.problems[0] and "differently" in state.problems[0]


def test_a_technician_to_create_in_an_ambiguous_group_is_unknown_not_created() -> None:
    tenant = tenant_model(
        technicians=[{"user": "new@x.com", "create": {"group": "Support", "name": "New"}}],
        rescue_groups=[{"path": "Support"}],
    )
    state = _resolve(tenant, CASE_1, {"new@x.com": "u1"})
    (unknown,) = state.unknown
    assert "create.group 'Support' names 2 Rescue groups" in unknown.reason
    assert "node 10" in unknown.reason and "node 30" in unknown.reason
    assert not [r for r in state.resources if r.kind in ("technician", "rescue_technician")]
