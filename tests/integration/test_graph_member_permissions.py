"""Members with limited information (issue 18, point 2) against the sandbox over HTTPS.

With GroupMember.Read.All alone, Graph lists a group's user members with their ID and type only
(userPrincipalName, mail, displayName null). An Entra rule is then Unknown, naming User.Read.All:
nothing it maps is created, changed or pruned (the request log shows no write), and `doctor`
fails the group's check with the same permission; with User.Read.All granted again the rule plans
as before and doctor passes.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from rescue_sandbox import SandboxHandle, demo_seed_path, load_seed, running_sandbox

from .conftest import EXAMPLE_TENANTS, control, invoke
from .test_apply_support import client_settings, live_view, plan_json, writes
from .test_doctor import only_reads

pytestmark = pytest.mark.integration

T = "/tenants/contoso"
ENTRA_GROUP = "5d0b2f3e-8c1a-4e6b-9f70-1a2b3c4d5e01"  # the demo seed's "Rescue technicians"
RULE = {"entra_group": ENTRA_GROUP, "sso_id": "{local}"}
MEMBERS = ("alice@contoso.com", "bob@contoso.com", "carol@contoso.com")


@pytest.fixture(autouse=True)
def _fast_clients(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with client_settings(monkeypatch):
        yield


def _rules_only(root: Path, group: str = ENTRA_GROUP) -> Path:
    """contoso declaring only its connection, its application user and one Entra rule, pruning
    technicians: once applied, every change a run could make comes from the rule."""
    folder = root / "tenants"
    (folder / "contoso").mkdir(parents=True)
    shutil.copy(EXAMPLE_TENANTS / "_defaults.yaml", folder / "_defaults.yaml")
    data = yaml.safe_load((EXAMPLE_TENANTS / "contoso" / "tenant.yaml").read_text())
    tenant = {
        "tenant": data["tenant"],
        "connection": data["connection"],
        "application_user": data["application_user"],
        "technician_rules": [dict(RULE, entra_group=group)],
        "prune": {"technicians": True},
    }
    (folder / "contoso" / "tenant.yaml").write_text(yaml.safe_dump(tenant, sort_keys=False))
    return folder


def _plan(tenants: Path, handle: SandboxHandle) -> tuple[int, dict[str, Any]]:
    run = invoke("plan", str(tenants), "--sandbox", str(handle.state_dir), "--format", "json")
    return run.code, plan_json(run.stdout)["tenants"][0]


def _apply(tenants: Path, handle: SandboxHandle) -> int:
    return invoke("apply", str(tenants), "--sandbox", str(handle.state_dir), "--auto-approve", "--force").code


def _settings(handle: SandboxHandle) -> dict[str, list[Any]]:
    view = live_view(handle, "contoso")
    return {
        user: sorted(str(r.get(view.technician_column)) for r in rows) for user, rows in view.settings.items()
    }


def test_members_without_user_read_all_make_the_rule_unknown_and_nothing_is_written(
    demo_sandbox: SandboxHandle, tmp_path: Path
) -> None:
    tenants = _rules_only(tmp_path)
    assert _apply(tenants, demo_sandbox) == 0  # with User.Read.All: the members get their rows
    applied = _settings(demo_sandbox)
    assert set(MEMBERS) <= set(applied)
    assert _plan(tenants, demo_sandbox)[0] == 0

    control(demo_sandbox, "DELETE", f"{T}/identity/graph-permissions/User.Read.All")
    code, plan = _plan(tenants, demo_sandbox)
    assert code == 3, plan
    changes = [(c["op"], c["id"]) for c in plan["changes"]]
    assert changes == [("unknown", "technician:technician_rules[0]")]  # no delete of alice's or bob's row
    reason = plan["changes"][0]["reason"]
    assert "3 member(s) came with limited information" in reason
    assert "Graph application permission User.Read.All" in reason
    assert "nothing it maps is created, changed or pruned" in reason
    assert plan["unmanaged"] == []

    control(demo_sandbox, "DELETE", "/requests")
    assert _apply(tenants, demo_sandbox) == 3
    assert writes(demo_sandbox, "contoso") == []
    assert _settings(demo_sandbox) == applied

    control(demo_sandbox, "POST", f"{T}/identity/graph-permissions", {"permission": "User.Read.All"})
    assert _plan(tenants, demo_sandbox)[0] == 0


def _doctor(tenants: Path, handle: SandboxHandle, status: str = "fail") -> dict[str, dict[str, str]]:
    """The Entra group checks of ``status``, by name; doctor only read. (The demo seed's other
    blockers, consent and the application user's role, fail checks of their own.)"""
    control(handle, "DELETE", "/requests")
    run = invoke("doctor", str(tenants), "--sandbox", str(handle.state_dir), "--format", "json")
    only_reads(handle)
    [report] = [t for t in yaml.safe_load(run.stdout)["tenants"] if t["tenant"] == "contoso"]
    return {
        c["name"]: c
        for c in report["checks"]
        if c["status"] == status and c["name"].startswith("entra group")
    }


def test_doctor_names_the_permission_the_members_need(demo_sandbox: SandboxHandle, tmp_path: Path) -> None:
    tenants = _rules_only(tmp_path)

    def doctor() -> dict[str, dict[str, str]]:
        return _doctor(tenants, demo_sandbox)

    assert doctor() == {}
    control(demo_sandbox, "DELETE", f"{T}/identity/graph-permissions/User.Read.All")
    failed = doctor()
    assert list(failed) == [f"entra group {ENTRA_GROUP}"]
    check = failed[f"entra group {ENTRA_GROUP}"]
    assert "3 member(s) came with limited information" in check["detail"]
    assert check["detail"].endswith("(used by technician_rules[0])")
    assert check["fix"].startswith(
        "grant the reconciler's app registration the Graph application permission User.Read.All"
    )
    # A broader permission that reads users serves as well (Directory.Read.All lists members too).
    control(demo_sandbox, "DELETE", f"{T}/identity/graph-permissions/GroupMember.Read.All")
    control(demo_sandbox, "POST", f"{T}/identity/graph-permissions", {"permission": "Directory.Read.All"})
    assert doctor() == {}


def test_doctor_warns_that_an_empty_group_cannot_show_the_permission(tmp_path: Path) -> None:
    """No member, nothing to show whether their UPNs can be read: a warning, never a pass."""
    empty = "7a1c0e52-3d4b-4f6a-8e9d-0b1c2d3e4f51"
    seed = load_seed(demo_seed_path())
    seed["tenants"]["contoso"]["identity"]["directory"]["groups"].append(
        {"id": empty, "display_name": "None"}
    )
    tenants = _rules_only(tmp_path, empty)
    with running_sandbox(seed) as handle:
        for _ in ("granted", "not granted"):
            warned = _doctor(tenants, handle, "warn")
            assert warned[f"entra group {empty}"]["detail"] == (
                "no user member: User.Read.All not checked (used by technician_rules[0])"
            )
            control(handle, "DELETE", f"{T}/identity/graph-permissions/User.Read.All")
