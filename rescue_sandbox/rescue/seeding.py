"""Build a Rescue company from the ``rescue:`` mapping of a seed tenant (format: docs/sandbox.md).

The tree gets the containers every account has (Root, Master Administrators with the account
holder, Administrators, Technicians), the seed's administrators (under Administrators or Master
Administrators, each linked into the technician groups assigned to them) and the seed's
technician groups below Technicians, with their technicians and channels. Nodes without a seeded
id are numbered above every seeded id, so ids never collide and stay stable. A key the format
does not name is an error: a misplaced key would otherwise change nothing and say nothing.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from rescue_sandbox.errors import InputError
from rescue_sandbox.rescue.model import RescueCompany
from rescue_sandbox.rescue.node import CHANNEL_TYPE, PRESENCE, Node
from rescue_sandbox.rescue.permissions import SET_GROUP_PERMISSIONS
from rescue_sandbox.seedkeys import unknown_keys

RESCUE_KEYS = (
    "company_id",
    "company_name",
    "sso_password",
    "authcode",
    "admin",
    "administrators",
    "technicians_root",
    "groups",
    "sessions",
)
_ADMIN_KEYS = ("name", "email", "password")
_ADMINISTRATOR_KEYS: tuple[str, ...] = ("name", "email", "password", "node_id", "role", "authcode")
_ADMINISTRATOR_KEYS += ("disabled", "groups", "same_holder")
_GROUP_KEYS: tuple[str, ...] = ("name", "node_id", "description", "export", "permissions")
_GROUP_KEYS += ("locked_permissions", "technicians", "channels", "children")
_TECHNICIAN_KEYS: tuple[str, ...] = ("email", "name", "node_id", "ssoid", "nick", "description")
_TECHNICIAN_KEYS += (
    "status",
    "disabled",
    "password",
    "mobile_addon",
    "rpat_addon",
    "authcode",
    "same_holder",
)
_CHANNEL_KEYS = ("name", "node_id")
ROLES = {"administrator": "Administrator", "master administrator": "Masteradministrator"}


def _mapping(raw: Any, where: str, what: str) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise InputError(f"{where}: {what}")
    return raw


def _entry(item: Any, where: str, keys: tuple[str, ...], required: str, what: str) -> Mapping[str, Any]:
    """One seeded node's mapping: only ``keys``, and ``required`` given."""
    needs = f"{what} needs {'an' if required[0] in 'aeiou' else 'a'} {required!r}"
    raw = _mapping(item, where, needs)
    unknown_keys(raw, keys, where)
    if not raw.get(required):
        raise InputError(f"{where}: {needs}")
    return raw


def _node_id(company: RescueCompany, raw: Mapping[str, Any]) -> int:
    return int(raw["node_id"]) if raw.get("node_id") else company.allocate_id()


def _secret(length: int) -> str:
    return secrets.token_urlsafe(length)


def _permissions(raw: Mapping[str, Any], key: str, where: str) -> list[str]:
    names = [str(p) for p in raw.get(key) or []]
    unknown = [p for p in names if p not in SET_GROUP_PERMISSIONS["setGroup_v2"]]
    if unknown:
        raise InputError(f"{where}.{key}: not a setGroup_v2 permission: {', '.join(unknown)}")
    return names


def _add_groups(company: RescueCompany, parent: int, groups: list[Any], path: str) -> None:
    for i, item in enumerate(groups):
        where = f"{path}[{i}]"
        raw = _entry(item, where, _GROUP_KEYS, "name", "a group")
        group = company.add_node(
            Node(
                _node_id(company, raw),
                parent,
                "TechnicianGroup",
                str(raw["name"]),
                description=str(raw.get("description", "")),
            )
        )
        if raw.get("export"):
            group.export = dict(raw["export"])
        group.permissions = _permissions(raw, "permissions", where)
        group.locked_permissions = _permissions(raw, "locked_permissions", where)
        for j, tech in enumerate(raw.get("technicians") or []):
            _add_technician(company, group.node_id, tech, f"{where}.technicians[{j}]")
        for j, channel in enumerate(raw.get("channels") or []):
            channel_raw = _entry(channel, f"{where}.channels[{j}]", _CHANNEL_KEYS, "name", "a channel")
            company.add_node(
                Node(_node_id(company, channel_raw), group.node_id, CHANNEL_TYPE, str(channel_raw["name"]))
            )
        _add_groups(company, group.node_id, list(raw.get("children") or []), f"{where}.children")


def _add_user(company: RescueCompany, raw: Mapping[str, Any], where: str, node: Node) -> Node:
    """A seeded user node (its common fields from ``raw``), and the authcode it requested (it
    acts as them, with their role); ``same_holder`` makes it another node of the account holder
    who has its e-mail."""
    node.email = str(raw["email"])
    node.name = str(raw.get("name") or raw["email"])
    node.password = str(raw.get("password") or "")
    node.enabled = not raw.get("disabled", False)
    if raw.get("same_holder"):
        holder = company.user_by_email(node.email)
        if holder is None:
            raise InputError(f"{where}.same_holder: no user seeded before it has the email {node.email}")
        node.holder = holder.node_id
    try:
        company.add_node(node)
    except ValueError as exc:
        raise InputError(f"{where}: {exc}") from None
    if raw.get("authcode"):
        company.authcodes[str(raw["authcode"])] = node.node_id
    return node


