"""What every Rescue kind module writes with: the client, the hierarchy as read when apply
started (read afresh, so a group or technician that appeared since the plan is adopted instead of
created twice), the IDs created in this run, and node creation that survives a lost reply.

The writes themselves live in the kind modules (``groups.py``, ``technicians.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Literal

from reconciler.errors import ChangeFailed
from reconciler.providers.rescue.client import RescueClient
from reconciler.providers.rescue.mapping import TECHNICIAN_TYPES, Node, RescueTree, build_tree
from reconciler.providers.retry import ClientTransportError

log = logging.getLogger(__name__)

# getHierarchy_v2 types (case-folded) of the users whose e-mails Rescue keeps unique.
USER_TYPES = frozenset({"technician", "administrator", "masteradministrator"})


class RescueWriter:
    def __init__(self, client: RescueClient, group_pins: Mapping[str, str] | None = None) -> None:
        self.client = client
        # The tenant files' rescue_groups node_id pins (casefolded path -> node ID): a path that
        # names several live groups is the pinned one for every write too, as in the plan.
        self.group_pins: Mapping[str, str] = dict(group_pins or {})
        self.tree: RescueTree | None = None
        self.group_ids: dict[str, str] = {}
        self.technician_ids: dict[str, str] = {}  # placeholder ("new:<email>") -> node id

    async def refresh(self) -> RescueTree:
        hierarchy = await self.client.get_hierarchy()
        self.tree = build_tree(hierarchy.blocks, hierarchy.odd)
        return self.tree

    async def create_node(
        self, kind: Literal["group", "technician"], parent: str, *, email: str = ""
    ) -> tuple[str, Literal["answered", "adopted", "taken"]]:
        """createGroup / createUser; after a lost reply, find the node the call made.

        Both answer only the new node ID, and the node stays unnamed until setGroup / setUser_v2.
        When the reply is lost the call may have worked: re-read the hierarchy. A technician
        whose ``email`` another run completed meanwhile is taken as it is (``"taken"``);
        otherwise the one new node of that type under ``parent`` is adopted (``"adopted"``), so
        no nameless node is left behind; when there is none, nothing was created and the create
        is sent again; several is ambiguous: stop. ``"answered"``: the node Rescue named is ours.
        """
        create = self.client.create_group if kind == "group" else self.client.create_user
        known = set(self.tree.nodes if self.tree else ()) | set(self.group_ids.values())
        known |= set(self.technician_ids.values())
        try:
            return await create(parent), "answered"
        except ClientTransportError as exc:
            if not exc.maybe_applied:
                raise
            lost = exc
        node_type = "techniciangroup" if kind == "group" else "technician"
        tree = await self.refresh()
        if email:
            holder = email_holder(tree, email, parent)
            if holder is not None:
                return holder, "taken"
        fresh = sorted(
            n.node_id
            for n in tree.nodes.values()
            if n.node_id not in known and n.parent_id == parent and n.type == node_type and not n.email
        )
        if len(fresh) == 1:
            log.warning("rescue: the reply to create%s was lost; adopting node %s it made", kind, fresh[0])
            return fresh[0], "adopted"
        if not fresh:
            return await create(parent), "answered"  # it never reached Rescue: nothing to adopt
        raise ChangeFailed(
            f"{lost.message}; several new unnamed nodes under {parent} ({', '.join(fresh)}): "
            "check them in the Rescue Admin Center"
        )


def email_users(tree: RescueTree, email: str) -> list[Node]:
    """Every user node (technician or administrator) whose e-mail is ``email`` (Rescue keeps
    e-mails unique across users, case-insensitively)."""
    wanted = email.strip().lower()
    return sorted(
        (n for n in tree.nodes.values() if n.email and n.email == wanted and n.type in USER_TYPES),
        key=lambda n: (len(n.node_id), n.node_id),
    )


def email_holder(tree: RescueTree, email: str, parent: str) -> str | None:
    """The one technician under ``parent`` holding ``email``; None when none. Several holders,
    or one elsewhere, are refused: the caller cannot tell which is meant."""
    holders = email_users(tree, email)
    if not holders:
        return None
    if len(holders) == 1 and holders[0].parent_id == parent and holders[0].type in TECHNICIAN_TYPES:
        return holders[0].node_id
    raise ChangeFailed(f"{email} is already on {nodes_text(tree, holders)}: nothing adopted")


def nodes_text(tree: RescueTree, nodes: list[Node]) -> str:
    return ", ".join(
        f"node {n.node_id} ({n.type} in {tree.paths_by_id.get(n.parent_id, 'node ' + n.parent_id)!r})"
        for n in nodes
    )
