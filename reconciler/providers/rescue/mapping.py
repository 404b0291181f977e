"""Pure mapping of Rescue API blocks to the hierarchy tree (getHierarchy_v2): groups by path (a
tuple of names), technicians by email, each looked up through ``resources/matching.py`` (every
candidate, never the first). Keys of blocks are upper-cased by the text parser. What each kind
makes of the tree is in its module (``groups.py``, ``technicians.py``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from reconciler.config.text import excerpt
from reconciler.diff import RescueDirectory
from reconciler.diff.rules import DirectoryGroup, DirectoryTechnician, pin_missed, pinned_group
from reconciler.errors import ChangeFailed
from reconciler.providers.rescue.records import OddRecord
from reconciler.resources.matching import PATH_SEPARATOR, Index, Match, name_key

GROUP_TYPES = {"techniciangroup"}
TECHNICIAN_TYPES = {"technician"}
TECHNICIANS_ROOT_TYPES = {"technicians"}


@dataclass(frozen=True)
class Node:
    node_id: str
    parent_id: str
    name: str
    type: str
    email: str
    status: str


@dataclass
class RescueTree:
    """The hierarchy as read by getHierarchy_v2, indexed for lookups.

    A group's path is a tuple of names (``group_names``): a name holding ``/`` stays one name.
    Lookups by path or e-mail go through ``resources/matching.py`` and answer every candidate;
    ``paths_by_id`` joins the names with ``/`` for display and export only.
    """

    nodes: dict[str, Node] = field(default_factory=dict)
    root_id: str = ""
    group_names: dict[str, tuple[str, ...]] = field(default_factory=dict)  # node id -> names, root first
    # node id -> the node IDs of the groups it is in and itself, outermost first
    group_chain: dict[str, tuple[str, ...]] = field(default_factory=dict)
    paths_by_id: dict[str, str] = field(default_factory=dict)  # node id -> path as named, joined
    # e-mail -> node ID of the e-mails exactly one technician has (in normal form)
    technicians_by_email: dict[str, str] = field(default_factory=dict)
    duplicate_emails: list[str] = field(default_factory=list)  # shared by several (normal form)
    odd: list[OddRecord] = field(default_factory=list)  # records the reply could not frame

    def nodes_with_email(self, key: str) -> list[str]:
        """The node IDs of the technicians whose e-mail is ``key`` (normal form), in node order."""
        found = (n for n in self.nodes.values() if n.type in TECHNICIAN_TYPES and name_key(n.email) == key)
        return sorted((n.node_id for n in found), key=_node_order)

    def odd_labels(self) -> str:
        """The odd records, named, for messages (at most five)."""
        names = ", ".join(o.label for o in self.odd[:5])
        return names + (f" and {len(self.odd) - 5} more" if len(self.odd) > 5 else "")

    @cached_property
    def _directory(self) -> RescueDirectory:
        # By node ID, so candidates are named in the same order in every plan.
        return RescueDirectory(
            technicians=tuple(
                DirectoryTechnician(n.node_id, n.email, self.group_chain.get(n.parent_id, ()))
                for n in sorted(self.nodes.values(), key=lambda n: _node_order(n.node_id))
                if n.type in TECHNICIAN_TYPES
            ),
            groups=tuple(
                DirectoryGroup(node_id, self.group_names[node_id])
                for node_id in sorted(self.group_names, key=_node_order)
            ),
            incomplete=self.odd_labels() if self.odd else "",
        )

    def directory(self) -> RescueDirectory:
        return self._directory

    def group_match(self, path: str, pins: Mapping[str, str] | None = None) -> Match[DirectoryGroup]:
        """Every live group a declared path may name; the one its pin names when the tenant
        files pin it (``pins``: casefolded path -> node ID, ``diff/rules.py:group_pins``)."""
        return pinned_group(self._directory.group(path), path, pins or {})

    def group_id(self, path: str, pins: Mapping[str, str] | None = None) -> str | None:
        """The node ID of the one group ``path`` names (its pin chosen), None when none does;
        several, or a pin none of them has, is a ``ChangeFailed`` naming them (a write never
        picks one)."""
        found = self.group_match(path, pins)
        missed = pin_missed(path, pins or {}, self._directory.group(path)) if found.none else ""
        if missed:
            raise ChangeFailed(missed)
        if found.ambiguous:
            raise ChangeFailed(
                f"the group path {excerpt(path)} names {len(found.candidates)} Rescue groups: "
                f"{found.named(DirectoryGroup.shown)}; rename one in the Rescue Admin Center, or pin "
                "node_id in rescue_groups"
            )
        return found.one.node_id if found.one is not None else None


def _node_order(node_id: str) -> tuple[int, str]:
    return (int(node_id), "") if node_id.isascii() and node_id.isdigit() else (0, node_id)


def build_tree(blocks: Iterable[Mapping[str, str]], odd: Sequence[OddRecord] = ()) -> RescueTree:
    tree = RescueTree(odd=list(odd))
    for block in blocks:
        node_id = block.get("NODEID", "").strip()
        if not node_id:
            continue
        tree.nodes[node_id] = Node(
            node_id=node_id,
            parent_id=block.get("PARENTID", "").strip(),
            name=block.get("NAME", "").strip(),
            type=block.get("TYPE", "").strip().casefold(),
            email=block.get("EMAIL", "").strip().lower(),
            status=block.get("STATUS", "").strip(),
        )
    roots = [n for n in tree.nodes.values() if n.type in TECHNICIANS_ROOT_TYPES]
    if roots:
        tree.root_id = roots[0].node_id
    children: dict[str, list[Node]] = {}
    for node in tree.nodes.values():
        children.setdefault(node.parent_id, []).append(node)
    stack: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = (
        [(tree.root_id, (), ())] if tree.root_id else []
    )
    while stack:
        parent, names, chain = stack.pop()
        for child in children.get(parent, []):
            if child.type in GROUP_TYPES and child.node_id not in tree.group_names:
                tree.group_names[child.node_id] = (*names, child.name)
                tree.group_chain[child.node_id] = (*chain, child.node_id)
                tree.paths_by_id[child.node_id] = PATH_SEPARATOR.join(tree.group_names[child.node_id])
                stack.append(
                    (child.node_id, tree.group_names[child.node_id], tree.group_chain[child.node_id])
                )
    emails = Index(
        (n for n in tree.nodes.values() if n.type in TECHNICIAN_TYPES and n.email),
        key=lambda n: name_key(n.email),
    )
    tree.technicians_by_email = {email: node.node_id for email, node in emails.unique().items()}
    tree.duplicate_emails = sorted(emails.ambiguous())
    return tree
