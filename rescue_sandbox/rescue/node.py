"""One node of an emulated Rescue organization tree: a container, a group or a user.

Plain data, below the company (model.py) and its session book (sessions.py), which both hold nodes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

USER_TYPES = ("Masteradministrator", "Administrator", "Technician")
GROUP_TYPES = ("TechnicianGroup", "AdministratorGroup")
PRESENCE = ("Offline", "Online", "Busy", "Away")


@dataclass
class Node:
    """One node of the organization tree (container, group or user)."""

    node_id: int
    parent_id: int
    type: str
    name: str
    email: str = ""
    description: str = ""
    enabled: bool = True
    presence: str = "Offline"
    nick: str = ""
    ssoid: str = ""
    password: str = ""
    mobile_addon: bool = False
    rpat_addon: bool = False
    account_holder: bool = False
    permissions: list[str] = field(default_factory=list)
    locked_permissions: list[str] = field(default_factory=list)
    export: dict[str, Any] | None = None

    @property
    def is_user(self) -> bool:
        return self.type in USER_TYPES

    @property
    def is_group(self) -> bool:
        return self.type in GROUP_TYPES

    @property
    def status(self) -> str:
        """The Status shown by getHierarchy_v2 / getUser_v3."""
        if not self.enabled:
            return "Disabled"
        return self.presence if self.is_user else "Offline"
