"""The Rescue emulator's caller roles, node model and strict seeds (issue 18 points 4, 5 and 8).

Sources (docs/sandbox.md, "Rescue caller roles and node model"): getAccount's AdminID / TechID,
the Admin Center guides (Master Administrators only for administrators and locked permissions;
Administrators only in assigned technician groups), createGroup's INVALIDPARAM_PARENT,
deleteNode's INVALID_DELETE, getHierarchy_v2's node types and "A Rescue account holder can have
multiple node IDs". Handlers are called as the HTTP layer calls them (method table + render).
"""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from rescue_sandbox.errors import InputError
from rescue_sandbox.rescue.api import METHODS, render
from rescue_sandbox.rescue.model import RescueCompany
from rescue_sandbox.rescue.seeding import build_company
from rescue_sandbox.rescue.status import RescueStatus
from rescue_sandbox.seed import check_seed

SEED: dict[str, Any] = {
    "company_id": "555",
    "authcode": "master-token",
    "admin": {"email": "owner@x.com", "name": "Owner"},
    "groups": [
        {
            "name": "Support",
            "node_id": 100,
            "permissions": ["RemoteControl", "RemoteView"],
            "locked_permissions": ["RemoteControl"],
            "technicians": [{"email": "tina@x.com", "node_id": 101, "authcode": "tech-code"}],
            "channels": [{"name": "Web chat", "node_id": 102}],
            "children": [{"name": "Tier 2", "node_id": 110}],
        },
        {
            "name": "Sales",
            "node_id": 200,
            "technicians": [
                {"email": "owner@x.com", "same_holder": True, "node_id": 201},
                {"email": "sam@x.com", "node_id": 202},
            ],
        },
    ],
    "administrators": [
        {"email": "adam@x.com", "node_id": 300, "authcode": "admin-code", "groups": ["Support"]}
    ],
}


def company() -> RescueCompany:
    built, _ = build_company("x", copy.deepcopy(SEED))
    return built


def call(rescue: RescueCompany, method: str, authcode: str, **params: Any) -> str:
    """The reply text, as the HTTP layer renders it."""
    try:
        return render("OK", METHODS[method.lower()](rescue, {"authcode": authcode, **params}))
    except RescueStatus as status:
        return render(status.token)


def token(reply: str) -> str:
    return reply.split("\n", 1)[0]


def fields(reply: str) -> dict[str, str]:
    return dict(line.split(":", 1) for line in reply.split("\n\n")[1].split("\n"))


ADMIN_CENTER_CALLS = [
    ("getHierarchy_v2", {}),
    ("getGroup_v2", {"node": "100"}),
    ("getUser_v3", {"node": "202"}),
    ("createGroup", {"parent": "100"}),
    ("setGroup_v2", {"node": "100", "name": "Support", "status": "Enabled"}),
    ("createUser", {"parent": "100"}),
    ("setUser_v2", {"node": "202", "name": "Sam", "email": "sam@x.com", "status": "Enabled"}),
    ("deleteNode", {"node": "202"}),
    ("moveNode", {"node": "202", "targetnode": "100"}),
]


@pytest.mark.parametrize(("method", "params"), ADMIN_CENTER_CALLS)
def test_a_technicians_authcode_has_no_administration_center(method: str, params: dict[str, str]) -> None:
    rescue = company()
    before = len(rescue.nodes)
    assert token(call(rescue, method, "tech-code", **params)) == "NOTLOGGEDIN"
    assert len(rescue.nodes) == before and 202 in rescue.nodes


def test_get_account_says_who_the_authcode_is() -> None:
    rescue = company()
    holder = next(n for n in rescue.nodes.values() if n.account_holder)
    assert fields(call(rescue, "getAccount", "tech-code")) == {
        "AccountID": "555",
        "Organization": "X",
        "AdminID": "0",
        "TechID": "101",
        "Email": "tina@x.com",
    }
    assert (
        fields(call(rescue, "getAccount", "admin-code"))["AdminID"],
        fields(call(rescue, "getAccount", "admin-code"))["TechID"],
    ) == ("300", "0")
    master = fields(call(rescue, "getAccount", "master-token"))
    assert (master["AdminID"], master["TechID"]) == (str(holder.node_id), "201")
    assert fields(call(rescue, "getUser_v3", "admin-code", node="300"))["TYPE"] == "Administrator"
    assert token(call(rescue, "getAccount", "no-such-code")) == "INVALID_SECRETAUTHCODE"


