"""The users and groups of one sandbox Entra tenant, and the Graph permissions of its apps.

Seed (under a tenant's ``identity:``)::

    graph_permissions: [GroupMember.Read.All, User.Read.All]   # application permissions of the reconciler app
    directory:
      users:
        - {upn: alice@contoso.com, mail: alice@contoso.com, display_name: Alice Adams}
      groups:
        - {id: <guid>, display_name: Rescue technicians, users: [alice@contoso.com], groups: [<guid>]}

``id`` may be left out (a stable one is derived). ``groups`` of a group name nested groups by ID;
nesting may loop (Entra allows it), the transitive listing visits each object once.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from rescue_sandbox.errors import InputError

_NS = uuid.UUID("1b0e7f0e-52f4-4c6e-9a55-6a7e3c0f2d11")


@dataclass
class DirectoryUser:
    id: str
    upn: str
    mail: str | None = None
    display_name: str = ""
    account_enabled: bool = True


@dataclass
class DirectoryGroup:
    id: str
    display_name: str
    users: list[str] = field(default_factory=list)  # user IDs
    groups: list[str] = field(default_factory=list)  # group IDs


@dataclass
class Directory:
    users: dict[str, DirectoryUser] = field(default_factory=dict)  # by lower-case ID
    groups: dict[str, DirectoryGroup] = field(default_factory=dict)  # by lower-case ID
    # Application permissions (Graph app roles) granted to each app, by lower-case client ID.
    app_permissions: dict[str, list[str]] = field(default_factory=dict)

    def transitive_users(self, group_id: str) -> list[DirectoryUser]:
        """Every user below a group (nested groups included), each once, in a stable order."""
        seen_groups: set[str] = set()
        found: dict[str, DirectoryUser] = {}
        stack = [group_id.lower()]
        while stack:
            gid = stack.pop()
            group = self.groups.get(gid)
            if group is None or gid in seen_groups:
                continue
            seen_groups.add(gid)
            for uid in group.users:
                user = self.users.get(uid.lower())
                if user is not None:
                    found.setdefault(user.id.lower(), user)
            stack.extend(g.lower() for g in reversed(group.groups))
        return list(found.values())

    def snapshot(self) -> dict[str, Any]:
        return {
            "users": [asdict(u) for u in self.users.values()],
            "groups": [asdict(g) for g in self.groups.values()],
            "app_permissions": self.app_permissions,
        }

    @classmethod
    def restore(cls, data: Mapping[str, Any] | None) -> Directory:
        data = data or {}
        users = [DirectoryUser(**u) for u in data.get("users", [])]
        groups = [DirectoryGroup(**g) for g in data.get("groups", [])]
        return cls(
            users={u.id.lower(): u for u in users},
            groups={g.id.lower(): g for g in groups},
            app_permissions={k: list(v) for k, v in dict(data.get("app_permissions", {})).items()},
        )


def _list(raw: Any, path: str) -> list[Any]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise InputError(f"{path}: must be a list")
    return raw


def _id(raw: Any, path: str, fallback: str) -> str:
    if raw is None:
        return str(uuid.uuid5(_NS, fallback))
    try:
        return str(uuid.UUID(str(raw)))
    except ValueError:
        raise InputError(f"{path}: {raw!r} is not a GUID") from None


def directory_from_seed(identity: Mapping[str, Any], client_id: str, path: str) -> Directory:
    """The directory and the reconciler app's Graph permissions of one seed tenant's identity."""
    raw = identity.get("directory") or {}
    if not isinstance(raw, Mapping):
        raise InputError(f"{path}.directory: must be a mapping")
    directory = Directory()
    by_upn: dict[str, str] = {}
    for i, u in enumerate(_list(raw.get("users"), f"{path}.directory.users")):
        where = f"{path}.directory.users[{i}]"
        if not isinstance(u, Mapping) or "@" not in str(u.get("upn", "")):
            raise InputError(f"{where}: a user needs a upn (name@domain)")
        upn = str(u["upn"])
        user = DirectoryUser(
            id=_id(u.get("id"), f"{where}.id", f"user/{upn.lower()}"),
            upn=upn,
            mail=str(u["mail"]) if u.get("mail") else None,
            display_name=str(u.get("display_name", "")),
            account_enabled=bool(u.get("account_enabled", True)),
        )
        directory.users[user.id.lower()] = user
        by_upn[upn.lower()] = user.id.lower()
    raw_groups = _list(raw.get("groups"), f"{path}.directory.groups")
    for i, g in enumerate(raw_groups):
        where = f"{path}.directory.groups[{i}]"
        if not isinstance(g, Mapping) or not g.get("display_name"):
            raise InputError(f"{where}: a group needs a display_name")
        members = []
        for upn in _list(g.get("users"), f"{where}.users"):
            if str(upn).lower() not in by_upn:
                raise InputError(f"{where}.users: no directory user has upn {upn!r}")
            members.append(by_upn[str(upn).lower()])
        group = DirectoryGroup(
            id=_id(g.get("id"), f"{where}.id", f"group/{g['display_name']}"),
            display_name=str(g["display_name"]),
            users=members,
            groups=[_id(n, f"{where}.groups", "") for n in _list(g.get("groups"), f"{where}.groups")],
        )
        directory.groups[group.id.lower()] = group
    for i, g in enumerate(raw_groups):
        for nested in g.get("groups") or []:
            if str(nested).lower() not in directory.groups:
                raise InputError(f"{path}.directory.groups[{i}].groups: no group has ID {nested!r}")
    permissions = _list(identity.get("graph_permissions"), f"{path}.graph_permissions")
    directory.app_permissions[client_id.lower()] = [str(p) for p in permissions]
    return directory
