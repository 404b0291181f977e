"""Carry out Rescue changes: create groups (createGroup + setGroup), set SSO IDs by
read-modify-write (setUser_v2 keeps every other field as read), create technicians.

The hierarchy is read afresh when apply starts, so a group or technician that appeared since
the plan is adopted instead of created twice.
"""

from __future__ import annotations

import logging
from typing import Literal

from reconciler.errors import ChangeFailed
from reconciler.plan import Change, Create, Update
from reconciler.providers.rescue.client import RescueClient
from reconciler.providers.rescue.mapping import RescueTree, build_tree, permission_list, technician_from_user
from reconciler.providers.retry import ClientTransportError
from reconciler.resources import RescueGroup, RescueTechnician, placeholder_email
from reconciler.resources.rescue_permissions import canonical

log = logging.getLogger(__name__)

# getUser_v3 field -> setUser_v2 parameter (setUser requires name, email, status and the add-ons).
_USER_FIELDS = {
    "NAME": "name",
    "NICK": "nick",
    "EMAIL": "email",
    "SSOID": "ssoid",
    "DESCRIPTION": "description",
    "HASMOBILEADDON": "mobileaddon",
    "HASRPATADDON": "rpataddon",
}


def _flag(value: str) -> str:
    """The add-on flags are .NET booleans: send `true` / `false`."""
    return "true" if value.strip().lower() in ("1", "true", "yes", "on") else "false"


def _status(value: str) -> str:
    """setUser takes Enabled/Disabled; getUser reports presence (Online, Offline, ...) or Disabled."""
    return "Disabled" if value.strip().lower() in ("disabled", "0", "false") else "Enabled"


def set_user_params(read: dict[str, str], **changes: str) -> dict[str, str]:
    """setUser_v2 parameters: every field as read, with ``changes`` on top."""
    params = {"node": read.get("NODEID", "")}
    for field, param in _USER_FIELDS.items():
        value = read.get(field, "")
        params[param] = _flag(value) if param in ("mobileaddon", "rpataddon") else value
    params["status"] = _status(read.get("STATUS", ""))
    params.update(changes)
    return params


class RescueWriter:
    def __init__(self, client: RescueClient) -> None:
        self.client = client
        self.tree: RescueTree | None = None
        self.group_ids: dict[str, str] = {}
        self.technician_ids: dict[str, str] = {}  # placeholder ("new:<email>") -> node id

    async def refresh(self) -> RescueTree:
        hierarchy = await self.client.get_hierarchy()
        self.tree = build_tree(hierarchy.blocks, hierarchy.odd)
        return self.tree

    async def create_group(self, change: Change) -> str:
        assert isinstance(change, Create) and isinstance(change.desired, RescueGroup)
        tree = self.tree or await self.refresh()
        path = change.desired.path
        existing = tree.group_id(path)
        if existing:
            self.group_ids[path.casefold()] = existing
            return f"already exists (node {existing})"
        if tree.odd:
            raise ChangeFailed(
                f"group {path!r} was not found, but the hierarchy records of {tree.odd_labels()} "
                "could not be read and one may be it: fix their names in the Rescue Admin Center"
            )
        parent_path, _, name = path.rpartition("/")
        if parent_path:
            parent = self.group_ids.get(parent_path.casefold()) or tree.group_id(parent_path)
            if not parent:
                raise ChangeFailed(f"parent group {parent_path!r} does not exist")
        else:
            parent = tree.root_id
            if not parent:
                raise ChangeFailed("the Rescue hierarchy has no Technicians root")
        node = await self._create_node("group", parent)
        await self.client.set_group(node, name, permissions=change.desired.permissions)
        self.group_ids[path.casefold()] = node
        if change.desired.permissions is None:
            return (
                f"created (node {node}) with Rescue's default permissions (review them in the Admin Center)"
            )
        return f"created (node {node})"

    async def group_permissions(self, change: Change) -> str:
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

    async def _create_node(self, kind: Literal["group", "technician"], parent: str) -> str:
        """createGroup / createUser; after a lost reply, find the node the call made.

        Both answer only the new node ID, and the node stays unnamed until setGroup / setUser_v2.
        When the reply is lost the call may have worked: re-read the hierarchy and adopt the one
        new node of that type under ``parent``, so no nameless node is left behind; when there is
        none, nothing was created and the create is sent again; several is ambiguous: stop.
        """
        create = self.client.create_group if kind == "group" else self.client.create_user
        known = set(self.tree.nodes if self.tree else ()) | set(self.group_ids.values())
        known |= set(self.technician_ids.values())
        try:
            return await create(parent)
        except ClientTransportError as exc:
            if not exc.maybe_applied:
                raise
            lost = exc
        node_type = "techniciangroup" if kind == "group" else "technician"
        tree = await self.refresh()
        fresh = sorted(
            n.node_id
            for n in tree.nodes.values()
            if n.node_id not in known and n.parent_id == parent and n.type == node_type and not n.email
        )
        if len(fresh) == 1:
            log.warning("rescue: the reply to create%s was lost; adopting node %s it made", kind, fresh[0])
            return fresh[0]
        if not fresh:
            return await create(parent)  # it never reached Rescue: nothing to adopt
        raise ChangeFailed(
            f"{lost.message}; several new unnamed nodes under {parent} ({', '.join(fresh)}): "
            "check them in the Rescue Admin Center"
        )

    async def technician(self, change: Change) -> str:
        assert isinstance(change, Create | Update) and isinstance(change.desired, RescueTechnician)
        desired = change.desired
        if isinstance(change, Create):
            return await self._create_technician(desired)
        read = await self.client.get_user(node=desired.technician_id)
        now = technician_from_user(read)
        planned = change.live
        if planned.meta.etag and now.meta.etag != planned.meta.etag and now.sso_id != desired.sso_id:
            raise ChangeFailed(
                f"technician {desired.technician_id} changed since the plan "
                f"(SSO ID now {now.sso_id!r}); plan again"
            )
        if now.sso_id == desired.sso_id:
            return "already up to date"
        await self.client.set_user(set_user_params(read, ssoid=desired.sso_id or ""))
        return "SSO ID set"

    async def _create_technician(self, desired: RescueTechnician) -> str:
        tree = self.tree or await self.refresh()
        email = desired.email or placeholder_email(desired.technician_id) or desired.technician_id
        existing = tree.technicians_by_email.get(email)
        if existing:
            self.technician_ids[desired.technician_id] = existing
            read = await self.client.get_user(node=existing)
            if desired.sso_id and read.get("SSOID", "") != desired.sso_id:
                await self.client.set_user(set_user_params(read, ssoid=desired.sso_id))
            return f"already exists (node {existing})"
        if tree.odd:
            raise ChangeFailed(
                f"no technician with the email {email} was found, but the hierarchy records of "
                f"{tree.odd_labels()} could not be read and one may be it"
            )
        group = desired.create_group or ""
        parent = self.group_ids.get(group.casefold()) or tree.group_id(group)
        if not parent:
            raise ChangeFailed(f"technician group {group!r} does not exist")
        node = await self._create_node("technician", parent)
        name = desired.name or email
        await self.client.set_user(
            {
                "node": node,
                "name": name,
                "nick": name,
                "email": email,
                "ssoid": desired.sso_id or "",
                "status": "Enabled",
                "description": "",
                "mobileaddon": "false",
                "rpataddon": "false",
            }
        )
        self.technician_ids[desired.technician_id] = node
        return f"created (node {node})"