def _add_technician(company: RescueCompany, parent: int, item: Any, where: str) -> None:
    raw = _entry(item, where, _TECHNICIAN_KEYS, "email", "a technician")
    presence = str(raw.get("status", "Offline"))
    if presence not in PRESENCE:
        raise InputError(f"{where}.status: one of {', '.join(PRESENCE)}")
    node = Node(
        _node_id(company, raw),
        parent,
        "Technician",
        "",
        ssoid=str(raw.get("ssoid") or ""),
        nick=str(raw.get("nick") or ""),
        description=str(raw.get("description") or ""),
        presence=presence,
        mobile_addon=bool(raw.get("mobile_addon", False)),
        rpat_addon=bool(raw.get("rpat_addon", False)),
    )
    _add_user(company, raw, where, node)


def _add_administrators(company: RescueCompany, items: list[Any], path: str) -> None:
    """Administrators and further Master Administrators, each linked (``AdministratorLink``)
    into the technician groups assigned to them (``groups``: paths below Technicians)."""
    for i, item in enumerate(items):
        where = f"{path}[{i}]"
        raw = _entry(item, where, _ADMINISTRATOR_KEYS, "email", "an administrator")
        role = str(raw.get("role", "administrator"))
        if role not in ROLES:
            raise InputError(f"{where}.role: one of {', '.join(ROLES)}")
        parent = company.masters_id if ROLES[role] == "Masteradministrator" else company.administrators_id
        node = _add_user(company, raw, where, Node(_node_id(company, raw), parent, ROLES[role], ""))
        for j, group_path in enumerate(raw.get("groups") or []):
            group = company.group_by_path(str(group_path))
            if group is None:
                raise InputError(f"{where}.groups[{j}]: no seeded technician group {group_path!r}")
            link = Node(
                company.allocate_id(), group.node_id, "AdministratorLink", node.name, email=node.email
            )
            link.target = node.node_id
            company.add_node(link)


def _seeded_ids(groups: list[Any]) -> list[int]:
    found: list[int] = []
    for raw in groups:
        if not isinstance(raw, Mapping):
            continue
        if raw.get("node_id"):
            found.append(int(raw["node_id"]))
        for key in ("technicians", "channels"):
            found.extend(
                int(t["node_id"]) for t in raw.get(key) or [] if isinstance(t, Mapping) and t.get("node_id")
            )
        found.extend(_seeded_ids(list(raw.get("children") or [])))
    return found


def build_company(name: str, raw: Mapping[str, Any]) -> tuple[RescueCompany, str]:
    """The Rescue company of a seed tenant, and its API token (the seed's authcode)."""
    path = f"tenants.{name}.rescue"
    unknown_keys(raw, RESCUE_KEYS, path)
    company = RescueCompany(
        str(raw["company_id"]),
        str(raw.get("company_name") or name.title()),
        str(raw.get("sso_password") or ""),
    )
    groups = list(raw.get("groups") or [])
    administrators = list(raw.get("administrators") or [])
    # Nodes without a seeded id are numbered above every seeded id, so none collide.
    seeded = _seeded_ids(groups) + [
        int(a["node_id"]) for a in administrators if isinstance(a, Mapping) and a.get("node_id")
    ]
    company.reserve_ids(max(seeded, default=999))
    company.root_id = company.add_node(Node(company.allocate_id(), 0, "Root", company.name)).node_id
    company.masters_id = company.add_node(
        Node(company.allocate_id(), company.root_id, "Masteradministrators", "Master Administrators")
    ).node_id
    admin = _mapping(raw.get("admin") or {}, f"{path}.admin", "a mapping (name, email, password)")
    unknown_keys(admin, _ADMIN_KEYS, f"{path}.admin")
    holder = company.add_node(
        Node(
            company.allocate_id(),
            company.masters_id,
            "Masteradministrator",
            str(admin.get("name") or "Account Holder"),
            email=str(admin.get("email") or f"admin@{name}.example.com"),
            password=str(admin.get("password") or _secret(12)),
            account_holder=True,
        )
    )
    company.administrators_id = company.add_node(
        Node(company.allocate_id(), company.root_id, "Administrators", "Administrators")
    ).node_id
    company.technicians_id = company.add_node(
        Node(
            company.allocate_id(),
            company.root_id,
            "Technicians",
            str(raw.get("technicians_root") or "Technicians"),
        )
    ).node_id
    _add_groups(company, company.technicians_id, groups, f"{path}.groups")
    _add_administrators(company, administrators, f"{path}.administrators")
    authcode = str(raw.get("authcode") or _secret(40))
    # The tenant's authcode is the account holder's API token, unless it is the authcode a seeded
    # user requested: then the tenant's tool acts as that user, with their role.
    if authcode not in company.authcodes:
        company.api_tokens[authcode] = holder.node_id
    return company, authcode
