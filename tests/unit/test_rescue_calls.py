"""The Rescue calls a tenant's declared kinds make and the least role each needs (issue 18 point
4), and the hierarchy's link and channel nodes, which are neither technicians nor groups (point 5).
Pure."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from tenant_models import tenant_model

from reconciler.engine.doctor_rescue import Caller, assigned_groups, caller
from reconciler.engine.needs import tenant_needs
from reconciler.errors import ProtocolError
from reconciler.kinds.needs import ADMINISTRATOR, MASTER_ADMINISTRATOR, TECHNICIAN, RescueCall
from reconciler.profile import effective_profile
from reconciler.providers.rescue.mapping import build_tree
from reconciler.providers.rescue.orphans import orphan_findings


def _calls(**declared: object) -> dict[RescueCall, list[str]]:
    model = tenant_model(**declared)
    return tenant_needs(model, effective_profile(model.profile)).rescue


def test_every_run_reads_the_hierarchy_and_nothing_else_when_nothing_rescue_is_declared() -> None:
    assert _calls() == {RescueCall("getHierarchy_v2"): ["every plan reads the Rescue hierarchy"]}


def test_a_top_level_group_needs_a_master_administrator_a_nested_one_its_parents_administrator() -> None:
    calls = _calls(rescue_groups=[{"path": "Support/Tier 2", "permissions": ["RemoteControl"]}])
    roles = {(c.method, c.group, c.new_group): c.role for c in calls}
    assert roles[("createGroup", "", "Support")] == MASTER_ADMINISTRATOR
    assert roles[("createGroup", "Support", "Support/Tier 2")] == ADMINISTRATOR
    assert roles[("setGroup_v2", "Support", "Support/Tier 2")] == ADMINISTRATOR
    assert (
        roles[("getGroup_v2", "Support/Tier 2", "")]
        == roles[("setGroup_v2", "Support/Tier 2", "")]
        == ADMINISTRATOR
    )
    assert calls[RescueCall("getGroup_v2", group="Support/Tier 2")] == [
        "rescue_groups[0] (Support/Tier 2): its permissions"
    ]
    # Without declared permissions nothing reads or sets them.
    assert not [c for c in _calls(rescue_groups=[{"path": "Support"}]) if c.method == "getGroup_v2"]


def test_technicians_need_their_sso_id_calls_on_their_node_and_creates_in_their_group() -> None:
    calls = _calls(
        technicians=[
            {"user": "alice@contoso.com", "sso_id": "alice"},
            {"user": "bob@contoso.com", "create": {"group": "Support", "name": "Bob"}},
            {"user": "carol@contoso.com"},
        ],
        technician_rules=[{"rescue_group": "Support/Tier 1", "sso_id": "{local}"}],
    )
    assert {c for c in calls if c.technician} == {
        RescueCall("getUser_v3", technician="alice@contoso.com"),
        RescueCall("setUser_v2", technician="alice@contoso.com"),
    }
    created = {c.method for c in calls if c.new_technician == "bob@contoso.com"}
    assert created == {"createUser", "setUser_v2", "deleteNode"}
    assert all(c.group == "Support" and c.role == ADMINISTRATOR for c in calls if c.new_technician)
    assert RescueCall("setUser_v2", group="Support/Tier 1") in calls
    assert not [c for c in calls if "carol" in (c.technician + c.new_technician)]  # no SSO ID: no call


# getHierarchy_v2 records as "NodeID ParentID Type Name|Email".
RECORDS = [
    "1 0 Root Co|",
    "2 1 Technicians Technicians|",
    "3 1 Administrators Administrators|",
    "4 3 Administrator Ops|ops@x.com",
    "5 3 AdministratorGroup Admins|",
    "6 5 Administrator Ada|ada@x.com",
    "20 2 TechnicianGroup Sales|",
    "10 2 TechnicianGroup Support|",
    "11 10 Technician Ann|ann@x.com",
    "12 10 AdministratorLink Ops|ops@x.com",
    "13 10 AdministratorGroupLink Admins|",
    "14 10 Channel Web chat|",
    # A link carrying a technician's e-mail (the administrator is also a technician).
    "15 10 AdministratorLink Ann|ann@x.com",
]


def _block(record: str) -> dict[str, str]:
    head, email = record.split("|")
    node, parent, kind, name = head.split(" ", 3)
    return {"NODEID": node, "PARENTID": parent, "TYPE": kind, "NAME": name, "EMAIL": email}


BLOCKS = [_block(r) for r in RECORDS]


def test_link_and_channel_nodes_are_neither_technicians_nor_groups_nor_orphans() -> None:
    tree = build_tree(BLOCKS)
    directory = tree.directory()
    assert [t.node_id for t in directory.technicians] == ["11"]
    assert [g.node_id for g in directory.groups] == ["10", "20"]
    assert tree.technicians_by_email == {"ann@x.com": "11"} and tree.duplicate_emails == []
    assert directory.technician("ann@x.com").one is not None
    assert orphan_findings(tree) == []  # a nameless channel or e-mail-less link is no unfinished create


def test_an_administrator_is_assigned_by_their_own_link_or_their_administrator_groups() -> None:
    tree = build_tree(BLOCKS)
    assert assigned_groups(tree, Caller("OPS@x.com", ADMINISTRATOR, "4")) == {"10"}  # own link, by e-mail
    assert assigned_groups(tree, Caller("ada@x.com", ADMINISTRATOR, "6")) == {"10"}  # group link "Admins"
    assert assigned_groups(tree, Caller("nobody@x.com", ADMINISTRATOR, "99")) == set()


class _Account:
    """getAccount and getUser_v3 as Rescue answers them (keys upper-cased by the parser)."""

    def __init__(self, admin_id: str, user_type: str = "") -> None:
        self.admin_id, self.user_type = admin_id, user_type

    async def get_account(self) -> dict[str, str]:
        return {"ACCOUNTID": "1", "ADMINID": self.admin_id, "TECHID": "7", "EMAIL": "a@x.com"}

    async def get_user(self, *, node: str) -> dict[str, str]:
        assert node == self.admin_id
        return {"NODEID": node, "TYPE": self.user_type}


@pytest.mark.parametrize(
    ("account", "role"),
    [
        (_Account("0"), TECHNICIAN),
        (_Account("5", "Administrator"), ADMINISTRATOR),
        (_Account("5", "MasterAdministrator"), MASTER_ADMINISTRATOR),
        (_Account("5", "Masteradministrator"), MASTER_ADMINISTRATOR),
    ],
)
def test_the_role_is_read_from_get_account_and_the_admin_nodes_type(account: Any, role: str) -> None:
    found = asyncio.run(caller(account))
    assert (found.role, found.email) == (role, "a@x.com")


def test_an_admin_node_of_another_type_is_not_taken_for_a_role() -> None:
    with pytest.raises(ProtocolError, match="answered TYPE 'Technician'"):
        asyncio.run(caller(_Account("5", "Technician")))  # type: ignore[arg-type]
