"""Pure mapping of Rescue API blocks to resources: the hierarchy tree, groups by path,
technicians by email. Keys of blocks are upper-cased by the text parser."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from reconciler.diff import RescueDirectory
from reconciler.diff.rules import DirectoryTechnician
from reconciler.providers.rescue.records import OddRecord
from reconciler.resources import LiveMeta, RescueGroup, RescueTechnician
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
    """The hierarchy as read by getHierarchy_v2, indexed for lookups."""

    nodes: dict[str, Node] = field(default_factory=dict)
    root_id: str = ""
    group_paths: dict[str, str] = field(default_factory=dict)  # casefolded path -> node id
    paths_by_id: dict[str, str] = field(default_factory=dict)  # node id -> path as named
    technicians_by_email: dict[str, str] = field(default_factory=dict)
    duplicate_emails: list[str] = field(default_factory=list)
    odd: list[OddRecord] = field(default_factory=list)  # records the reply could not frame

    def odd_labels(self) -> str:
        """The odd records, named, for messages (at most five)."""
        names = ", ".join(o.label for o in self.odd[:5])
        return names + (f" and {len(self.odd) - 5} more" if len(self.odd) > 5 else "")

    def directory(self) -> RescueDirectory:
        return RescueDirectory(
            by_email=dict(self.technicians_by_email),
            node_ids=frozenset(n.node_id for n in self.nodes.values() if n.type in TECHNICIAN_TYPES),
            technicians=tuple(
                DirectoryTechnician(n.node_id, n.email, self.paths_by_id[n.parent_id])
                for n in self.nodes.values()
                if n.type in TECHNICIAN_TYPES and n.email and n.parent_id in self.paths_by_id
            ),
            groups=frozenset(self.group_paths),
            incomplete=self.odd_labels() if self.odd else "",
        )

    def group_id(self, path: str) -> str | None:
        return self.group_paths.get(path.casefold())


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
    stack = [(tree.root_id, "")] if tree.root_id else []
    while stack:
        parent, prefix = stack.pop()
        for child in children.get(parent, []):
            if child.type in GROUP_TYPES:
                path = f"{prefix}/{child.name}" if prefix else child.name
                tree.group_paths.setdefault(path.casefold(), child.node_id)
                tree.paths_by_id[child.node_id] = path
                stack.append((child.node_id, path))
    for node in tree.nodes.values():
        if node.type in TECHNICIAN_TYPES and node.email:
            if node.email in tree.technicians_by_email:
                tree.duplicate_emails.append(node.email)
                continue
            tree.technicians_by_email[node.email] = node.node_id
    return tree


def groups_from_tree(tree: RescueTree) -> list[RescueGroup]:
    return [
        RescueGroup(path=tree.paths_by_id[node_id], meta=LiveMeta(id=node_id))
        for node_id in sorted(tree.paths_by_id, key=lambda i: tree.paths_by_id[i])
    ]


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
