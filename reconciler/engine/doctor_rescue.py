"""`reconcile doctor`: may the Rescue account behind the authcode make every call the declared
kinds need (``engine/needs.py``, ``TenantNeeds.rescue``)?

Rescue has no "what may I do" call, but ``getAccount`` says who the authcode is and may be made
by any signed-in user (a technician too): its ``AdminID`` is 0 when the account holder is no
administrator. ``getUser_v3`` of that ID gives its ``TYPE`` (MasterAdministrator or
Administrator). Both are reads, the least harmful way to learn the role (no dry run of a write
exists). An Administrator works only in the technician groups assigned to them, which the
hierarchy shows as ``AdministratorLink`` nodes (their e-mail) or ``AdministratorGroupLink`` nodes
(their administrator group's name) under a group: each declared group and technician is checked
against them, and a declared permission that is locked in Rescue needs a Master Administrator
(getGroup_v2 shows the locked ones). Sources: docs/sandbox.md, "Rescue caller roles and node
model".
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from reconciler.config import Tenant
from reconciler.errors import ProtocolError, ProviderError, printable
from reconciler.kinds.needs import (
    ADMINISTRATOR,
    MASTER_ADMINISTRATOR,
    RESCUE_ROLES,
    TECHNICIAN,
    RescueCall,
    TenantNeeds,
)
from reconciler.providers.rescue.client import RescueClient
from reconciler.providers.rescue.groups import permission_list
from reconciler.providers.rescue.mapping import RescueTree, build_tree
from reconciler.resources.matching import PATH_SEPARATOR, name_key

PASS, FAIL = "pass", "fail"
CHECK = "rescue role"
_TYPES = {"masteradministrator": MASTER_ADMINISTRATOR, "administrator": ADMINISTRATOR}
_MASTER_TOKEN = (
    "an API token a Master Administrator or the Master Account Holder generates (Rescue Admin "
    "Center > Global Settings > Generate API token)"
)
_FIXES = {
    ADMINISTRATOR: (
        "set connection.rescue.authcode to the authcode of an Administrator assigned to the tenant's "
        "technician groups (requestAuthCode with their e-mail and password; a new one ends their "
        f"previous one), or to {_MASTER_TOKEN}"
    ),
    MASTER_ADMINISTRATOR: f"set connection.rescue.authcode to {_MASTER_TOKEN}",
}
_ASSIGN_FIX = (
    "assign the administrator to that technician group (Rescue Admin Center > Organization), or set "
    f"connection.rescue.authcode to {_MASTER_TOKEN}"
)


class Report(Protocol):
    """The doctor checklist of one tenant (``engine/doctor.py:TenantReport``)."""

    def add(self, name: str, status: str, detail: str, fix: str = "") -> None: ...


class Caller:
    """Who the authcode is: its e-mail, role and administrator node ID ('' for a technician)."""

    def __init__(self, email: str, role: str, admin_id: str) -> None:
        self.email, self.role, self.admin_id = email, role, admin_id

    def __str__(self) -> str:
        return f"the authcode's Rescue account {printable(self.email)!r} is {_a(self.role)}"


def _a(role: str) -> str:
    return ("an " if role[0] in "AEIOU" else "a ") + role


async def caller(client: RescueClient) -> Caller:
    account = await client.get_account()
    email, admin_id = account.get("EMAIL", "").strip(), account.get("ADMINID", "").strip()
    if admin_id in ("", "0"):
        return Caller(email, TECHNICIAN, "")
    kind = (await client.get_user(node=admin_id)).get("TYPE", "").strip()
    if kind.casefold() not in _TYPES:
        raise ProtocolError(
            f"getUser_v3 of the account's AdminID {admin_id} answered TYPE {printable(kind)!r}"
        )
    return Caller(email, _TYPES[kind.casefold()], admin_id)


def _calls(calls: Iterable[RescueCall]) -> str:
    return ", ".join(sorted({c.method for c in calls}))


def _reasons(needs: TenantNeeds, calls: Iterable[RescueCall]) -> str:
    reasons = dict.fromkeys(why for call in calls for why in needs.rescue[call])
    shown = list(reasons)[:4]
    return "; ".join(shown) + (f"; and {len(reasons) - 4} more" if len(reasons) > 4 else "")


def _made(call: RescueCall, tree: RescueTree | None) -> bool:
    """Whether the run would make ``call``: a create only while its object is missing live
    (unknown without the hierarchy: a technician cannot read it)."""
    if tree is None:
        return True
    if call.new_group:
        return tree.group_match(call.new_group).none
    if call.new_technician:
        key = name_key(call.new_technician)
        return key not in tree.technicians_by_email and key not in tree.duplicate_emails
    return True


async def check_rescue_role(report: Report, client: RescueClient, model: Tenant, needs: TenantNeeds) -> None:
    """One check per role the account lacks (the calls that need it, and why), then, for an
    Administrator, one per declared group or technician outside their groups and per locked
    permission the files change; else a pass."""
    if not needs.rescue:
        return
    try:
        who = await caller(client)
        tree = None
        if who.role == ADMINISTRATOR:
            hierarchy = await client.get_hierarchy()
            tree = build_tree(hierarchy.blocks, hierarchy.odd)
        made = [c for c in needs.rescue if _made(c, tree)]
        rank = RESCUE_ROLES.index(who.role)
        short = [c for c in made if RESCUE_ROLES.index(c.role) > rank]
        for role in RESCUE_ROLES[rank + 1 :]:
            calls = [c for c in short if c.role == role]
            if calls:
                detail = f"{who}: {_calls(calls)} need {_a(role)} ({_reasons(needs, calls)})"
                report.add(f"{CHECK}: {role}", FAIL, detail, _FIXES[role])
        if short:
            return
        if tree is not None and not await _administrator(report, client, tree, model, needs, made, who):
            return
    except ProviderError as exc:
        report.add(
            CHECK, FAIL, f"the Rescue account's role could not be read: {exc.message}", "see the message"
        )
        return
    report.add(CHECK, PASS, f"{who}: it may make every Rescue call the declared kinds need ({_calls(made)})")


async def _administrator(
    report: Report,
    client: RescueClient,
    tree: RescueTree,
    model: Tenant,
    needs: TenantNeeds,
    made: Iterable[RescueCall],
    who: Caller,
) -> bool:
    """Whether every group and technician the calls work on is in the Administrator's groups,
    and no declared permission is locked; a failed check for each one that is not."""
    assigned = assigned_groups(tree, who)

    def administers(group_id: str) -> bool:
        return any(g in assigned for g in tree.group_chain.get(group_id, ()))

    outside: dict[str, list[RescueCall]] = {}
    for call in made:
        place = _place(tree, call)
        if place is not None and not administers(place[1]):
            outside.setdefault(place[0], []).append(call)
    for where, calls in sorted(outside.items()):
        detail = (
            f"{who} not assigned to {where} (nor to a group above it): {_calls(calls)} there are "
            f"refused ({_reasons(needs, calls)})"
        )
        report.add(f"{CHECK}: {where}", FAIL, detail, _ASSIGN_FIX)
    locked = False
    for group in model.rescue_groups:
        live = tree.group_match(group.path).one
        if group.permissions is not None and live is not None and administers(live.node_id):
            locked |= await _locked(report, client, group.path, group.permissions, live.node_id, who)
    return not outside and not locked


def assigned_groups(tree: RescueTree, who: Caller) -> set[str]:
    """The technician groups a link assigns the Administrator to: their own link (by e-mail) or
    one of their administrator groups' (by name; the hierarchy names a link as what it links)."""
    admin_groups: set[str] = set()
    node = tree.nodes.get(tree.nodes[who.admin_id].parent_id) if who.admin_id in tree.nodes else None
    while node is not None and node.type == "administratorgroup":
        admin_groups.add(name_key(node.name))
        node = tree.nodes.get(node.parent_id)
    email = name_key(who.email)
    return {
        n.parent_id
        for n in tree.nodes.values()
        if (n.type == "administratorlink" and name_key(n.email) == email)
        or (n.type == "administratorgrouplink" and name_key(n.name) in admin_groups)
    }


