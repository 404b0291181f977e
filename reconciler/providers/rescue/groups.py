"""The ``rescue_group`` kind in Rescue: technician groups by path below the Technicians root.

Read: the hierarchy's groups keyed as the tenant files declare them (one live group a path
names, else Unknown with every candidate, ``resources/matching.py``) and the permissions
getGroup_v2 shows. Write: createGroup + setGroup_v2 for a new group; setGroup_v2 by
read-modify-write (it needs every field) for declared permissions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from reconciler.config.text import excerpt
from reconciler.diff.rules import DirectoryGroup, pin_missed
from reconciler.errors import ChangeFailed
from reconciler.kinds.rescue_group import RescueGroup
from reconciler.plan import Change, Create, Update
from reconciler.providers.contract import WritesEach
from reconciler.providers.rescue.mapping import RescueTree
from reconciler.providers.rescue.writer import RescueWriter
from reconciler.resources import LiveMeta, Unknown
from reconciler.resources.matching import PATH_SEPARATOR
from reconciler.resources.rescue_permissions import canonical


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
        named = tree.group_match(key)
        candidates.update(g.node_id for g in named.candidates)
        found = tree.group_match(key, pins)
        missed = pin_missed(key, pins, named) if found.none else ""
        if missed:
            out.unknown.append(Unknown("rescue_group", key, missed))
            continue
        group = found.one
        if found.ambiguous:
            reason = (
                f"the path names {len(found.candidates)} Rescue groups: {found.named(DirectoryGroup.shown)}; "
                "nothing is written to them: rename one in the Rescue Admin Center, or pin node_id"
            )
            out.unknown.append(Unknown("rescue_group", key, reason))
        elif group is None:
            parent = _ambiguous_ancestor(tree, key, pins)
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


def _ambiguous_ancestor(tree: RescueTree, path: str, pins: Mapping[str, str]) -> str:
    """Why a missing group cannot be created: an ancestor path names several groups, or its
    pin none of them ('' if none; a pinned ancestor names the one it is created under)."""
    parts = path.split(PATH_SEPARATOR)
    for depth in range(len(parts) - 1, 0, -1):
        ancestor = PATH_SEPARATOR.join(parts[:depth])
        found = tree.group_match(ancestor, pins)
        if found.one is not None:
            return ""  # the group is created under it (and any missing one between)
        missed = pin_missed(ancestor, pins, tree.group_match(ancestor)) if found.none else ""
        if missed:
            return f"its parent: {missed}"
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


class GroupWrites(WritesEach):
    kind = "rescue_group"

    def __init__(self, rescue: RescueWriter) -> None:
        self.rescue = rescue
        self.client = rescue.client

    async def apply_one(self, change: Change) -> str:
        if isinstance(change, Update):
            return await self.permissions(change)
        return await self.create(change)

    async def create(self, change: Change) -> str:
        assert isinstance(change, Create) and isinstance(change.desired, RescueGroup)
        tree = self.rescue.tree or await self.rescue.refresh()
        path = change.desired.path
        pins = self.rescue.group_pins
        existing = tree.group_id(path, pins)
        if existing:
            self.rescue.group_ids[path.casefold()] = existing
            return f"already exists (node {existing})"
        if tree.odd:
            raise ChangeFailed(
                f"group {path!r} was not found, but the hierarchy records of {tree.odd_labels()} "
                "could not be read and one may be it: fix their names in the Rescue Admin Center"
            )
        parent_path, _, name = path.rpartition("/")
        if parent_path:
            parent = self.rescue.group_ids.get(parent_path.casefold()) or tree.group_id(parent_path, pins)
            if not parent:
                raise ChangeFailed(f"parent group {parent_path!r} does not exist")
        else:
            parent = tree.root_id
            if not parent:
                raise ChangeFailed("the Rescue hierarchy has no Technicians root")
        node, _ = await self.rescue.create_node("group", parent)
        await self.client.set_group(node, name, permissions=change.desired.permissions)
        self.rescue.group_ids[path.casefold()] = node
        if change.desired.permissions is None:
            return (
                f"created (node {node}) with Rescue's default permissions (review them in the Admin Center)"
            )
        return f"created (node {node})"

    async def permissions(self, change: Change) -> str:
        """Set a group's declared permissions: read-modify-write (setGroup_v2 needs every field)."""
        assert isinstance(change, Update) and isinstance(change.desired, RescueGroup)
        assert isinstance(change.live, RescueGroup)
        wanted = change.desired.permissions or ()
        read = await self.client.get_group(change.live.meta.id)
        now = canonical(permission_list(read.get("PERMISSIONS", "")))
        if now == wanted:
            return "already up to date"
        if now != change.live.permissions:
            raise ChangeFailed(f"group {change.key!r}'s permissions changed since the plan; plan again")
        enabled = read.get("ISENABLED", "").strip().lower() in ("true", "1")
        await self.client.set_group(
            change.live.meta.id,
            read.get("NAME", ""),
            status="Enabled" if enabled else "Disabled",
            description=read.get("DESCRIPTION", ""),
            permissions=wanted,
            locked=permission_list(read.get("LOCKEDPERMISSIONS", "")),
        )
        return "permissions set"
