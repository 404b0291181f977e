"""Carry out Rescue changes: create groups (createGroup + setGroup), set SSO IDs by
read-modify-write (setUser_v2 keeps every other field as read), create technicians.

The hierarchy is read afresh when apply starts, so a group or technician that appeared since
the plan is adopted instead of created twice.
"""

from __future__ import annotations

import logging
from typing import Literal

from reconciler.errors import ApiError, ChangeFailed, ProviderError
from reconciler.plan import Change, Create, Update
from reconciler.providers.rescue.client import RescueClient
from reconciler.providers.rescue.mapping import (
    TECHNICIAN_TYPES,
    Node,
    RescueTree,
    build_tree,
    permission_list,
    technician_from_user,
)
from reconciler.providers.retry import ClientTransportError
from reconciler.resources import RescueGroup, RescueTechnician, placeholder_email
from reconciler.resources.matching import name_key
from reconciler.resources.rescue_permissions import canonical

log = logging.getLogger(__name__)

EMAIL_IN_USE = "INVALIDPARAM_EMAIL_ALREADY_IN_USE"
# getHierarchy_v2 types (case-folded) of the users whose e-mails Rescue keeps unique.
USER_TYPES = frozenset({"technician", "administrator", "masteradministrator"})

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
        node, _ = await self._create_node("group", parent)
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

    async def _create_node(
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
            holder = _email_holder(tree, email, parent)
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
        key = name_key(email)
        if key in tree.duplicate_emails:  # live state changed since the plan: never pick one
            raise ChangeFailed(
                f"several Rescue technicians now have the email {email}: "
                f"{', '.join(tree.nodes_with_email(key))}; pin technician_id and plan again"
            )
        existing = tree.technicians_by_email.get(key)
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
        node, how = await self._create_node("technician", parent, email=email)
        if how == "taken":  # another run completed it while our create's reply was lost
            return await self._adopt(desired, node, f"its create's reply was lost; {email} is node {node}")
        name = desired.name or email
        try:
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
        except ApiError as exc:
            if exc.code != EMAIL_IN_USE:
                raise
            return await self._settle(desired, email, parent, node, how, exc.message)
        except ClientTransportError as exc:  # setUser_v2 is retried; these were its last tries
            return await self._settle(desired, email, parent, node, how, exc.message)
        self.technician_ids[desired.technician_id] = node
        return f"created (node {node})"

    async def _settle(
        self,
        desired: RescueTechnician,
        email: str,
        parent: str,
        node: str,
        how: Literal["answered", "adopted"],
        failure: str,
    ) -> str:
        """setUser_v2 of a new technician failed (e-mail in use) or its reply was lost: re-read.

        Its e-mail on our node: done. On exactly one other technician in the intended group
        (another run created it at the same time): adopt that one, and delete the nameless node
        our createUser made (only when Rescue answered its ID: then it is ours for certain).
        Anywhere else, or on several nodes: the change fails and names them; nothing is guessed.
        """
        tree = await self.refresh()
        holders = _email_users(tree, email)
        if [h.node_id for h in holders] == [node]:
            self.technician_ids[desired.technician_id] = node
            return f"created (node {node})"
        if how == "answered":
            left = await self._remove_unfinished(tree, node, parent)
        else:  # adopted after a lost reply: perhaps another run's node, so never deleted
            left = node if node in tree.nodes and not tree.nodes[node].email else ""
        leftover = (
            f"; node {left} is left without a name: delete it in the Rescue Admin Center" if left else ""
        )
        if len(holders) > 1:
            raise ChangeFailed(
                f"{failure}; {email} is on several Rescue nodes ({_nodes_text(tree, holders)}): "
                f"the tenant file must pin one with technician_id{leftover}"
            )
        if not holders:
            raise ChangeFailed(f"{failure}; no node holds {email} after it{leftover}")
        holder = holders[0]
        if holder.parent_id != parent or holder.type not in TECHNICIAN_TYPES:
            raise ChangeFailed(
                f"{failure}; {email} belongs to {_nodes_text(tree, holders)}, not to a technician of "
                f"the intended group: nothing adopted{leftover}"
            )
        return await self._adopt(desired, holder.node_id, f"another run created it first{leftover}")

    async def _remove_unfinished(self, tree: RescueTree, node: str, parent: str) -> str:
        """Delete our own nameless node; '' when done or gone, else its ID (it stays, reported)."""
        mine = tree.nodes.get(node)
        if mine is None:
            return ""
        if mine.email or mine.parent_id != parent or mine.type not in TECHNICIAN_TYPES:
            return ""  # no longer what our create made: not ours to remove
        try:
            await self.client.delete_node(node)
        except ProviderError as exc:
            log.warning("rescue: could not delete the unfinished node %s: %s", node, exc.message)
            return node
        return ""

    async def _adopt(self, desired: RescueTechnician, node: str, how: str) -> str:
        """Take ``node`` as the technician: its SSO ID set as declared (read-modify-write)."""
        self.technician_ids[desired.technician_id] = node
        read = await self.client.get_user(node=node)
        if desired.sso_id and read.get("SSOID", "") != desired.sso_id:
            await self.client.set_user(set_user_params(read, ssoid=desired.sso_id))
        return f"adopted node {node} ({how})"


def _email_users(tree: RescueTree, email: str) -> list[Node]:
    """Every user node (technician or administrator) whose e-mail is ``email`` (Rescue keeps
    e-mails unique across users, case-insensitively)."""
    wanted = email.strip().lower()
    return sorted(
        (n for n in tree.nodes.values() if n.email and n.email == wanted and n.type in USER_TYPES),
        key=lambda n: (len(n.node_id), n.node_id),
    )


def _email_holder(tree: RescueTree, email: str, parent: str) -> str | None:
    """The one technician under ``parent`` holding ``email``; None when none. Several holders,
    or one elsewhere, are refused: the caller cannot tell which is meant."""
    holders = _email_users(tree, email)
    if not holders:
        return None
    if len(holders) == 1 and holders[0].parent_id == parent and holders[0].type in TECHNICIAN_TYPES:
        return holders[0].node_id
    raise ChangeFailed(f"{email} is already on {_nodes_text(tree, holders)}: nothing adopted")


def _nodes_text(tree: RescueTree, nodes: list[Node]) -> str:
    return ", ".join(
        f"node {n.node_id} ({n.type} in {tree.paths_by_id.get(n.parent_id, 'node ' + n.parent_id)!r})"
        for n in nodes
    )
