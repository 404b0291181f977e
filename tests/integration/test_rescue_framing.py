"""Rescue values that break the reply framing (line breaks in a description or name): the node
whose record cannot be read is Unknown, named by its node ID; every other node is planned as usual.
The sandbox writes values unescaped, the stricter reading of the undocumented real behaviour."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rescue_sandbox import SandboxHandle

from .conftest import EXAMPLE_TENANTS, invoke

pytestmark = pytest.mark.integration


def test_one_odd_record_makes_that_node_unknown_and_the_rest_is_planned(
    demo_sandbox: SandboxHandle, tmp_path: Path
) -> None:
    company = demo_sandbox.sandbox.tenants["contoso"].rescue
    with company.lock:
        company.nodes[41110].description = "opening hours: 9:00-17:00"  # a ':' frames fine
        company.nodes[41120].description = "escalations\nStatus:Online\n\nsee the wiki"
    out = tmp_path / "plan.json"
    run = invoke("plan", str(EXAMPLE_TENANTS), "--sandbox", str(demo_sandbox.state_dir), "--out", str(out))
    assert run.code == 3, run.output
    plan = json.loads(out.read_text("utf-8"))
    contoso = next(t for t in plan["tenants"] if t["tenant"] == "contoso")
    assert not contoso["error"]
    ops = {c["id"]: c["op"] for c in contoso["changes"]}
    # Tier 2's record is set aside: the group is unknown (never created twice), the node is named.
    assert ops["rescue_group:Support/Tier 2"] == "unknown"
    assert ops["rescue_technician:41120"] == "unknown"
    assert "Rescue node 41120" in run.stdout
    # Tier 1 (a ':' in its description) and the technicians are planned as usual.
    assert "rescue_group:Support/Tier 1" not in ops
    assert ops["technician:dave@contoso.com"] == "create"
    assert ops["technician:erin@contoso.com"] == "create"
    assert [c for c in contoso["changes"] if c["op"] == "unknown"] == [
        c for c in contoso["changes"] if c["id"] in ("rescue_group:Support/Tier 2", "rescue_technician:41120")
    ]
    fabrikam = next(t for t in plan["tenants"] if t["tenant"] == "fabrikam")
    assert all(c["op"] != "unknown" for c in fabrikam["changes"])
    # doctor warns, names the node and says what to fix.
    doctor = invoke(
        "doctor", str(EXAMPLE_TENANTS), "--sandbox", str(demo_sandbox.state_dir), "--tenant", "contoso"
    )
    assert "Rescue node 41120" in doctor.output and "line breaks" in doctor.output, doctor.output


def test_technician_rules_below_a_group_stay_unknown_while_a_record_is_odd(
    demo_sandbox: SandboxHandle, tenants_copy: Path
) -> None:
    """An odd record may be a technician a rule would map: the rule maps, changes and prunes nothing."""
    company = demo_sandbox.sandbox.tenants["contoso"].rescue
    with company.lock:
        company.nodes[41005].name = "Erin\nEvans"  # a technician's record
    tenant = tenants_copy / "contoso" / "tenant.yaml"
    tenant.write_text(
        tenant.read_text("utf-8")
        + '\ntechnician_rules:\n  - rescue_group: Support\n    sso_id: "{local}"\nprune:\n  technicians: true\n',
        "utf-8",
    )
    out = tenants_copy.parent / "plan.json"
    run = invoke("plan", str(tenants_copy), "--sandbox", str(demo_sandbox.state_dir), "--out", str(out))
    assert run.code == 3, run.output
    contoso = next(t for t in json.loads(out.read_text("utf-8"))["tenants"] if t["tenant"] == "contoso")
    ops = {c["id"]: c for c in contoso["changes"]}
    assert ops["technician:technician_rules[0]"]["op"] == "unknown"
    assert "in full" in ops["technician:technician_rules[0]"]["reason"]
    assert ops["rescue_technician:41005"]["op"] == "unknown"
    assert all(c["op"] != "delete" for c in contoso["changes"])
