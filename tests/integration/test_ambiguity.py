"""Issue 16, cases 1-4, end to end against the sandbox: a reference that names more than one live
object is Unknown (exit 3) with every candidate named, apply writes nothing for it (the request
log and the live state say so), and a pin in the tenant file chooses; a live name that differs
only in form is the declared object, never a second one.

Each live state is seeded (the demo seed plus the hostile objects), not patched in: the sandbox
holds names with '/', e-mails that differ only in case and spaces, NFD names, zero-width
characters, and a disabled user sharing a domainname, as the real services do.
"""

from __future__ import annotations

import copy
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from rescue_sandbox import SandboxHandle, running_sandbox
from rescue_sandbox.seed import demo_seed_path, load_seed

from .conftest import EXAMPLE_TENANTS, control, invoke
from .test_apply_support import client_settings, live_view, plan_json, writes

pytestmark = pytest.mark.integration

NFD_CAFE = unicodedata.normalize("NFD", "Café")
PERMISSIONS = ["RemoteControl", "SendFile"]


@pytest.fixture(autouse=True)
def _fast_clients(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with client_settings(monkeypatch):
        yield


def _seed(
    rescue_groups: list[dict[str, Any]] | None = None, users: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The demo seed, contoso with more top-level Rescue groups (listed first) and Dynamics users
    (listed last): where the old "first found" and "last found" lookups picked them."""
    seed = copy.deepcopy(load_seed(demo_seed_path()))
    contoso = seed["tenants"]["contoso"]
    # Listed first: the old "first one found" lookups met the hostile object first.
    contoso["rescue"]["groups"] = list(rescue_groups or []) + contoso["rescue"]["groups"]
    contoso["dataverse"]["users"] += list(users or [])
    return seed


@pytest.fixture
def sandbox_of() -> Iterator[Any]:
    stack: list[Any] = []

    def start(seed: dict[str, Any]) -> SandboxHandle:
        context = running_sandbox(seed, index_job_seconds=0.05)
        stack.append(context)
        return context.__enter__()

    yield start
    for context in reversed(stack):
        context.__exit__(None, None, None)


def _contoso(root: Path, **sections: Any) -> Path:
    """A tenants folder with contoso declaring only ``sections`` (beside its connection; no
    defaults file: nothing else is managed, so each plan shows only the case at hand)."""
    folder = root / "tenants"
    (folder / "contoso").mkdir(parents=True)
    data = yaml.safe_load((EXAMPLE_TENANTS / "contoso" / "tenant.yaml").read_text())
    kept = {"tenant": data["tenant"], "connection": data["connection"], **sections}
    (folder / "contoso" / "tenant.yaml").write_text(yaml.safe_dump(kept, sort_keys=False, allow_unicode=True))
    return folder


def _plan(tenants: Path, handle: SandboxHandle) -> tuple[int, dict[str, Any], str]:
    run = invoke("plan", str(tenants), "--sandbox", str(handle.state_dir), "--format", "json")
    assert run.stdout.startswith("{"), run.output
    text = invoke("plan", str(tenants), "--sandbox", str(handle.state_dir)).stdout
    return run.code, plan_json(run.stdout)["tenants"][0], text


def _apply(tenants: Path, handle: SandboxHandle) -> int:
    control(handle, "DELETE", "/requests")
    return invoke("apply", str(tenants), "--sandbox", str(handle.state_dir), "--auto-approve").code


def _changes(plan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["id"]: c for c in plan["changes"]}


def _nodes(handle: SandboxHandle) -> dict[int, dict[str, Any]]:
    state = control(handle, "GET", "/tenants/contoso/state")
    return {int(n["node_id"]): n for n in state["rescue"]["nodes"]}


# Case 1: a group literally named "Support/Tier 2" beside Support -> Tier 2 (41120), a sibling
# "SUPPORT " beside Support (41100), and a technician in the slash-named group.
CASE_1 = [
    {
        "name": "Support/Tier 2",
        "node_id": 41900,
        "technicians": [{"email": "mallory@contoso.com", "name": "Mallory", "node_id": 41901}],
    },
    {"name": "SUPPORT ", "node_id": 41950},
]


def test_case_1_a_path_naming_two_groups_is_unknown_and_nothing_is_written(
    sandbox_of: Any, tmp_path: Path
) -> None:
    handle = sandbox_of(_seed(rescue_groups=CASE_1, users=[{"domainname": "mallory@contoso.com"}]))
    tenants = _contoso(
        tmp_path,
        rescue_groups=[{"path": "Support/Tier 2", "permissions": PERMISSIONS}],
        technician_rules=[{"rescue_group": "Support/Tier 2", "sso_id": "{local}"}],
    )
    before = _nodes(handle)
    code, plan, text = _plan(tenants, handle)
    assert code == 3, plan
    changes = _changes(plan)
    tier2 = changes["rescue_group:Support/Tier 2"]
    assert tier2["op"] == "unknown"
    assert (
        'node 41120 \\"Support\\" / \\"Tier 2\\"' in text
        or 'node 41120 "Support" / "Tier 2"' in tier2["reason"]
    )
    assert 'node 41900 "Support/Tier 2"' in tier2["reason"]
    assert "node 41100" in changes["rescue_group:Support"]["reason"]
    assert "node 41950" in changes["rescue_group:Support"]["reason"]
    rule = changes["technician:technician_rules[0]"]
    assert rule["op"] == "unknown" and "node 41900" in rule["reason"] and "node 41120" in rule["reason"]
    assert [c for c in plan["changes"] if c["op"] != "unknown"] == []
    assert "41900" in text and "41120" in text  # the text plan names both too

    assert _apply(tenants, handle) == 3
    assert [w["template"] for w in writes(handle, "contoso")] == []
    after = _nodes(handle)
    assert {n: after[n]["permissions"] for n in (41120, 41900)} == {
        n: before[n]["permissions"] for n in (41120, 41900)
    }
    assert "mallory@contoso.com" not in live_view(handle, "contoso").settings

    # Pinned, the path names one group: its permissions are set, the look-alike is left alone.
    pinned = _contoso(
        tmp_path / "pinned",
        rescue_groups=[
            {"path": "Support", "node_id": "41100"},
            {"path": "Support/Tier 2", "node_id": "41120", "permissions": PERMISSIONS},
        ],
    )
    code, plan, _ = _plan(pinned, handle)
    assert code == 0 and [(c["op"], c["id"]) for c in plan["changes"] if c["op"] != "manual"] == [
        ("update", "rescue_group:Support/Tier 2")
    ], plan
    assert _apply(pinned, handle) == 0
    after = _nodes(handle)
    assert sorted(after[41120]["permissions"]) == PERMISSIONS
    assert after[41900]["permissions"] == before[41900]["permissions"]
    assert [w["template"] for w in writes(handle, "contoso")] == ["setGroup_v2.aspx"]


# Case 2: an archived technician whose e-mail is alice's but for case and spaces.
CASE_2 = [
    {
        "name": "Archive",
        "node_id": 41800,
        "technicians": [{"email": " Alice@Contoso.com", "name": "Alice (old)", "node_id": 41801}],
    }
]


def test_case_2_an_email_of_two_technicians_is_unknown_and_alices_row_stays(
    sandbox_of: Any, tmp_path: Path
) -> None:
    handle = sandbox_of(_seed(rescue_groups=CASE_2))
    tenants = _contoso(tmp_path, technicians=[{"user": "alice@contoso.com", "sso_id": "alice"}])
    row_before = live_view(handle, "contoso").row("alice@contoso.com")
    code, plan, text = _plan(tenants, handle)
    assert code == 3, plan
    alice = _changes(plan)["technician:alice@contoso.com"]
    assert alice["op"] == "unknown" and "node 41001" in alice["reason"] and "node 41801" in alice["reason"]
    assert "pin technician_id" in alice["reason"] and "41801" in text
    assert [c for c in plan["changes"] if c["op"] != "unknown"] == []

    assert _apply(tenants, handle) == 3
    assert [w["template"] for w in writes(handle, "contoso")] == []
    assert live_view(handle, "contoso").row("alice@contoso.com") == row_before

    pinned = _contoso(
        tmp_path / "pinned", technicians=[{"user": "alice@contoso.com", "technician_id": "41001"}]
    )
    code, plan, _ = _plan(pinned, handle)
    assert code == 0 and plan["changes"] == [], plan


# Case 3: live names in another Unicode form.
def test_case_3_a_name_in_another_form_is_the_declared_group_and_two_are_unknown(
    sandbox_of: Any, tmp_path: Path
) -> None:
    handle = sandbox_of(
        _seed(
            rescue_groups=[{"name": NFD_CAFE, "node_id": 41700}, {"name": "Help\u200bdesk", "node_id": 41710}]
        )
    )
    tenants = _contoso(tmp_path, rescue_groups=[{"path": "Café"}, {"path": "Helpdesk"}])
    code, plan, text = _plan(tenants, handle)
    assert code == 0 and plan["changes"] == [], plan  # neither is created a second time
    assert "node 41700" in text and "not NFC" in text and "\\u200b" in text
    assert _apply(tenants, handle) == 0
    assert [w["template"] for w in writes(handle, "contoso")] == []

    # Both forms live at once: the declared name names two groups, neither is chosen.
    handle = sandbox_of(
        _seed(rescue_groups=[{"name": NFD_CAFE, "node_id": 41700}, {"name": "Ca\u200bfé", "node_id": 41720}])
    )
    tenants = _contoso(tmp_path / "cafe", rescue_groups=[{"path": "Café"}])
    code, plan, _ = _plan(tenants, handle)
    assert code == 3, plan
    cafe = _changes(plan)["rescue_group:Café"]
    assert cafe["op"] == "unknown" and "node 41700" in cafe["reason"] and "node 41720" in cafe["reason"]
    assert "\\u200b" in cafe["reason"]
    assert _apply(tenants, handle) == 3
    assert [w["template"] for w in writes(handle, "contoso")] == []
    names = [n["name"] for n in _nodes(handle).values() if n["type"] == "TechnicianGroup"]
    assert len([n for n in names if unicodedata.normalize("NFC", n.replace("\u200b", "")) == "Café"]) == 2


# Case 4: a disabled Dynamics user with dave's domainname, listed after him.
DISABLED_DAVE = {
    "domainname": "dave@contoso.com",
    "id": "dddddddd-0000-4000-8000-000000000004",
    "firstname": "Dave",
    "lastname": "Old",
    "isdisabled": True,
}


def test_case_4_a_upn_of_two_users_is_unknown_and_no_row_is_written(sandbox_of: Any, tmp_path: Path) -> None:
    handle = sandbox_of(_seed(users=[DISABLED_DAVE]))
    tenants = _contoso(tmp_path, technicians=[{"user": "dave@contoso.com", "sso_id": "dave"}])
    code, plan, _ = _plan(tenants, handle)
    assert code == 3, plan
    dave = _changes(plan)["technician:dave@contoso.com"]
    assert (
        dave["op"] == "unknown" and f"{DISABLED_DAVE['id']} ('dave@contoso.com', disabled)" in dave["reason"]
    )
    assert "2 Dynamics users" in dave["reason"] and "dynamics_user_id" in dave["reason"]
    assert [c for c in plan["changes"] if c["op"] != "unknown"] == []

    assert _apply(tenants, handle) == 3
    assert [w["template"] for w in writes(handle, "contoso")] == []
    assert "dave@contoso.com" not in live_view(handle, "contoso").settings

    # Pinned to the enabled user: the row is created for him, bound to his systemuserid.
    state = control(handle, "GET", "/tenants/contoso/state")
    enabled = next(
        u["systemuserid"]
        for u in state["dataverse"]["tables"]["systemuser"]
        if u.get("domainname") == "dave@contoso.com" and not u.get("isdisabled")
    )
    pinned = _contoso(
        tmp_path / "pinned",
        technicians=[{"user": "dave@contoso.com", "sso_id": "dave", "dynamics_user_id": enabled}],
    )
    code, plan, _ = _plan(pinned, handle)
    assert code == 2 or code == 0, plan
    assert [(c["op"], c["id"]) for c in plan["changes"]] == [("create", "technician:dave@contoso.com")]
    assert _apply(pinned, handle) == 0
    view = live_view(handle, "contoso")
    (row,) = view.settings["dave@contoso.com"]
    assert (
        str(row[next(k for k in row if k.endswith("_value") and "user" in k.lower())]).lower()
        == enabled.lower()
    )