def test_an_administrator_works_only_in_assigned_groups() -> None:
    rescue = company()
    assert (
        token(call(rescue, "createGroup", "admin-code", parent=str(rescue.technicians_id)))
        == "INVALIDPARAM_PARENT"
    )
    assert token(call(rescue, "createGroup", "admin-code", parent="200")) == "INVALIDPARAM_PARENT"
    assert token(call(rescue, "createGroup", "admin-code", parent="100")) == "OK"
    assert token(call(rescue, "createUser", "admin-code", parent="200")) == "INVALIDPARAM_PARENT"
    assert token(call(rescue, "createUser", "admin-code", parent="110")) == "OK"
    assert token(call(rescue, "getGroup_v2", "admin-code", node="200")) == "INVALIDPARAM_NODE"
    assert token(call(rescue, "getUser_v3", "admin-code", node="202")) == "INVALIDPARAM_NODE"
    assert token(call(rescue, "setGroup_v2", "admin-code", node="200", name="S", status="Enabled")) == (
        "INVALIDPARAM_NODE"
    )
    assert token(call(rescue, "deleteNode", "admin-code", node="202")) == "INVALID_DELETE"
    assert (
        token(call(rescue, "deleteNode", "admin-code", node="100")) == "INVALID_DELETE"
    )  # the assigned group
    assert token(call(rescue, "moveNode", "admin-code", node="101", targetnode="200")) == "INVALID_MOVE"
    assert token(call(rescue, "moveNode", "admin-code", node="101", targetnode="110")) == "OK"
    assert token(call(rescue, "deleteNode", "admin-code", node="101")) == "OK"
    assert 202 in rescue.nodes and 101 not in rescue.nodes


def test_only_a_master_administrator_changes_locked_permissions() -> None:
    rescue = company()
    base = {"node": "100", "name": "Support", "status": "Enabled"}
    kept = call(
        rescue,
        "setGroup_v2",
        "admin-code",
        **base,
        permission="RemoteControl,SendFile",
        lockedpermission="RemoteControl",
    )
    assert token(kept) == "OK"
    unlock = call(rescue, "setGroup_v2", "admin-code", **base, permission="RemoteControl")
    assert token(unlock) == "INVALIDPARAM_LOCKEDPERMISSION"
    flip = call(
        rescue, "setGroup_v2", "admin-code", **base, permission="SendFile", lockedpermission="RemoteControl"
    )
    assert token(flip) == "INVALIDPARAM_PERMISSION"
    assert rescue.nodes[100].permissions == ["RemoteControl", "SendFile"]
    assert token(call(rescue, "setGroup_v2", "master-token", **base, permission="SendFile")) == "OK"
    assert rescue.nodes[100].locked_permissions == []


def test_permission_names_are_taken_only_as_the_reference_spells_them() -> None:
    rescue = company()
    base = {"node": "200", "name": "Sales", "status": "Enabled"}
    assert token(call(rescue, "setGroup_v2", "master-token", **base, permission="remotecontrol")) == (
        "INVALIDPARAM_PERMISSION"
    )
    assert token(call(rescue, "setGroup_v2", "master-token", **base, lockedpermission="REMOTEVIEW")) == (
        "INVALIDPARAM_LOCKEDPERMISSION"
    )
    assert token(call(rescue, "setGroup_v2", "master-token", **base, permission="RemoteControl")) == "OK"


