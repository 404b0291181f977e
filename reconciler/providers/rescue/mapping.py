"""Pure mapping of Rescue API blocks to resources: the hierarchy tree, groups by path (a tuple of
names), technicians by email, each looked up through ``resources/matching.py`` (every candidate,
never the first). Keys of blocks are upper-cased by the text parser."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from reconciler.config.text import excerpt
from reconciler.diff import RescueDirectory
from reconciler.diff.rules import DirectoryGroup, DirectoryTechnician
from reconciler.errors import ChangeFailed
from reconciler.providers.rescue.records import OddRecord
from reconciler.resources import LiveMeta, RescueGroup, RescueTechnician, Unknown
from reconciler.resources.matching import PATH_SEPARATOR, Index, Match, name_key
from reconciler.resources.rescue_permissions import canonical

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

    def group_match(self, path: str) -> Match[DirectoryGroup]:
        """Every live group a declared path may name."""
        return self._directory.group(path)

    def group_id(self, path: str) -> str | None:
        """The node ID of the one group ``path`` names, None when none does; several is a
        ``ChangeFailed`` naming them (a write never picks one)."""
        found = self.group_match(path)
        if found.ambiguous:
            raise ChangeFailed(
                f"the group path {excerpt(path)} names {len(found.candidates)} Rescue groups: "
                f"{found.named(DirectoryGroup.shown)}; rename one in the Rescue Admin Center"
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


@dataclass
class GroupsRead:
    """Live groups keyed as the tenant files declare them, and what could not be decided."""

    groups: list[RescueGroup] = field(default_factory=list)
    ids: dict[str, str] = field(default_factory=dict)  # casefolded declared path -> node id
    unknown: list[Unknown] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def declared_keys(paths: Iterable[str]) -> list[str]:
    """The declared paths and their ancestors, spelt as the desired side keys them
    (``diff/desired.py``: a declared path's own spelling, else an ancestor's first)."""
    paths = list(paths)
    declared = {p.casefold(): p for p in paths}
    keys: dict[str, str] = {}
    for path in paths:
        parts = path.split(PATH_SEPARATOR)
        for depth in range(1, len(parts)):
            ancestor = PATH_SEPARATOR.join(parts[:depth])
            if ancestor.casefold() not in declared:
                keys.setdefault(ancestor.casefold(), ancestor)
        keys[path.casefold()] = declared[path.casefold()]
    return list(keys.values())


def groups_from_tree(
    tree: RescueTree, declared: Iterable[str] = (), pins: Mapping[str, str] | None = None
) -> GroupsRead:
    """Every live group; each declared path (and ancestor) keyed as declared when exactly one
    live group is what it names (in normal form, ``resources/matching.py``), else Unknown with
    every candidate. ``pins`` (casefolded path -> node ID) choose among the candidates."""
    out = GroupsRead()
    pins = pins or {}
    candidates: set[str] = set()  # every group some declared path may name: keyed by that path only
    for key in declared_keys(declared):
        found = tree.group_match(key)
        candidates.update(g.node_id for g in found.candidates)
        pin = pins.get(key.casefold())
        if pin is not None:
            pinned = found.pinned(pin, lambda g: g.node_id)
            if pinned.none:
                named = found.named(DirectoryGroup.shown) if found.candidates else "none"
                reason = f"node_id {pin} is not a group with this path (the groups it names: {named})"
                out.unknown.append(Unknown("rescue_group", key, reason))
                continue
            found = pinned
        group = found.one
        if found.ambiguous:
            reason = (
                f"the path names {len(found.candidates)} Rescue groups: {found.named(DirectoryGroup.shown)}; "
                "nothing is written to them: rename one in the Rescue Admin Center, or pin node_id"
            )
            out.unknown.append(Unknown("rescue_group", key, reason))
        elif group is None:
            parent = _ambiguous_ancestor(tree, key)
            if parent:
                out.unknown.append(
                    Unknown("rescue_group", key, f"not found, and {parent}; it is not created")
                )
        else:
            out.groups.append(RescueGroup(path=key, meta=LiveMeta(id=group.node_id)))
            out.ids[key.casefold()] = group.node_id
            joined = PATH_SEPARATOR.join(group.names)
            if len(group.names) != len(key.split(PATH_SEPARATOR)) or joined.casefold() != key.casefold():
                out.notes.append(
                    f"the declared Rescue group {excerpt(key)} is the live {group.shown()}: they differ in "
                    "form only (a '/' inside a name, spaces, Unicode form or invisible characters)"
                )
    for node_id in sorted(tree.paths_by_id, key=lambda i: tree.paths_by_id[i]):
        if node_id not in candidates:
            out.groups.append(RescueGroup(path=tree.paths_by_id[node_id], meta=LiveMeta(id=node_id)))
    return out


def _ambiguous_ancestor(tree: RescueTree, path: str) -> str:
    """Why a missing group cannot be created: an ancestor path names several groups ('' if none)."""
    parts = path.split(PATH_SEPARATOR)
    for depth in range(len(parts) - 1, 0, -1):
        ancestor = PATH_SEPARATOR.join(parts[:depth])
        found = tree.group_match(ancestor)
        if found.one is not None:
            return ""  # the group is created under it (and any missing one between)
        if found.ambiguous:
            return (
                f"its parent path {excerpt(ancestor)} names {len(found.candidates)} Rescue groups: "
                f"{found.named(DirectoryGroup.shown)}"
            )
    return ""


def permission_list(value: str) -> list[str]:
    """getGroup_v2's ``PERMISSIONS`` / ``LOCKEDPERMISSIONS``: names separated by commas."""
    return [p.strip() for p in value.split(",") if p.strip()]


def group_from_read(path: str, fields: Mapping[str, str]) -> RescueGroup:
    """A group with the permissions getGroup_v2 shows (canonical order)."""
    return RescueGroup(
        path=path,
        permissions=canonical(permission_list(fields.get("PERMISSIONS", ""))),
        meta=LiveMeta(id=fields.get("NODEID", "").strip()),
    )


def technician_from_user(fields: Mapping[str, str]) -> RescueTechnician:
    """getUser_v3 fields -> resource; the full field set rides along for read-modify-write."""
    sso = fields.get("SSOID", "").strip()
    technician = RescueTechnician(
        technician_id=fields.get("NODEID", "").strip(),
        email=fields.get("EMAIL", "").strip().lower() or None,
        sso_id=sso or None,
    )
    return RescueTechnician(
        technician_id=technician.technician_id,
        email=technician.email,
        sso_id=technician.sso_id,
        meta=LiveMeta(id=technician.technician_id, etag=technician.content_hash()),
    )
