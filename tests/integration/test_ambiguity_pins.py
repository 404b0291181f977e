"""Review of issue 16 (F5): a ``rescue_groups[].node_id`` pin disambiguates every reference to
its path, as the messages advise: a technician's ``create.group``, a technician rule's
``rescue_group``, and the parent of a group to create; apply writes under the pinned nodes only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .test_ambiguity import (
    CASE_1,
    _apply,
    _changes,
    _contoso,
    _fast_clients,
    _nodes,
    _plan,
    _seed,
    sandbox_of,
)
from .test_apply_support import writes

__all__ = ["_fast_clients", "sandbox_of"]  # fixtures used by name

pytestmark = pytest.mark.integration


def test_pins_choose_for_children_rules_and_creates(sandbox_of: Any, tmp_path: Path) -> None:
    handle = sandbox_of(
        _seed(
            rescue_groups=CASE_1,
            users=[{"domainname": "mallory@contoso.com"}, {"domainname": "zed@contoso.com"}],
        )
    )
    tenants = _contoso(
        tmp_path,
        rescue_groups=[
            {"path": "Support", "node_id": "41100"},
            {"path": "Support/Tier 2", "node_id": "41120"},
            {"path": "Support/Tier 3"},
        ],
        technicians=[
            {"user": "zed@contoso.com", "sso_id": "zed", "create": {"group": "Support/Tier 2", "name": "Zed"}}
        ],
        technician_rules=[{"rescue_group": "Support/Tier 2", "sso_id": "{local}"}],
    )
    before = _nodes(handle)
    tier2 = {n["email"] for n in before.values() if str(n.get("parent_id")) == "41120" and n.get("email")}
    code, plan, text = _plan(tenants, handle)
    assert code == 0, text
    changes = _changes(plan)
    assert [c for c in plan["changes"] if c["op"] == "unknown"] == []
    assert changes["rescue_group:Support/Tier 3"]["op"] == "create"
    assert changes["rescue_technician:new:zed@contoso.com"]["op"] == "create"
    # The rule maps the pinned group's technicians, not mallory of the look-alike 41900.
    ruled = {c["key"] for c in plan["changes"] if c["kind"] == "technician"} - {"zed@contoso.com"}
    assert ruled == tier2 and "mallory@contoso.com" not in ruled, ruled

    assert _apply(tenants, handle) == 0, text
    after = _nodes(handle)
    new = {n: after[n] for n in set(after) - set(before)}
    assert sorted((str(n["parent_id"]), n["type"]) for n in new.values()) == [
        ("41100", "TechnicianGroup"),
        ("41120", "Technician"),
    ], new
    assert [after[n] for n in (41900, 41901, 41950)] == [before[n] for n in (41900, 41901, 41950)]
    # The request log names no parameters: the calls are these four, and the nodes above say where.
    rescue_writes = sorted(w["template"] for w in writes(handle, "contoso") if w["service"] == "rescue")
    assert rescue_writes == ["createGroup.aspx", "createUser.aspx", "setGroup_v2.aspx", "setUser_v2.aspx"]
    code, plan, _ = _plan(tenants, handle)
    assert code == 0 and [c for c in plan["changes"] if c["op"] != "manual"] == [], plan


def test_a_pin_none_of_the_candidates_leaves_references_unknown(sandbox_of: Any, tmp_path: Path) -> None:
    handle = sandbox_of(_seed(rescue_groups=CASE_1, users=[{"domainname": "zed@contoso.com"}]))
    tenants = _contoso(
        tmp_path,
        rescue_groups=[
            {"path": "Support", "node_id": "41100"},
            {"path": "Support/Tier 2", "node_id": "41950"},
        ],
        technicians=[
            {"user": "zed@contoso.com", "sso_id": "zed", "create": {"group": "Support/Tier 2", "name": "Zed"}}
        ],
        technician_rules=[{"rescue_group": "Support/Tier 2", "sso_id": "{local}"}],
    )
    code, plan, _ = _plan(tenants, handle)
    assert code == 3, plan
    changes = _changes(plan)
    for key in (
        "technician:zed@contoso.com",
        "technician:technician_rules[0]",
        "rescue_group:Support/Tier 2",
    ):
        assert changes[key]["op"] == "unknown" and "41950" in changes[key]["reason"], changes[key]
    assert _apply(tenants, handle) == 3
    assert writes(handle, "contoso") == []