def test_the_hierarchy_has_links_channels_and_an_account_holder_on_several_nodes() -> None:
    rescue = company()
    body = call(rescue, "getHierarchy_v2", "master-token")
    nodes = [dict(line.split(":", 1) for line in b.split("\n")) for b in body.split("\n\n")[1:-1]]
    by_type: dict[str, list[dict[str, str]]] = {}
    for node in nodes:
        by_type.setdefault(node["Type"], []).append(node)
    assert [(n["ParentID"], n["Email"]) for n in by_type["AdministratorLink"]] == [("100", "adam@x.com")]
    assert [(n["NodeID"], n["ParentID"], n["Name"]) for n in by_type["Channel"]] == [
        ("102", "100", "Web chat")
    ]
    owner = sorted(n["Type"] for n in nodes if n["Email"] == "owner@x.com")
    assert owner == ["Masteradministrator", "Technician"]
    # The holder's second node keeps the e-mail; a third user may not take it.
    params = {
        "node": "202",
        "name": "Sam",
        "email": "owner@x.com",
        "status": "Enabled",
        "mobileaddon": "false",
    }
    assert token(call(rescue, "setUser_v2", "master-token", **params, rpataddon="false")) == (
        "INVALIDPARAM_EMAIL_ALREADY_IN_USE"
    )
    params |= {"node": "201", "name": "Owner (tech)"}
    assert token(call(rescue, "setUser_v2", "master-token", **params, rpataddon="false")) == "OK"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: s.update(solution_schema={}), "x.rescue: unknown key 'solution_schema'"),
        (lambda s: s["groups"][0].update(technician=[]), "groups[0]: unknown key 'technician'"),
        (lambda s: s["groups"][0]["technicians"][0].update(sso="t"), "technicians[0]: unknown key 'sso'"),
        (
            lambda s: s["groups"][0]["channels"][0].update(email="c@x.com"),
            "channels[0]: unknown key 'email'",
        ),
        (
            lambda s: s["administrators"][0].update(group=["Support"]),
            "administrators[0]: unknown key 'group'",
        ),
        (lambda s: s["admin"].update(authcode="a"), "rescue.admin: unknown key 'authcode'"),
        (lambda s: s["administrators"][0].update(groups=["Nowhere"]), "no seeded technician group 'Nowhere'"),
        (lambda s: s["administrators"][0].update(role="owner"), "role: one of administrator"),
        (lambda s: s["groups"][1]["technicians"][0].pop("same_holder"), "duplicate Rescue email owner@x.com"),
        (
            lambda s: s["groups"][1]["technicians"][1].update(same_holder=True, email="nobody@x.com"),
            "same_holder: no user seeded before it has the email nobody@x.com",
        ),
        (
            lambda s: s["groups"][1].update(locked_permissions=["remotecontrol"]),
            "not a setGroup_v2 permission",
        ),
    ],
)
def test_a_seed_key_or_value_the_format_does_not_know_is_an_error(change: Any, message: str) -> None:
    seed = copy.deepcopy(SEED)
    change(seed)
    with pytest.raises(
        InputError,
        match=re.escape(message),
    ):
        build_company("x", seed)


def test_a_misplaced_key_of_a_seed_tenant_is_an_error() -> None:
    tenant = {
        "identity": {
            "tenant_id": "6c1f4d5e-2a7b-4c1d-9e3f-0a1b2c3d4e5f",
            "client_id": "6c1f4d5e-2a7b-4c1d-9e3f-0a1b2c3d4e50",
        },
        "dataverse": {"org_url": "https://x.crm.dynamics.com"},
        "rescue": {"company_id": "1"},
    }
    check_seed({"tenants": {"x": tenant}, "description": "a note"})
    with pytest.raises(
        InputError,
        match=r"seed: tenants\.x: unknown key 'solution_schemas'; did you mean 'solution_schema'\?",
    ):
        check_seed({"tenants": {"x": {**tenant, "solution_schemas": {}}}})
    with pytest.raises(InputError, match=r"seed: unknown key 'tenant'; did you mean 'tenants'\?"):
        check_seed({"tenants": {"x": tenant}, "tenant": {}})


def test_saved_state_keeps_roles_links_channels_and_shared_emails() -> None:
    # Tina's second node in Sales, then her first one gone: the second holds the e-mail now.
    seed = copy.deepcopy(SEED)
    seed["groups"][1]["technicians"].append({"email": "tina@x.com", "same_holder": True, "node_id": 203})
    rescue, _ = build_company("x", seed)
    assert token(call(rescue, "deleteNode", "master-token", node="101")) == "OK"
    assert rescue.user_by_email("tina@x.com").node_id == 203  # type: ignore[union-attr]
    restored = RescueCompany.restore(rescue.snapshot())
    body = call(restored, "getHierarchy_v2", "master-token")
    assert body == call(rescue, "getHierarchy_v2", "master-token")
    assert restored.user_by_email("owner@x.com").type == "Masteradministrator"  # type: ignore[union-attr]
    assert token(call(restored, "getHierarchy_v2", "admin-code")) == "OK"
    assert token(call(restored, "createGroup", "admin-code", parent="200")) == "INVALIDPARAM_PARENT"
