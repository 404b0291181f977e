"""`reconcile doctor` checks what every source of the declared state needs (issue 16, case 10):
technicians that come only from `technician_rules:` need the settings table's privileges like
listed ones, an Entra rule needs its group's members readable in Graph, and doctor is never
"ready" while one of them is refused. The needs come from one place (engine/needs.py): a role
holding exactly them lets plan, apply and health run to the end with no request refused, so
none is missing from the list."""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.config import load_tenants
from reconciler.engine.needs import tenant_needs
from reconciler.profile import effective_profile
from rescue_sandbox import SandboxHandle, demo_seed_path, running_sandbox

from .conftest import control, invoke
from .test_apply_support import client_settings, is_write, plan_json
from .test_doctor import failures, only_reads, unblock
from .test_technician_rules import _contoso

pytestmark = pytest.mark.integration
T = "/tenants/contoso"
ENTRA_GROUP = "5d0b2f3e-8c1a-4e6b-9f70-1a2b3c4d5e01"  # the demo seed's "Rescue technicians"
RULES = [
    {"entra_group": ENTRA_GROUP, "sso_id": "{local}"},
    {"rescue_group": "Support/Tier 2", "sso_id": "{local}"},
]
CAROL = {"user": "carol@contoso.com", "rescue_email": "carol.jones@contoso.com", "sso_id": "carol"}
LEAST = "Reconciler Least Privilege"


@pytest.fixture
def sandbox() -> Iterator[SandboxHandle]:
    with running_sandbox(index_job_seconds=0.05) as handle:
        yield handle
    gc.collect()


def _doctor(tenants: Path, handle: SandboxHandle) -> tuple[int, dict[str, dict[str, str]]]:
    unblock(handle, "contoso")  # the demo's consent and role blockers are not what these test
    control(handle, "DELETE", "/requests")
    run = invoke("doctor", str(tenants), "--sandbox", str(handle.state_dir), "--format", "json")
    only_reads(handle)
    report = json.loads(run.stdout)
    return run.code, failures(report, "contoso")


