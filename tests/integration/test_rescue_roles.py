"""Issue 18 points 4 and 5 end to end: the Rescue account's role, link and channel nodes, and one
e-mail on several technician nodes.

A technician's authcode: doctor names the role every needed call wants, and apply fails loudly
(no write). An Administrator: doctor names each declared group outside their groups and each
locked permission the files would change; apply's refused write is a failed change, never
silence. Link and channel nodes change no plan and are never deleted. An e-mail two technician
nodes hold (one account holder, several node IDs) is Unknown naming both.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from rescue_sandbox import SandboxHandle

from .conftest import EXAMPLE_TENANTS, control, invoke
from .test_ambiguity import _changes, _contoso, _fast_clients, _plan, _seed, sandbox_of
from .test_apply_support import actionable, log_entries, plan_json, writes

pytestmark = pytest.mark.integration
__all__ = ["_fast_clients", "sandbox_of"]  # fixtures used by name below

PERMISSIONS = ["RemoteControl", "SendFile"]
TIER_1, TIER_2 = 41110, 41120


def _groups(seed: dict[str, Any]) -> dict[str, dict[str, Any]]:
    support = seed["tenants"]["contoso"]["rescue"]["groups"][-1]  # the demo's Support, listed last
    return {"Support": support, **{f"Support/{g['name']}": g for g in support["children"]}}


def _with_authcode(seed: dict[str, Any], code: str) -> dict[str, Any]:
    """contoso's Rescue authcode is ``code`` (a seeded user's own authcode: the tool acts as them)."""
    seed["tenants"]["contoso"]["rescue"]["authcode"] = code
    return seed


def _doctor(tenants: Path, handle: SandboxHandle) -> tuple[int, dict[str, dict[str, str]]]:
    run = invoke("doctor", str(tenants), "--sandbox", str(handle.state_dir), "--format", "json")
    [report] = plan_json(run.stdout)["tenants"]
    return run.code, {c["name"]: c for c in report["checks"]}


def _declared(root: Path) -> Path:
    return _contoso(
        root,
        technicians=[{"user": "alice@contoso.com", "sso_id": "alice-new"}],
        rescue_groups=[{"path": "Support/Tier 2", "permissions": PERMISSIONS}, {"path": "Escalations"}],
    )


def test_a_technicians_authcode_doctor_names_the_roles_and_apply_fails_loudly(
    sandbox_of: Any, tmp_path: Path
) -> None:
    seed = _with_authcode(_seed(), "tech-code")
    _groups(seed)["Support/Tier 1"]["technicians"][0]["authcode"] = "tech-code"  # alice's own authcode
    handle = sandbox_of(seed)
    tenants = _declared(tmp_path)
    control(handle, "DELETE", "/requests")
    code, checks = _doctor(tenants, handle)
    assert code == 1, checks
    admin = checks["rescue role: Administrator"]
    assert admin["status"] == "fail" and "'alice@contoso.com' is a Technician" in admin["detail"]
    for method in ("getGroup_v2", "getHierarchy_v2", "getUser_v3", "setGroup_v2", "setUser_v2"):
        assert method in admin["detail"], admin
    master = checks["rescue role: Master Administrator"]
    assert "createGroup need a Master Administrator" in master["detail"]
    assert "rescue_groups[1] (Escalations): create Escalations if missing" in master["detail"]
    assert "Generate API token" in master["fix"] and "requestAuthCode" in admin["fix"]
    assert checks["rescue"]["status"] == "fail" and "NOTLOGGEDIN" in checks["rescue"]["detail"]
    assert {e["template"] for e in log_entries(handle, "contoso") if e["service"] == "rescue"} <= {
        "getAccount.aspx",
        "getHierarchy_v2.aspx",
        "login.aspx",  # the report sign-in health uses, checked with its own credentials
    }

    control(handle, "DELETE", "/requests")
    run = invoke("apply", str(tenants), "--sandbox", str(handle.state_dir), "--auto-approve")
    assert run.code != 0
    assert "NOTLOGGEDIN" in run.output and "technician's authcode" in run.output, run.output
    assert writes(handle, "contoso") == []


def test_an_administrator_is_checked_against_assigned_groups_and_locked_permissions(
    sandbox_of: Any, tmp_path: Path
) -> None:
    seed = _with_authcode(_seed(), "admin-code")
    seed["tenants"]["contoso"]["rescue"]["administrators"] = [
        {
            "email": "ops@contoso.com",
            "name": "Ops",
            "node_id": 41500,
            "authcode": "admin-code",
            "groups": ["Support/Tier 1"],
        }
    ]
    tenants = _contoso(
        tmp_path,
        technicians=[{"user": "alice@contoso.com", "sso_id": "alice"}],
        rescue_groups=[{"path": "Support/Tier 2", "permissions": PERMISSIONS}],
    )
    unassigned = sandbox_of(seed)
    code, checks = _doctor(tenants, unassigned)
    assert code == 1
    assert "rescue role: the technician group Support/Tier 2" in checks, checks
    outside = checks["rescue role: the technician group Support/Tier 2"]
    assert "'ops@contoso.com' is an Administrator not assigned to" in outside["detail"]
    assert "getGroup_v2, setGroup_v2" in outside["detail"] and "assign the administrator" in outside["fix"]
    assert not [n for n in checks if "alice" in n]  # alice's group (Tier 1) is assigned
    # The plan cannot read Tier 2's permissions: Unknown, saying why Rescue may refuse it.
    code, plan, _ = _plan(tenants, unassigned)
    tier_2 = _changes(plan)["rescue_group:Support/Tier 2"]
    assert code == 3 and tier_2["op"] == "unknown", plan
    assert "INVALIDPARAM_NODE" in tier_2["reason"] and "reconcile doctor" in tier_2["reason"]

    # Assigned to Support (so Tier 2 below it), but Tier 2 locks RemoteControl, which is off.
    assigned = copy.deepcopy(seed)
    assigned["tenants"]["contoso"]["rescue"]["administrators"][0]["groups"] = ["Support"]
    _groups(assigned)["Support/Tier 2"]["locked_permissions"] = ["RemoteControl"]
    handle = sandbox_of(assigned)
    code, checks = _doctor(tenants, handle)
    assert code == 1
    locked = checks["rescue role: locked permissions of Support/Tier 2"]
    assert "Support/Tier 2 change RemoteControl, locked in Rescue" in locked["detail"]

    control(handle, "DELETE", "/requests")
    run = invoke(
        "apply", str(tenants), "--sandbox", str(handle.state_dir), "--auto-approve", "--format", "json"
    )
    assert run.code == 1, run.output
    [tenant] = plan_json(run.stdout)["tenants"]
    [failed] = [o for o in tenant["outcomes"] if o["change_id"] == "rescue_group:Support/Tier 2"]
    assert failed["status"] == "failed" and "INVALIDPARAM_PERMISSION" in failed["message"], failed
    assert "not an administrator of that node" in failed["message"]
    nodes = {n["node_id"]: n for n in control(handle, "GET", "/tenants/contoso/state")["rescue"]["nodes"]}
    assert nodes[TIER_2]["permissions"] == []

    # Unlocked, the same Administrator's doctor passes the role check and apply sets them.
    _groups(assigned)["Support/Tier 2"]["locked_permissions"] = []
    handle = sandbox_of(assigned)
    code, checks = _doctor(tenants, handle)
    assert checks["rescue role"]["status"] == "pass", checks
    assert invoke("apply", str(tenants), "--sandbox", str(handle.state_dir), "--auto-approve").code == 0


def _links_and_channels(seed: dict[str, Any]) -> dict[str, Any]:
    """Channels in both tiers; an administrator linked into Support and Tier 2 who is also dave
    (his link carries dave's e-mail); a master administrator linked into Tier 1."""
    groups = _groups(seed)
    groups["Support/Tier 1"]["channels"] = [{"name": "Web chat", "node_id": 41601}]
    groups["Support/Tier 2"]["channels"] = [{"name": "Phone", "node_id": 41602}]
    seed["tenants"]["contoso"]["rescue"]["administrators"] = [
        {
            "email": "dave@contoso.com",
            "same_holder": True,
            "name": "Dave (admin)",
            "groups": ["Support", "Support/Tier 2"],
        },
        {"email": "boss@contoso.com", "role": "master administrator", "groups": ["Support/Tier 1"]},
    ]
    return seed


def test_link_and_channel_nodes_change_no_plan_and_are_never_deleted(sandbox_of: Any, tmp_path: Path) -> None:
    def plan(handle: SandboxHandle) -> tuple[int, dict[str, Any]]:
        run = invoke("plan", str(EXAMPLE_TENANTS), "--sandbox", str(handle.state_dir), "--format", "json")
        return run.code, plan_json(run.stdout)

    plain_handle = sandbox_of(_seed())
    plain_code, plain = plan(plain_handle)
    handle = sandbox_of(_links_and_channels(_seed()))
    nodes = control(handle, "GET", "/tenants/contoso/state")["rescue"]["nodes"]
    odd = {n["node_id"] for n in nodes if n["type"] in ("AdministratorLink", "Channel")}
    assert len(odd) == 5
    code, linked = plan(handle)
    assert (code, actionable(linked)) == (plain_code, actionable(plain))
    # A rule over Support takes its technicians, never a link (dave's carries his e-mail) or channel.
    rule = _contoso(tmp_path, technician_rules=[{"rescue_group": "Support", "sso_id": "{local}"}])
    rule_code, rule_plan, _ = _plan(rule, handle)
    plain_rule_code, plain_rule, _ = _plan(rule, plain_handle)
    assert (rule_code, rule_plan["changes"]) == (plain_rule_code, plain_rule["changes"])
    assert _changes(rule_plan)["technician:dave@contoso.com"]["op"] == "create"

    control(handle, "DELETE", "/requests")
    assert (
        invoke(
            "apply", str(EXAMPLE_TENANTS), "--sandbox", str(handle.state_dir), "--auto-approve", "--force"
        ).code
        == 0
    )
    assert not [e for e in log_entries(handle) if e["template"] in ("deleteNode.aspx", "moveNode.aspx")]
    after = {n["node_id"] for n in control(handle, "GET", "/tenants/contoso/state")["rescue"]["nodes"]}
    assert odd <= after


def test_an_email_on_two_technician_nodes_of_one_account_holder_is_unknown_naming_both(
    sandbox_of: Any, tmp_path: Path
) -> None:
    seed = _seed()
    _groups(seed)["Support/Tier 2"]["technicians"].append(
        {"email": "alice@contoso.com", "same_holder": True, "name": "Alice (Tier 2)", "node_id": 41009}
    )
    handle = sandbox_of(seed)
    tenants = _contoso(tmp_path, technicians=[{"user": "alice@contoso.com", "sso_id": "alice-2"}])
    code, plan, _ = _plan(tenants, handle)
    assert code == 3, plan
    alice = _changes(plan)["technician:alice@contoso.com"]
    assert alice["op"] == "unknown" and "node 41001" in alice["reason"] and "node 41009" in alice["reason"]
    control(handle, "DELETE", "/requests")
    assert invoke("apply", str(tenants), "--sandbox", str(handle.state_dir), "--auto-approve").code == 3
    assert writes(handle, "contoso") == []
