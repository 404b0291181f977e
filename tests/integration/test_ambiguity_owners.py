"""Review of issue 16 (F1): a settings row is its owner's. With a disabled Dynamics user sharing
dave's UPN and owning a row, a tenant file pinning the enabled dave (``dynamics_user_id``) never
updates the disabled user's row: it creates dave's own, leaves the other alone (never pruned by
guess), and the next plan is empty.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .conftest import control, invoke
from .test_ambiguity import DISABLED_DAVE, _apply, _contoso, _fast_clients, _plan, _seed, sandbox_of
from .test_apply_support import live_view, writes

__all__ = ["_fast_clients", "sandbox_of"]  # fixtures used by name

pytestmark = pytest.mark.integration

DAVE = "dave@contoso.com"


def _owner(row: dict[str, Any]) -> str:
    return str(row[next(k for k in row if k.endswith("_value") and "user" in k.lower())]).lower()


def _disabled_daves_row(sandbox_of: Any) -> tuple[Any, str, str]:
    """A sandbox where a disabled user shares dave's UPN and owns a settings row; the enabled and
    the disabled dave's systemuserids."""
    seed = _seed(users=[DISABLED_DAVE])
    seed["tenants"]["contoso"]["dataverse"]["settings"].append(
        {"user": DAVE, "technician_id": "41004", "sso_id": "old"}
    )
    handle = sandbox_of(seed)
    users = control(handle, "GET", "/tenants/contoso/state")["dataverse"]["tables"]["systemuser"]
    daves = {
        bool(u.get("isdisabled")): u["systemuserid"].lower() for u in users if u.get("domainname") == DAVE
    }
    return handle, daves[False], daves[True]


def test_a_pinned_user_never_gets_another_users_row(sandbox_of: Any, tmp_path: Path) -> None:
    handle, enabled, disabled = _disabled_daves_row(sandbox_of)
    (old_row,) = live_view(handle, "contoso").settings[DAVE]
    assert _owner(old_row) == disabled

    tenants = _contoso(tmp_path, technicians=[{"user": DAVE, "sso_id": "dave", "dynamics_user_id": enabled}])
    code, plan, text = _plan(tenants, handle)
    changes = [(c["op"], c["id"]) for c in plan["changes"]]
    assert changes == [("create", f"technician:{DAVE}")], text
    assert '"old"' not in text  # not shown as an update of the disabled user's row
    assert disabled in text  # the other user's row is named (a note)

    assert _apply(tenants, handle) == 0
    assert [w["template"] for w in writes(handle, "contoso")] != []
    rows = {_owner(r): r for r in live_view(handle, "contoso").settings[DAVE]}
    assert rows[disabled] == old_row  # untouched, same ETag and values
    assert sorted(rows) == sorted([enabled, disabled])
    assert rows[enabled]["lmi_ssoid"] == "dave"

    code, plan, _ = _plan(tenants, handle)
    assert code == 0 and plan["changes"] == [], plan  # converged: dave's own row is the row

    # Pruning technicians, with dave listed or not, never deletes the disabled user's row.
    for technicians in ([{"user": DAVE, "sso_id": "dave", "dynamics_user_id": enabled}], []):
        pruned = _contoso(
            tmp_path / f"prune{len(technicians)}", technicians=technicians, prune={"technicians": True}
        )
        code, plan, _ = _plan(pruned, handle)
        assert [c for c in plan["changes"] if c["id"] == f"technician:{DAVE}" and c["op"] == "delete"] == []
        _apply(pruned, handle)
        left = {_owner(r) for r in live_view(handle, "contoso").settings.get(DAVE, [])}
        assert disabled in left


def test_a_saved_plan_updates_the_pinned_users_row_among_shared_rows(sandbox_of: Any, tmp_path: Path) -> None:
    handle, enabled, disabled = _disabled_daves_row(sandbox_of)
    first = _contoso(tmp_path, technicians=[{"user": DAVE, "sso_id": "dave", "dynamics_user_id": enabled}])
    assert _apply(first, handle) == 0  # dave's own row, beside the disabled user's

    tenants = _contoso(
        tmp_path / "next", technicians=[{"user": DAVE, "sso_id": "dave2", "dynamics_user_id": enabled}]
    )
    saved = tmp_path / "plan.json"
    run = invoke("plan", str(tenants), "--sandbox", str(handle.state_dir), "--out", str(saved))
    assert run.code == 0, run.output
    control(handle, "DELETE", "/requests")
    run = invoke(
        "apply", "--plan", str(saved), str(tenants), "--sandbox", str(handle.state_dir), "--auto-approve"
    )
    assert run.code == 0, run.output
    rows = {_owner(r): r for r in live_view(handle, "contoso").settings[DAVE]}
    assert rows[enabled]["lmi_ssoid"] == "dave2" and rows[disabled]["lmi_ssoid"] == "old"
