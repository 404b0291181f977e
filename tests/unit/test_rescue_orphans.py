"""providers/rescue/orphans.py: a technician without an e-mail is a finding, by node ID and group."""

from __future__ import annotations

from reconciler.providers.rescue.mapping import build_tree
from reconciler.providers.rescue.orphans import orphan_findings


def _node(node: str, parent: str, name: str, type_: str, email: str = "") -> dict[str, str]:
    return {"NODEID": node, "PARENTID": parent, "NAME": name, "TYPE": type_, "EMAIL": email}


def test_each_technician_without_an_email_is_one_finding_in_node_order() -> None:
    tree = build_tree(
        [
            _node("1", "0", "Technicians", "Technicians"),
            _node("2", "1", "Support", "TechnicianGroup"),
            _node("3", "2", "Tier\n1", "TechnicianGroup"),
            _node("10", "2", "Alice", "Technician", "alice@contoso.com"),
            _node("101", "3", "New User", "Technician"),
            _node("99", "2", "New User", "Technician"),
            _node("5", "0", "Administrators", "Administrators"),
            _node("6", "5", "New User", "Administrator"),  # not a technician: not ours to report
        ]
    )
    assert orphan_findings(tree) == [
        "Rescue: technician node 99 in group 'Support' has no e-mail (named 'New User'): "
        "a create that never completed left it; delete it in the Rescue Admin Center",
        "Rescue: technician node 101 in group 'Support/Tier\\n1' has no e-mail (named 'New User'): "
        "a create that never completed left it; delete it in the Rescue Admin Center",
    ]


def test_a_complete_tree_has_no_finding() -> None:
    tree = build_tree(
        [_node("1", "0", "Technicians", "Technicians"), _node("2", "1", "S", "TechnicianGroup")]
    )
    assert orphan_findings(tree) == []
