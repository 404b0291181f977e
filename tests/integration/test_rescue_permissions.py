"""rescue_groups[].permissions end to end: a new group shows the permissions it gets (declared, or
Rescue's undocumented defaults), an existing group's declared permissions are read (getGroup_v2)
and set exactly (setGroup_v2, read-modify-write), and a second plan has nothing left to do."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rescue_sandbox import SandboxHandle

from .conftest import invoke

pytestmark = pytest.mark.integration


def _edit(tenants: Path) -> None:
    path = tenants / "contoso" / "tenant.yaml"
    text = path.read_text("utf-8").replace(
        "    confirmed: 2026-10-01\n",
        "    confirmed: 2026-10-01\n    permissions: [SendFile, RemoteControl]\n",
    )
    text += (
        "  - path: Support/Tier 3\n    permissions: [RemoteControl, UnattendedAccess]\n"
        "  - path: Support/Tier 4\n"
    )
    path.write_text(text, "utf-8")


def _rescue_groups(handle: SandboxHandle, tenants: Path) -> tuple[int, str, dict[str, dict]]:
    run = invoke("plan", str(tenants), "--sandbox", str(handle.state_dir), "--format", "json")
    plan = json.loads(run.stdout)
    contoso = next(t for t in plan["tenants"] if t["tenant"] == "contoso")
    groups = {c["id"]: c for c in contoso["changes"] if c["kind"] == "rescue_group" and c["op"] != "manual"}
    return run.code, run.output, groups


def test_permissions_are_planned_applied_and_converge(
    demo_sandbox: SandboxHandle, tenants_copy: Path
) -> None:
    _edit(tenants_copy)
    text = invoke("plan", str(tenants_copy), "--sandbox", str(demo_sandbox.state_dir))
    assert "+ create Rescue group Support/Tier 3" in text.stdout
    assert "permissions = [RemoteControl, UnattendedAccess]" in text.stdout
    tier4 = text.stdout.split("+ create Rescue group Support/Tier 4", 1)[1].split("\n  ", 2)[1]
    assert tier4.strip() == "permissions: Rescue's defaults (not documented: review them in the Admin Center)"
    assert "~ update Rescue group Support/Tier 1" in text.stdout
    assert "permissions: [] -> [RemoteControl, SendFile]" in text.stdout

    company = demo_sandbox.sandbox.tenants["contoso"].rescue
    with company.lock:
        company.nodes[41110].locked_permissions = ["SendFile"]  # kept by the read-modify-write
        company.nodes[41110].description = "first line"
    run = invoke(
        "apply", str(tenants_copy), "--sandbox", str(demo_sandbox.state_dir), "--auto-approve", "--force"
    )
    assert run.code == 0, run.output
    assert "with Rescue's default permissions (review them in the Admin Center)" in run.output
    with company.lock:
        tier1, tier3 = company.group_by_path("Support/Tier 1"), company.group_by_path("Support/Tier 3")
        assert tier1 is not None and tier3 is not None
        assert tier1.permissions == ["RemoteControl", "SendFile"]
        assert (tier1.locked_permissions, tier1.description, tier1.name) == (
            ["SendFile"],
            "first line",
            "Tier 1",
        )
        assert tier3.permissions == ["RemoteControl", "UnattendedAccess"]

    _, _, groups = _rescue_groups(demo_sandbox, tenants_copy)
    assert groups == {}

    # Someone changes Tier 1 in the Admin Center: the next plan sets it back, exactly.
    with company.lock:
        company.nodes[41110].permissions = ["RemoteControl", "SendFile", "ScriptRunning"]
    _, _, groups = _rescue_groups(demo_sandbox, tenants_copy)
    (item,) = groups["rescue_group:Support/Tier 1"]["items"]
    assert item["before"] == ["RemoteControl", "SendFile", "ScriptRunning"]
    assert item["after"] == ["RemoteControl", "SendFile"]
