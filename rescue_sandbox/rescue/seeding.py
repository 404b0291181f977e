"""Build a Rescue company from the ``rescue:`` mapping of a seed tenant (format: docs/sandbox.md).

The tree gets the containers every account has (Root, Master Administrators with the account
holder, Administrators, Technicians) and the seed's technician groups below Technicians. Nodes
without a seeded id are numbered above every seeded id, so ids never collide and stay stable.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from rescue_sandbox.errors import InputError
from rescue_sandbox.rescue.model import RescueCompany
from rescue_sandbox.rescue.node import Node
from rescue_sandbox.rescue.permissions import SET_GROUP_PERMISSIONS


def _secret(length: int) -> str:
    return secrets.token_urlsafe(length)


def _add_groups(company: RescueCompany, parent: int, groups: list[Any], path: str) -> None:
    for i, raw in enumerate(groups):
        where = f"{path}[{i}]"
        if not isinstance(raw, Mapping) or not raw.get("name"):
            raise InputError(f"{where}: a group needs a 'name'")
        node_id = int(raw["node_id"]) if raw.get("node_id") else company.allocate_id()
        group = company.add_node(
            Node(
                node_id,
                parent,
                "TechnicianGroup",
                str(raw["name"]),
                description=str(raw.get("description", "")),
            )
        )
        if raw.get("export"):
            group.export = dict(raw["export"])
        permissions = [str(p) for p in raw.get("permissions") or []]
        unknown = [p for p in permissions if p not in SET_GROUP_PERMISSIONS["setGroup_v2"]]
        if unknown:
            raise InputError(f"{where}.permissions: not a setGroup_v2 permission: {', '.join(unknown)}")
        group.permissions = permissions
        for j, tech in enumerate(raw.get("technicians") or []):
            _add_technician(company, group.node_id, tech, f"{where}.technicians[{j}]")
        _add_groups(company, group.node_id, list(raw.get("children") or []), f"{where}.children")


def _add_technician(company: RescueCompany, parent: int, raw: Any, where: str) -> None:
    if not isinstance(raw, Mapping) or not raw.get("email"):
        raise InputError(f"{where}: a technician needs an 'email'")
    presence = str(raw.get("status", "Offline"))
    if presence not in ("Offline", "Online", "Busy", "Away"):
        raise InputError(f"{where}.status: one of Offline, Online, Busy, Away")
    node_id = int(raw["node_id"]) if raw.get("node_id") else company.allocate_id()
    try:
        company.add_node(
            Node(
                node_id,
                parent,
                "Technician",
                str(raw.get("name") or raw["email"]),
                email=str(raw["email"]),
                ssoid=str(raw.get("ssoid") or ""),
                nick=str(raw.get("nick") or ""),
                description=str(raw.get("description") or ""),
                presence=presence,
                enabled=not raw.get("disabled", False),
                password=str(raw.get("password") or ""),
                mobile_addon=bool(raw.get("mobile_addon", False)),
                rpat_addon=bool(raw.get("rpat_addon", False)),
            )
        )
    except ValueError as exc:
        raise InputError(f"{where}: {exc}") from None


def _seeded_ids(groups: list[Any]) -> list[int]:
    found: list[int] = []
    for raw in groups:
        if not isinstance(raw, Mapping):
            continue
        if raw.get("node_id"):
            found.append(int(raw["node_id"]))
        found.extend(
            int(t["node_id"])
            for t in raw.get("technicians") or []
            if isinstance(t, Mapping) and t.get("node_id")
        )
        found.extend(_seeded_ids(list(raw.get("children") or [])))
    return found


def build_company(name: str, raw: Mapping[str, Any]) -> tuple[RescueCompany, str]:
    """The Rescue company of a seed tenant, and its API token (the seed's authcode)."""
    path = f"tenants.{name}.rescue"
    company = RescueCompany(
        str(raw["company_id"]),
        str(raw.get("company_name") or name.title()),
        str(raw.get("sso_password") or ""),
    )
    groups = list(raw.get("groups") or [])
    # Nodes without a seeded id are numbered above every seeded id, so none collide.
    company.reserve_ids(max(_seeded_ids(groups), default=999))
    company.root_id = company.add_node(Node(company.allocate_id(), 0, "Root", company.name)).node_id
    company.masters_id = company.add_node(
        Node(company.allocate_id(), company.root_id, "Masteradministrators", "Master Administrators")
    ).node_id
    admin = raw.get("admin") or {}
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
    authcode = str(raw.get("authcode") or _secret(40))
    company.api_tokens[authcode] = holder.node_id
    return company, authcode
