"""Nameless technicians: what a technician create leaves when it stops half-way.

Rescue creates a technician in two calls: ``createUser`` makes a node with a placeholder name and
no e-mail, then ``setUser_v2`` gives it its name and e-mail (which must be unique). When the
second call never happens (the process was killed, the reply was lost) or fails (another apply
took the e-mail first: ``INVALIDPARAM_EMAIL_ALREADY_IN_USE``), the node stays, with no e-mail.
``setUser`` requires an e-mail, so a technician without one was never completed: the plan
reports each as a finding (node ID and group), never as a technician, and never deletes it.
"""

from __future__ import annotations

from reconciler.providers.rescue.mapping import TECHNICIAN_TYPES, RescueTree


def orphan_findings(tree: RescueTree) -> list[str]:
    """One finding per technician node without an e-mail, by node ID."""
    findings = []
    for node in sorted(tree.nodes.values(), key=lambda n: (len(n.node_id), n.node_id)):
        if node.type not in TECHNICIAN_TYPES or node.email:
            continue
        group = tree.paths_by_id.get(node.parent_id)
        where = f"in group {group!r}" if group is not None else f"under node {node.parent_id}"
        findings.append(
            f"Rescue: technician node {node.node_id} {where} has no e-mail (named {node.name!r}): "
            "a create that never completed left it; delete it in the Rescue Admin Center"
        )
    return findings