def _place(tree: RescueTree, call: RescueCall) -> tuple[str, str] | None:
    """Where ``call`` works (a label and the node ID of the group that decides), None when the
    call is not bound to a place, or its place is not live yet (the plan says so)."""
    if call.technician:
        node = tree.nodes.get(tree.technicians_by_email.get(name_key(call.technician), ""))
        return (f"the technician group of {printable(call.technician)}", node.parent_id) if node else None
    if not call.group:
        return None
    parts = call.group.split(PATH_SEPARATOR)
    for depth in range(len(parts), 0, -1):  # a group still to create: the nearest live one above
        found = tree.group_match(PATH_SEPARATOR.join(parts[:depth]))
        if found.one is not None:
            return f"the technician group {printable(call.group)}", found.one.node_id
    return None


async def _locked(
    report: Report, client: RescueClient, path: str, declared: Iterable[str], node_id: str, who: Caller
) -> bool:
    """Whether the declared permissions of the group ``path`` change one Rescue has locked
    ("Group permissions that only a Master Administrator can change", getGroup_v2); a failed
    check when they do."""
    read = await client.get_group(node_id)
    wanted, now = set(declared), set(permission_list(read.get("PERMISSIONS", "")))
    flips = [p for p in permission_list(read.get("LOCKEDPERMISSIONS", "")) if (p in wanted) != (p in now)]
    if flips:
        report.add(
            f"{CHECK}: locked permissions of {printable(path)}",
            FAIL,
            f"{who}: the declared permissions of {printable(path)} change {printable(', '.join(flips))}, "
            'locked in Rescue ("Group permissions that only a Master Administrator can change")',
            _FIXES[MASTER_ADMINISTRATOR],
        )
    return bool(flips)
