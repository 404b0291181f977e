"""Rescue emulator conformance, over raw HTTPS, from the documented requests and replies.

Sources: reference/rescue.md and the Rescue API pages it cites (requestAuthCode, getHierarchy_v2,
getUser_v3, setUser_v2, createGroup, moveNode, deleteNode, requestPINCode ...).
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from rescue_sandbox import SandboxHandle

pytestmark = pytest.mark.integration


def call(
    client: httpx.Client, handle: SandboxHandle, method: str, tenant: str = "contoso", **params: Any
) -> str:
    info = handle.info["tenants"][tenant]
    params.setdefault("authcode", info["rescue_authcode"])
    reply = client.get(f"{info['rescue_url']}/{method}.aspx", params=params)
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("text/plain")
    return reply.text


def fields(body: str) -> dict[str, str]:
    """The one block of a single-record reply, read as the reference describes."""
    blocks = body.split("\n\n")[1:-1]
    assert len(blocks) == 1, body
    return dict(line.split(":", 1) for line in blocks[0].split("\n"))


def hierarchy(
    client: httpx.Client, handle: SandboxHandle, tenant: str = "contoso", **params: Any
) -> list[dict[str, str]]:
    body = call(client, handle, "getHierarchy_v2", tenant, **params)
    assert body.startswith("OK\n\n") and body.endswith("\n\n")
    nodes = []
    # Exactly the singer-io/tap-logmeinrescue parse: split on blank lines, one "k:v" per line.
    for node in body.split("\n\n")[1:-1]:
        item = {}
        for field in node.split("\n"):
            (k, v) = field.split(":")
            item[k] = v
        nodes.append(item)
    return nodes


def technician(nodes: list[dict[str, str]], email: str) -> dict[str, str]:
    return next(n for n in nodes if n["Email"] == email)


def test_hierarchy_survives_the_singer_io_parse_and_holds_the_tree(
    client: httpx.Client, demo: SandboxHandle
) -> None:
    nodes = hierarchy(client, demo)
    by_id = {n["NodeID"]: n for n in nodes}
    assert nodes[0]["Type"] == "Root"
    assert {n["Type"] for n in nodes} >= {"Root", "Masteradministrators", "Technicians", "TechnicianGroup"}
    alice = technician(nodes, "alice@contoso.com")
    assert alice == {
        "NodeID": "41001",
        "ParentID": "41110",
        "Name": "Alice Adams",
        "Email": "alice@contoso.com",
        "Description": "",
        "Status": "Online",
        "Type": "Technician",
    }
    assert by_id["41110"]["Name"] == "Tier 1" and by_id["41110"]["ParentID"] == "41100"
    assert "ssoid" not in {k.lower() for k in alice}  # no SSO ID in the hierarchy


def test_hierarchy_options_filter_offline_and_subtree(client: httpx.Client, demo: SandboxHandle) -> None:
    online = hierarchy(client, demo, filteroffline="true")
    emails = {n["Email"] for n in online if n["Type"] == "Technician"}
    assert emails == {"alice@contoso.com", "carol.jones@contoso.com", "erin@contoso.com"}
    assert any(n["Type"] == "TechnicianGroup" for n in online)  # groups are never filtered
    subtree = hierarchy(client, demo, isnode="true", node="41120")
    assert [n["NodeID"] for n in subtree] == ["41120", "41004", "41005"]


def test_get_user_v3_by_node_and_by_email(client: httpx.Client, demo: SandboxHandle) -> None:
    by_node = fields(call(client, demo, "getUser_v3", node="41003"))
    assert by_node == {
        "NODEID": "41003",
        "NAME": "Carol Jones",
        "NICK": "",
        "EMAIL": "carol.jones@contoso.com",
        "SSOID": "carol",
        "DESCRIPTION": "",
        "TYPE": "Technician",
        "HASMOBILEADDON": "False",
        "HASRPATADDON": "False",
        "ISACCOUNTHOLDER": "False",
        "STATUS": "Away",
    }
    assert fields(call(client, demo, "getUser_v3", email="CAROL.JONES@contoso.com")) == by_node


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"node": "999999"}, "INVALIDPARAM_NODE"),
        ({"node": "41110"}, "INVALIDPARAM_NODE"),  # a group is not a user
        ({"email": "nobody@contoso.com"}, "INVALIDPARAM_EMAIL"),
        ({"node": "41001", "email": "alice@contoso.com"}, "INVALID_EMAILANDNODEIDBOTHSPECIFIED"),
        ({"node": "41001", "authcode": "not-a-code"}, "INVALID_SECRETAUTHCODE"),
        ({"node": "41001", "authcode": ""}, "NOTLOGGEDIN"),
    ],
)
def test_errors_are_status_tokens_on_http_200(
    client: httpx.Client, demo: SandboxHandle, params: dict[str, str], status: str
) -> None:
    assert call(client, demo, "getUser_v3", **params) == f"{status}\n\n"


def test_unknown_method_and_company_are_404(client: httpx.Client, demo: SandboxHandle) -> None:
    info = demo.info["tenants"]["contoso"]
    assert client.get(f"{info['rescue_url']}/getGroupExportSettings.aspx").status_code == 404
    assert client.get(f"{demo.url}/rescue/9999999/API/getUser_v3.aspx").status_code == 404
    assert client.get(f"{info['rescue_url']}/getUser_v3").status_code == 404


def test_post_form_and_case_insensitive_names(client: httpx.Client, demo: SandboxHandle) -> None:
    info = demo.info["tenants"]["contoso"]
    reply = client.post(
        f"{info['rescue_url']}/GETUSER_V3.aspx", data={"Node": "41002", "AuthCode": info["rescue_authcode"]}
    )
    assert reply.status_code == 200 and fields(reply.text)["EMAIL"] == "bob@contoso.com"


def test_groups_create_set_get_with_hierarchy_rules(client: httpx.Client, demo: SandboxHandle) -> None:
    roots = {n["Type"]: n["NodeID"] for n in hierarchy(client, demo)}
    body = call(client, demo, "createGroup", parent=roots["Technicians"])
    status, new_id = body.split("\n\n")[:2]
    assert status == "OK" and new_id.isdigit()
    assert (
        call(
            client,
            demo,
            "setGroup_v2",
            node=new_id,
            name="Escalations",
            status="Enabled",
            description="Level 3",
            permission="RemoteControl,SendFile",
            lockedpermission="SendFile",
        )
        == "OK\n\n"
    )
    group = fields(call(client, demo, "getGroup_v2", node=new_id))
    assert group["NAME"] == "Escalations" and group["TYPE"] == "TechnicianGroup"
    assert group["PERMISSIONS"] == "RemoteControl, SendFile" and group["LOCKEDPERMISSIONS"] == "SendFile"
    assert group["ISENABLED"] == "True" and "RPATCONCURRENTLIMIT" in group
    assert "RPATCONCURRENTLIMIT" not in fields(call(client, demo, "getGroup", node=new_id))
    # Technician groups hold technicians and groups, never the other way round.
    assert call(client, demo, "createGroup", parent="41001") == "INVALIDPARAM_PARENT\n\n"
    assert call(client, demo, "createUser", parent=roots["Technicians"]) == "INVALIDPARAM_PARENT\n\n"
    assert call(client, demo, "setGroup", node=new_id, name="", status="Enabled") == "INVALIDPARAM_NAME\n\n"
    assert call(client, demo, "setGroup", node=new_id, name="x", status="On") == "INVALIDPARAM_STATUS\n\n"
    assert call(client, demo, "setGroup", node="41001", name="x", status="Enabled") == "INVALIDPARAM_NODE\n\n"
    assert call(client, demo, "deleteNode", node=new_id) == "OK\n\n"


def test_create_user_then_set_user_v2_round_trips_every_field(
    client: httpx.Client, demo: SandboxHandle
) -> None:
    body = call(client, demo, "createUser", parent="41120")
    node = body.split("\n\n")[1]
    written = {
        "node": node,
        "name": "Frank Fox",
        "nick": "ff",
        "email": "frank.fox@contoso.com",
        "ssoid": "ffox",
        "status": "Enabled",
        "description": "night shift",
        "mobileaddon": "True",
        "rpataddon": "False",
    }
    assert call(client, demo, "setUser_v2", **written) == "OK\n\n"
    read = fields(call(client, demo, "getUser_v3", node=node))
    assert read["NAME"] == "Frank Fox" and read["NICK"] == "ff" and read["EMAIL"] == "frank.fox@contoso.com"
    assert read["SSOID"] == "ffox" and read["DESCRIPTION"] == "night shift"
    assert read["HASMOBILEADDON"] == "True" and read["HASRPATADDON"] == "False"
    assert read["STATUS"] == "Offline" and read["TYPE"] == "Technician"
    # Read-modify-write: feed what was read back in, changing one field; the rest survives.
    again = written | {"ssoid": "frank"}
    assert call(client, demo, "setUser_v2", **again) == "OK\n\n"
    assert fields(call(client, demo, "getUser_v3", node=node)) == read | {"SSOID": "frank"}
    # An optional field left out is stored empty: clients must send every field.
    partial = {k: v for k, v in again.items() if k not in ("nick", "description")}
    assert call(client, demo, "setUser_v2", **partial) == "OK\n\n"
    after = fields(call(client, demo, "getUser_v3", node=node))
    assert after["NICK"] == "" and after["DESCRIPTION"] == "" and after["SSOID"] == "frank"
    # Disabled shows as the status.
    assert call(client, demo, "setUser_v2", **(again | {"status": "Disabled"})) == "OK\n\n"
    assert fields(call(client, demo, "getUser_v3", node=node))["STATUS"] == "Disabled"
    assert call(client, demo, "deleteNode", node=node) == "OK\n\n"
    assert call(client, demo, "getUser_v3", node=node) == "INVALIDPARAM_NODE\n\n"


@pytest.mark.parametrize(
    ("drop", "changes", "status"),
    [
        ("email", {}, "INVALIDPARAM_EMAIL"),
        (None, {"email": "not-an-email"}, "INVALIDPARAM_EMAIL"),
        (None, {"email": "alice@contoso.com"}, "INVALIDPARAM_EMAIL_ALREADY_IN_USE"),
        ("name", {}, "INVALIDPARAM_NAME"),
        ("status", {}, "INVALIDPARAM_STATUS"),
        ("mobileaddon", {}, "INVALIDPARAM_MOBILEADDON"),
        ("rpataddon", {}, "INVALIDPARAM_RPATADDON"),
        (None, {"node": "41110"}, "INVALIDPARAM_NODE"),
    ],
)
def test_set_user_v2_enforces_required_parameters(
    client: httpx.Client, demo: SandboxHandle, drop: str | None, changes: dict[str, str], status: str
) -> None:
    params = {
        "node": "41002",
        "name": "Bob Baker",
        "email": "bob@contoso.com",
        "ssoid": "bob",
        "status": "Enabled",
        "mobileaddon": "False",
        "rpataddon": "False",
    } | changes
    if drop:
        params.pop(drop)
    assert call(client, demo, "setUser_v2", **params) == f"{status}\n\n"
    assert fields(call(client, demo, "getUser_v3", node="41002"))["EMAIL"] == "bob@contoso.com"


def test_set_user_v1_takes_addons(client: httpx.Client, demo: SandboxHandle) -> None:
    base = {
        "node": "41002",
        "name": "Bob Baker",
        "email": "bob@contoso.com",
        "ssoid": "bob",
        "status": "Enabled",
    }
    assert call(client, demo, "setUser", **base) == "INVALIDPARAM_MOBILEADDON\n\n"
    assert call(client, demo, "setUser", **base, addons="False") == "OK\n\n"


def test_move_node_accepts_both_parameter_spellings(client: httpx.Client, demo: SandboxHandle) -> None:
    group = call(client, demo, "createGroup", parent="41100").split("\n\n")[1]
    user = call(client, demo, "createUser", parent="41120").split("\n\n")[1]
    assert call(client, demo, "moveNode", node=user, targetnode=group) == "OK\n\n"
    assert fields(call(client, demo, "getUser_v3", node=user))["NODEID"] == user
    assert technician_parent(client, demo, user) == group
    assert call(client, demo, "moveNode", nodeID=user, targetNodeID="41120") == "OK\n\n"
    assert technician_parent(client, demo, user) == "41120"
    assert call(client, demo, "moveNode", node=user, targetnode="41000000") == "INVALIDPARAM_TARGETNODE\n\n"
    assert call(client, demo, "moveNode", node=user, targetnode="41001") == "INVALID_MOVE\n\n"
    assert call(client, demo, "moveNode", node="41100", targetnode=group) == "INVALID_MOVE\n\n"  # into itself
    for node in (user, group):
        assert call(client, demo, "deleteNode", node=node) == "OK\n\n"


def technician_parent(client: httpx.Client, demo: SandboxHandle, node: str) -> str:
    return next(n["ParentID"] for n in hierarchy(client, demo) if n["NodeID"] == node)


def test_delete_node_rules(client: httpx.Client, demo: SandboxHandle) -> None:
    roots = {n["Type"]: n["NodeID"] for n in hierarchy(client, demo)}
    assert call(client, demo, "deleteNode", node=roots["Technicians"]) == "INVALID_DELETE\n\n"
    assert call(client, demo, "deleteNode", node=roots["Masteradministrator"]) == "INVALID_DELETE\n\n"
    assert call(client, demo, "deleteNode", node="12345678") == "INVALIDPARAM_NODE\n\n"


def test_request_authcode_replaces_the_previous_one(
    client: httpx.Client, demo: SandboxHandle, passwords: dict[str, str]
) -> None:
    admin_password = passwords["admin"]
    info = demo.info["tenants"]["contoso"]
    url = f"{info['rescue_url']}/requestAuthCode.aspx"
    first = fields(client.get(url, params={"email": "rescue-admin@contoso.com", "pwd": admin_password}).text)
    code = first["AUTHCODE"]
    assert fields(call(client, demo, "getUser_v3", node="41001", authcode=code))["NODEID"] == "41001"
    second = fields(client.get(url, params={"email": "rescue-admin@contoso.com", "pwd": admin_password}).text)
    assert second["AUTHCODE"] != code
    assert call(client, demo, "getUser_v3", node="41001", authcode=code) == "INVALID_SECRETAUTHCODE\n\n"
    # The Admin Center API token (the seed's authcode) is not affected.
    assert call(client, demo, "getUser_v3", node="41001").startswith("OK\n\n")
    assert client.get(url, params={"email": "rescue-admin@contoso.com", "pwd": "wrong"}).text == "INVALID\n\n"


def test_request_authcode_sso_and_pin_codes(client: httpx.Client, demo: SandboxHandle) -> None:
    info = demo.info["tenants"]["contoso"]
    sso_url = f"{info['rescue_url']}/requestAuthCodeSSO.aspx"
    password = info["secrets"]["env:CONTOSO_RESCUE_SSO_PASSWORD"]
    assert client.get(sso_url, params={"ssoid": "alice", "pwd": password, "company": "12a"}).text == (
        "INVALIDPARAM_COMPANY\n\n"
    )
    assert (
        client.get(sso_url, params={"ssoid": "alice", "pwd": "nope", "company": "1234567"}).text
        == "INVALID\n\n"
    )
    alice = fields(client.get(sso_url, params={"ssoid": "alice", "pwd": password, "company": "1234567"}).text)
    pin = fields(call(client, demo, "requestPINCode", authcode=alice["AUTHCODE"], cfield0="Case 42"))
    assert len(pin["PINCODE"]) == 6 and pin["PINCODE"].isdigit()
    # One PIN per second per technician.
    assert call(client, demo, "requestPINCode", authcode=alice["AUTHCODE"]) == "POLLRATEEXCEEDED\n\n"
    # Bob is offline: a console is required unless notechconsole=1.
    bob = fields(client.get(sso_url, params={"ssoid": "bob", "pwd": password, "company": "1234567"}).text)
    assert call(client, demo, "requestPINCode", authcode=bob["AUTHCODE"]) == "NOTECHCONSOLERUNNING\n\n"
    assert call(client, demo, "requestPINCode", authcode=bob["AUTHCODE"], notechconsole="1").startswith(
        "OK\n\n"
    )
    # The account holder is no technician.
    assert call(client, demo, "requestPINCode") == "NOTTECHNICIAN\n\n"
    time.sleep(1.05)
    assert call(client, demo, "requestPINCode", authcode=alice["AUTHCODE"]).startswith("OK\n\nPINCODE:")


def test_technician_password_login(
    client: httpx.Client, demo: SandboxHandle, passwords: dict[str, str]
) -> None:
    info = demo.info["tenants"]["contoso"]
    reply = client.post(
        f"{info['rescue_url']}/requestAuthCode.aspx",
        data={"email": "alice@contoso.com", "pwd": passwords["alice"]},
    )
    assert fields(reply.text)["AUTHCODE"]


def test_no_api_exposes_the_group_export_settings(client: httpx.Client, demo: SandboxHandle) -> None:
    group = fields(call(client, demo, "getGroup_v2", node="41110"))
    assert not any("EXPORT" in k or "URL" in k for k in group)
    assert "logmeinrescue.com/api/integration" not in call(client, demo, "getHierarchy_v2")


def test_each_set_group_version_takes_only_the_permissions_it_documents(
    client: httpx.Client, demo: SandboxHandle
) -> None:
    base = {"node": "41120", "name": "Tier 2", "status": "Enabled"}
    v1_only, v2_only = "TechEndSessionSurvey", "UnattendedAccess"
    assert call(client, demo, "setGroup", **base, permission=v2_only) == "INVALIDPARAM_PERMISSION\n\n"
    assert call(client, demo, "setGroup_v2", **base, permission=v1_only) == "INVALIDPARAM_PERMISSION\n\n"
    assert call(client, demo, "setGroup_v2", **base, lockedpermission="Teleport") == (
        "INVALIDPARAM_LOCKEDPERMISSION\n\n"
    )
    assert call(client, demo, "setGroup_v2", **base, permission=f"RemoteControl,{v2_only}") == "OK\n\n"
    assert (
        fields(call(client, demo, "getGroup_v2", node="41120"))["PERMISSIONS"]
        == "RemoteControl, UnattendedAccess"
    )
    # `permission` left out: stored empty (what the real service does is not documented).
    assert call(client, demo, "setGroup_v2", **base) == "OK\n\n"
    assert fields(call(client, demo, "getGroup_v2", node="41120"))["PERMISSIONS"] == ""


def test_values_are_written_unescaped(client: httpx.Client, demo: SandboxHandle) -> None:
    """A line break in a description breaks the framing, as the stricter reading of the real API."""
    base = {"node": "41110", "name": "Tier 1", "status": "Enabled"}
    assert call(client, demo, "setGroup_v2", **base, description="a: b\nStatus:Online") == "OK\n\n"
    body = call(client, demo, "getHierarchy_v2")
    assert "Description:a: b\nStatus:Online\nStatus:Offline\nType:TechnicianGroup" in body
    assert call(client, demo, "setGroup_v2", **base) == "OK\n\n"  # as seeded, for the module's other tests
