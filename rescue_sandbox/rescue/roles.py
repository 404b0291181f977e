"""Who may make which Administration Center call: the role of the user behind an authcode.

Rescue has three roles (docs/sandbox.md, "Rescue caller roles", with sources): a Master
Administrator controls the whole organization and alone may change locked permissions; an
Administrator works only in the technician groups assigned to them (an ``AdministratorLink``
under the group, or an ``AdministratorGroupLink`` of their administrator group) and below; a
technician has no Administration Center at all. The API "lets a Rescue account holder use the
Rescue Administration Center's features", so a technician's authcode is refused every
Administration Center method with ``NOTLOGGEDIN`` (the reference is silent: the stricter
reading), and an Administrator outside their groups gets each method's documented refusal.
"""

from __future__ import annotations

from collections.abc import Mapping

from rescue_sandbox.rescue.node import Node
from rescue_sandbox.rescue.status import RescueStatus

MASTER = "Masteradministrator"
ADMINISTRATOR = "Administrator"
ADMIN_TYPES = (MASTER, ADMINISTRATOR)


class Rights:
    """What ``actor`` may touch in the tree ``nodes`` (node ID -> node)."""

    def __init__(self, nodes: Mapping[int, Node], actor: Node) -> None:
        self.nodes = nodes
        self.actor = actor

    @property
    def master(self) -> bool:
        return self.actor.type == MASTER

    def admin_center(self) -> None:
        """Refuse a caller who cannot sign in to the Administration Center (a technician)."""
        if self.actor.type not in ADMIN_TYPES:
            raise RescueStatus("NOTLOGGEDIN")

    def _ancestors(self, node: Node) -> list[Node]:
        """``node``'s parents, nearest first."""
        found: list[Node] = []
        parent = self.nodes.get(node.parent_id)
        while parent is not None and len(found) < len(self.nodes):
            found.append(parent)
            parent = self.nodes.get(parent.parent_id)
        return found

    def _assigned(self, group: Node) -> bool:
        """Whether the actor is assigned to ``group`` itself (a link of theirs under it)."""
        mine = {self.actor.node_id} | {a.node_id for a in self._ancestors(self.actor)}
        return any(
            n.parent_id == group.node_id and n.is_link and n.target in mine for n in self.nodes.values()
        )

    def manages(self, node: Node, *, strictly_below: bool = False) -> bool:
        """Whether the actor administers ``node``: a Master Administrator everything; an
        Administrator an assigned technician group (unless ``strictly_below``) and what is in it."""
        if self.master:
            return True
        if self.actor.type != ADMINISTRATOR:
            return False
        chain = self._ancestors(node) if strictly_below else [node, *self._ancestors(node)]
        return any(n.type == "TechnicianGroup" and self._assigned(n) for n in chain)

    def require(self, node: Node, token: str, *, strictly_below: bool = False) -> None:
        """Refuse with ``token`` (the method's documented refusal) unless the actor manages ``node``."""
        self.admin_center()
        if not self.manages(node, strictly_below=strictly_below):
            raise RescueStatus(token)

    def change_permissions(self, group: Node, permissions: list[str], locked: list[str]) -> None:
        """Locked permissions are "Group permissions that only a Master Administrator can change"
        (getGroup): an Administrator may neither change the locked list nor the state of a locked
        permission. The refusal tokens are undocumented (the stricter reading)."""
        if self.master:
            return
        if set(locked) != set(group.locked_permissions):
            raise RescueStatus("INVALIDPARAM_LOCKEDPERMISSION")
        before, after = set(group.permissions), set(permissions)
        if any((p in before) != (p in after) for p in group.locked_permissions):
            raise RescueStatus("INVALIDPARAM_PERMISSION")


def account_nodes(nodes: Mapping[int, Node], actor: Node) -> tuple[int, int]:
    """getAccount's AdminID and TechID for the account holder behind ``actor``: their enabled
    administrator node and technician node (0 when they have none), across the several node IDs
    one account holder can have."""
    holder = actor.holder or actor.node_id
    theirs = [n for n in nodes.values() if n.enabled and holder in (n.node_id, n.holder)]
    admin = next((n.node_id for n in theirs if n.type in ADMIN_TYPES), 0)
    tech = next((n.node_id for n in theirs if n.type == "Technician"), 0)
    return admin, tech
