"""One node of an emulated Rescue organization tree: a container, a group or a user.

Plain data, below the company (model.py) and its session book (sessions.py), which both hold nodes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

USER_TYPES = ("Masteradministrator", "Administrator", "Technician")
GROUP_TYPES = ("TechnicianGroup", "AdministratorGroup")
# getHierarchy_v2 also lists nodes that are neither users nor groups: an administrator (or an
# administrator group) assigned to a technician group appears under it as a link, and a channel
# assigned to a technician group appears under it (docs/sandbox.md, "Rescue caller roles").
LINK_TYPES = ("AdministratorLink", "AdministratorGroupLink")
CHANNEL_TYPE = "Channel"
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
    # A link's administrator (or administrator group); 0 for every other node.
    target: int = 0
    # Another node ID of the same account holder (getHierarchy_v2: "A Rescue account holder can
    # have multiple node IDs"): the node of theirs that holds the e-mail; 0 when this one does.
    holder: int = 0

    @property
    def is_user(self) -> bool:
        return self.type in USER_TYPES

    @property
    def is_group(self) -> bool:
        return self.type in GROUP_TYPES

    @property
    def is_link(self) -> bool:
        return self.type in LINK_TYPES

    @property
    def status(self) -> str:
        """The Status shown by getHierarchy_v2 / getUser_v3."""
        if not self.enabled:
            return "Disabled"
        return self.presence if self.is_user else "Offline"