def test_rules_only_technicians_need_the_settings_write_privilege(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    tenants = _contoso(tmp_path, technicians=[], technician_rules=RULES)
    assert _doctor(tenants, sandbox) == (0, {})
    control(sandbox, "DELETE", f"{T}/dynamics/privileges/prvWritelmi_logmeinsettings")
    code, failed = _doctor(tenants, sandbox)
    assert code == 1 and list(failed) == ["privileges lmi_logmeinsettings"]
    check = failed["privileges lmi_logmeinsettings"]
    row = "LogMeIn Settings (lmi_logmeinsettings): Write at Organization level"
    assert check["detail"] == (
        f"missing: {row} (for: technician_rules[0] (entra_group); technician_rules[1] (rescue_group))"
    )
    assert check["fix"].startswith("in the application user's security role (") and check["fix"].endswith(row)
    text = invoke("doctor", str(tenants), "--sandbox", str(sandbox.state_dir))
    assert "tenant contoso: NOT ready" in text.stdout and text.code == 1
    # What doctor warned of is what apply meets: the rules' settings rows cannot be written.
    with pytest.MonkeyPatch.context() as patch, client_settings(patch):
        run = invoke("apply", str(tenants), "--sandbox", str(sandbox.state_dir), "--auto-approve", "--force")
    assert run.code != 0 and "prvWritelmi_logmeinsettings" in run.output


@pytest.mark.parametrize(
    "refuse",
    [
        ("DELETE", f"{T}/identity/graph-permissions/GroupMember.Read.All", None),
        ("POST", "/faults", {"spec": "graph:403=1,path=*transitiveMembers*"}),
    ],
    ids=["permission-removed", "graph-403"],
)
def test_an_entra_rule_under_a_graph_refusal_is_not_ready(
    sandbox: SandboxHandle, tmp_path: Path, refuse: tuple[str, str, Any]
) -> None:
    tenants = _contoso(tmp_path, technicians=[CAROL], technician_rules=RULES[:1])
    code, failed = _doctor(tenants, sandbox)
    assert code == 0 and failed == {}
    control(sandbox, *refuse)
    code, failed = _doctor(tenants, sandbox)
    assert code == 1 and list(failed) == [f"entra group {ENTRA_GROUP}"]
    check = failed[f"entra group {ENTRA_GROUP}"]
    assert "members could not be read (used by technician_rules[0])" in check["detail"]
    assert "Authorization_RequestDenied" in check["detail"]
    assert check["fix"].startswith(
        "grant the reconciler's app registration the Graph application permission GroupMember.Read.All"
    )


def test_an_entra_group_that_does_not_exist_is_named_with_its_rule(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    missing = "00000000-0000-4000-8000-000000000001"
    tenants = _contoso(tmp_path, technician_rules=[{"entra_group": missing}])
    code, failed = _doctor(tenants, sandbox)
    assert code == 1 and list(failed) == [f"entra group {missing}"]
    assert failed[f"entra group {missing}"]["fix"] == (
        "no such group in the directory: correct the group ID of technician_rules[0]"
    )


def test_a_refused_read_fails_its_own_check_and_the_others_still_run(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    """The privilege list cannot be read (403): that check fails, and Rescue and Graph are still
    checked (the Graph refusal is named too): never "ready" over a refused read."""
    tenants = _contoso(tmp_path, technician_rules=RULES[:1])
    control(
        sandbox,
        "POST",
        "/faults",
        {"spec": "dataverse:403=1,path=*RetrieveUserPrivileges*;graph:403=1,path=*transitiveMembers*"},
    )
    code, failed = _doctor(tenants, sandbox)
    assert code == 1 and set(failed) == {"privileges", f"entra group {ENTRA_GROUP}"}
    assert failed["privileges"]["detail"].startswith("could not be checked: ")
    assert failed["privileges"]["fix"] == "give it prvReadUser"


def _least_privilege_seed(root: Path, privileges: list[str]) -> Path:
    """The demo seed with contoso's reconciler app holding one role of exactly ``privileges``."""
    seed = yaml.safe_load(demo_seed_path().read_text())
    dataverse = seed["tenants"]["contoso"]["dataverse"]
    dataverse["roles"] = [*dataverse["roles"], LEAST]
    dataverse["role_privileges"] = {**dataverse.get("role_privileges", {}), LEAST: privileges}
    dataverse["reconciler_user"] = {"roles": [LEAST]}
    path = root / "seed.yaml"
    path.write_text(yaml.safe_dump(seed, sort_keys=False))
    return path


@pytest.mark.parametrize(
    "changes",
    [{}, {"technicians": [CAROL], "technician_rules": RULES}],
    ids=["listed-technicians", "technicians-by-rule"],
)
def test_exactly_the_needed_privileges_let_plan_and_apply_run_to_the_end(
    tmp_path: Path, changes: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    tenants = _contoso(tmp_path, **changes)
    [loaded] = load_tenants([tenants])
    needs = tenant_needs(loaded.model, effective_profile(loaded.model.profile))
    privileges = sorted(needs.privileges)
    with running_sandbox(_least_privilege_seed(tmp_path, privileges), index_job_seconds=0.05) as handle:
        code, failed = _doctor(tenants, handle)
        assert (code, failed) == (0, {})
        with client_settings(monkeypatch):
            control(handle, "DELETE", "/requests")
            applied = invoke(
                "apply", str(tenants), "--sandbox", str(handle.state_dir), "--auto-approve", "--force"
            )
            assert applied.code == 0, applied.output
            entries = control(handle, "GET", "/requests?tenant=contoso")["entries"]
            assert any(is_write(e) for e in entries)  # the least-privilege role wrote what was planned
            assert not [e for e in entries if e["status"] == 403], "a request was refused"
            again = invoke("plan", str(tenants), "--sandbox", str(handle.state_dir), "--format", "json")
            assert again.code == 0, again.output
            assert [c for c in plan_json(again.stdout)["tenants"][0]["changes"] if c["op"] != "manual"] == []
            # The report sign-in opts contoso into health: its reads are among the needs too.
            control(handle, "DELETE", "/requests")
            health = invoke("health", str(tenants), "--sandbox", str(handle.state_dir), "--format", "json")
            [tenant] = json.loads(health.stdout)["tenants"]
            assert (tenant["error"], tenant["unread"]) == (None, []), tenant
            assert not [e for e in control(handle, "GET", "/requests")["entries"] if e["status"] == 403]
    gc.collect()
