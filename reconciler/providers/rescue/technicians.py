"""The ``rescue_technician`` kind in Rescue: a technician node, keyed by node ID; the
reconciler manages its SSO ID (read by getUser_v3, set by setUser_v2 read-modify-write: every
other field as read) and creates the technicians the tenant files ask for (createUser +
setUser_v2), adopting one another run created meanwhile instead of making a second."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Literal

from reconciler.errors import ApiError, ChangeFailed, ProviderError
from reconciler.kinds.rescue_technician import RescueTechnician, placeholder_email
from reconciler.plan import Change, Create, Update
from reconciler.providers.contract import WritesEach
from reconciler.providers.rescue.mapping import TECHNICIAN_TYPES, RescueTree
from reconciler.providers.rescue.writer import RescueWriter, email_users, nodes_text
from reconciler.providers.retry import ClientTransportError
from reconciler.resources import LiveMeta
from reconciler.resources.matching import name_key

log = logging.getLogger(__name__)

EMAIL_IN_USE = "INVALIDPARAM_EMAIL_ALREADY_IN_USE"
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


class TechnicianWrites(WritesEach):
    kind = "rescue_technician"

    def __init__(self, rescue: RescueWriter) -> None:
        self.rescue = rescue
        self.client = rescue.client

    async def apply_one(self, change: Change) -> str:
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
        tree = self.rescue.tree or await self.rescue.refresh()
        email = desired.email or placeholder_email(desired.technician_id) or desired.technician_id
        key = name_key(email)
        if key in tree.duplicate_emails:  # live state changed since the plan: never pick one
            raise ChangeFailed(
                f"several Rescue technicians now have the email {email}: "
                f"{', '.join(tree.nodes_with_email(key))}; pin technician_id and plan again"
            )
        existing = tree.technicians_by_email.get(key)
        if existing:
            self.rescue.technician_ids[desired.technician_id] = existing
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
        parent = self.rescue.group_ids.get(group.casefold()) or tree.group_id(group, self.rescue.group_pins)
        if not parent:
            raise ChangeFailed(f"technician group {group!r} does not exist")
        node, how = await self.rescue.create_node("technician", parent, email=email)
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
        self.rescue.technician_ids[desired.technician_id] = node
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
        tree = await self.rescue.refresh()
        holders = email_users(tree, email)
        if [h.node_id for h in holders] == [node]:
            self.rescue.technician_ids[desired.technician_id] = node
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
                f"{failure}; {email} is on several Rescue nodes ({nodes_text(tree, holders)}): "
                f"the tenant file must pin one with technician_id{leftover}"
            )
        if not holders:
            raise ChangeFailed(f"{failure}; no node holds {email} after it{leftover}")
        holder = holders[0]
        if holder.parent_id != parent or holder.type not in TECHNICIAN_TYPES:
            raise ChangeFailed(
                f"{failure}; {email} belongs to {nodes_text(tree, holders)}, not to a technician of "
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
        self.rescue.technician_ids[desired.technician_id] = node
        read = await self.client.get_user(node=node)
        if desired.sso_id and read.get("SSOID", "") != desired.sso_id:
            await self.client.set_user(set_user_params(read, ssoid=desired.sso_id))
        return f"adopted node {node} ({how})"
