"""Technicians by rule against the sandbox over HTTPS (issue 12 "Done when").

contoso declared with one Entra-group rule (alice, bob and carol through a nested group) and one
Rescue-group rule (dave and erin in Support/Tier 2), carol kept explicit (her Rescue e-mail
differs: the explicit entry wins over the rule), plans and applies exactly like the checked-in
explicit list. A group that cannot be read makes its rule Unknown: no create, no prune, exit 3.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from rescue_sandbox import SandboxHandle, running_sandbox

from .conftest import EXAMPLE_TENANTS, control, invoke
from .test_apply_support import client_settings, live_view, plan_json

pytestmark = pytest.mark.integration

ENTRA_GROUP = "5d0b2f3e-8c1a-4e6b-9f70-1a2b3c4d5e01"  # the demo seed's "Rescue technicians"
RULES = [
    {"entra_group": ENTRA_GROUP, "sso_id": "{local}"},
    {"rescue_group": "Support/Tier 2", "sso_id": "{local}"},
]
CAROL = {"user": "carol@contoso.com", "rescue_email": "carol.jones@contoso.com", "sso_id": "carol"}


@pytest.fixture(autouse=True)
def _fast_clients(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with client_settings(monkeypatch):
        yield


def _contoso(root: Path, **changes: Any) -> Path:
    """A tenants folder holding contoso only, its tenant.yaml changed by ``changes``."""
    folder = root / "tenants"
    (folder / "contoso").mkdir(parents=True)
    shutil.copy(EXAMPLE_TENANTS / "_defaults.yaml", folder / "_defaults.yaml")
    data = yaml.safe_load((EXAMPLE_TENANTS / "contoso" / "tenant.yaml").read_text())
    data.update(changes)
    (folder / "contoso" / "tenant.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return folder


def _plan(tenants: Path, handle: SandboxHandle, *extra: str) -> tuple[int, dict[str, Any]]:
    run = invoke("plan", str(tenants), "--sandbox", str(handle.state_dir), "--format", "json", *extra)
    return run.code, plan_json(run.stdout)["tenants"][0]


def _apply(tenants: Path, handle: SandboxHandle) -> int:
    return invoke("apply", str(tenants), "--sandbox", str(handle.state_dir), "--auto-approve", "--force").code


def _comparable(change: dict[str, Any]) -> tuple[Any, ...]:
    """A change without its provenance."""
    desired = dict((change.get("desired") or {}).get("fields", {}))
    desired.pop("source", None)
    return (change["op"], change["id"], sorted(desired.items()), change.get("items"), change["depends_on"])


def _mappings(handle: SandboxHandle) -> tuple[dict[str, list[tuple[Any, Any]]], dict[str, list[Any]]]:
    view = live_view(handle, "contoso")
    settings = {
        user: sorted((r.get(view.technician_column), r.get(view.sso_column)) for r in rows)
        for user, rows in view.settings.items()
    }
    technicians = {email: sorted(n.get("ssoid") for n in nodes) for email, nodes in view.technicians.items()}
    return settings, technicians


def test_rules_plan_and_apply_the_same_mappings_as_the_explicit_list(
    demo_sandbox: SandboxHandle, tmp_path: Path
) -> None:
    explicit = _contoso(tmp_path / "explicit")
    rules = _contoso(tmp_path / "rules", technicians=[CAROL], technician_rules=RULES)
    code, by_list = _plan(explicit, demo_sandbox)
    assert code == 0, by_list
    code, by_rule = _plan(rules, demo_sandbox)
    assert code == 0, by_rule
    assert by_rule["problems"] == [] and by_rule["unmanaged"] == []
    assert sorted(map(_comparable, by_rule["changes"])) == sorted(map(_comparable, by_list["changes"]))
    # The same reads, plus one Graph page for the Entra group (the Rescue-group rule uses the
    # hierarchy read anyway) and one lookup of the members' users: each UPN is looked up among all
    # users, even one whose settings row names its user (another may share its domainname).
    requests = {svc: by_rule["requests"][svc]["requests"] for svc in by_rule["requests"]}
    assert requests["graph"] == 1
    assert requests["rescue"] == by_list["requests"]["rescue"]["requests"], requests
    assert requests["dataverse"] == by_list["requests"]["dataverse"]["requests"] + 1, requests
    # dave and erin are created by the Rescue-group rule; the plan says so in every format.
    sources = {c["id"]: c.get("source") for c in by_rule["changes"] if c["kind"] == "technician"}
    assert sources == {
        "technician:dave@contoso.com": 'technician_rules[1] rescue_group "Support/Tier 2"',
        "technician:erin@contoso.com": 'technician_rules[1] rescue_group "Support/Tier 2"',
    }
    text = invoke("plan", str(rules), "--sandbox", str(demo_sandbox.state_dir)).stdout
    assert 'from technician_rules[1] rescue_group "Support/Tier 2"' in text
    markdown = invoke("plan", str(rules), "--sandbox", str(demo_sandbox.state_dir), "--format", "markdown")
    assert 'from technician_rules[1] rescue_group "Support/Tier 2"' in markdown.stdout

    # Apply each to its own copy of the demo state: the same mappings result.
    assert _apply(rules, demo_sandbox) == 0
    with running_sandbox(index_job_seconds=0.05) as other:
        assert _apply(explicit, other) == 0
        assert _mappings(demo_sandbox) == _mappings(other)
    settings, _ = _mappings(demo_sandbox)
    assert settings == {
        "alice@contoso.com": [("41001", "alice")],
        "bob@contoso.com": [("41002", "bob")],
        "carol@contoso.com": [("41003", "carol")],
        "dave@contoso.com": [("41004", "dave")],
        "erin@contoso.com": [("41005", "erin")],
    }
    # Converged: neither declaration plans anything against what the rules applied.
    for tenants in (explicit, rules):
        code, plan = _plan(tenants, demo_sandbox)
        assert (code, [c for c in plan["changes"] if c["op"] != "manual"]) == (0, []), plan


def test_a_failed_group_read_is_unknown_never_a_create_or_prune(
    demo_sandbox: SandboxHandle, tmp_path: Path
) -> None:
    # Pruning on, and erin's row would be new: a wrong reading would delete alice/bob or create erin.
    tenants = _contoso(
        tmp_path / "rules",
        technicians=[CAROL],
        technician_rules=RULES,
        prune={"technicians": True},
    )
    control(demo_sandbox, "POST", "/faults", {"spec": "graph:503=1,path=*transitiveMembers*"})
    code, plan = _plan(tenants, demo_sandbox)
    assert code == 3, plan
    ops = {(c["op"], c["id"]) for c in plan["changes"] if c["kind"] == "technician"}
    assert ("unknown", "technician:technician_rules[0]") in ops
    assert not {op for op, _ in ops} & {"delete"}
    assert not any(i.endswith(("alice@contoso.com", "bob@contoso.com")) for _, i in ops)
    assert plan["unmanaged"] == []
    reason = next(c["reason"] for c in plan["changes"] if c["id"] == "technician:technician_rules[0]")
    assert ENTRA_GROUP in reason and "nothing it maps is created, changed or pruned" in reason
    before = _mappings(demo_sandbox)
    assert _apply(tenants, demo_sandbox) == 3
    settings, _ = _mappings(demo_sandbox)
    for user in ("alice@contoso.com", "bob@contoso.com"):
        assert settings[user] == before[0][user]  # never pruned
