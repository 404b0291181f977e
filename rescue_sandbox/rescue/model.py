"""State of one emulated Rescue company: the organization tree, users, authcodes, export settings.

Rules follow the Rescue API reference (reference/rescue.md): technicians live only in technician
groups, technician groups only under the Technicians root or another technician group, emails are
unique (but one account holder may have several node IDs: ``Node.holder``), an authcode never
expires but a new one replaces the old, one PIN per second per technician. Every tree method
takes the caller (``actor``) and refuses what their role may not do (``roles.py``). Group export settings ("post session details to URL") have no API method: they are
state here that only the sandbox controls read or change, as a person in the Admin Center would.

Errors are :class:`RescueStatus` carrying the API's status token; the HTTP layer renders them.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import asdict
from typing import Any

from rescue_sandbox.rescue.node import Node
from rescue_sandbox.rescue.permissions import SET_GROUP_PERMISSIONS
from rescue_sandbox.rescue.roles import Rights
from rescue_sandbox.rescue.sessions import SessionBook
from rescue_sandbox.rescue.status import RescueStatus

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_MAX_NAME = 128


class RescueCompany:
    """One Rescue account (company): its tree and credentials. Thread-safe through ``lock``."""

    def __init__(self, company_id: str, name: str, sso_password: str) -> None:
        self.company_id = company_id
        self.name = name
        self.sso_password = sso_password
        self.nodes: dict[int, Node] = {}
        self.children: dict[int, list[int]] = {}
        self.api_tokens: dict[str, int] = {}  # Admin Center API tokens -> the user they act as
        self.authcodes: dict[str, int] = {}  # requested authcodes -> user (one per user)
        self._emails: dict[str, int] = {}
        self._last_pin: dict[int, float] = {}
        self._next_id = 1
        self.root_id = self.technicians_id = self.administrators_id = self.masters_id = 0
        self.lock = threading.RLock()
        self.book = SessionBook()  # sessions, report sign-ins and limits
        self.clock_offset = 0.0  # seconds the sandbox clock was moved ahead (controls)

    # -- construction -----------------------------------------------------------------------

    def allocate_id(self) -> int:
        node_id = self._next_id
        while node_id in self.nodes:
            node_id += 1
        self._next_id = node_id + 1
        return node_id

    def reserve_ids(self, used: int) -> None:
        """Never hand out ``used`` or anything below it (ids fixed by a seed)."""
        self._next_id = max(self._next_id, used + 1)

    def add_node(self, node: Node, *, restoring: bool = False) -> Node:
        """Add ``node``; a user's e-mail is theirs alone, but a second node of one account holder
        (``holder``) shares the e-mail of the node that holds it (checked unless ``restoring``
        saved state, where the holder may come later in tree order)."""
        if node.node_id in self.nodes:
            raise ValueError(f"duplicate Rescue node id {node.node_id}")
        if node.email and node.is_user:
            key = node.email.lower()
            owner = self._emails.get(key)
            if node.holder:
                if owner != node.holder and not restoring:
                    raise ValueError(f"node {node.holder} does not hold the email {node.email}")
            elif owner is not None:
                raise ValueError(f"duplicate Rescue email {node.email}")
            else:
                self._emails[key] = node.node_id
        self.nodes[node.node_id] = node
        self.children.setdefault(node.node_id, [])
        if node.parent_id:
            self.children.setdefault(node.parent_id, []).append(node.node_id)
        self.reserve_ids(node.node_id)
        return node

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "company_id": self.company_id,
                "name": self.name,
                "sso_password": self.sso_password,
                "api_tokens": dict(self.api_tokens),
                "authcodes": dict(self.authcodes),
                "nodes": [asdict(n) for n in self.walk(self.root_id)],
                "roots": [self.root_id, self.masters_id, self.administrators_id, self.technicians_id],
                "next_id": self._next_id,
                "book": self.book.snapshot(),
                "clock_offset": self.clock_offset,
            }

    @classmethod
    def restore(cls, data: Mapping[str, Any]) -> RescueCompany:
        company = cls(str(data["company_id"]), str(data["name"]), str(data["sso_password"]))
        for raw in data["nodes"]:
            company.add_node(Node(**raw), restoring=True)
        company.root_id, company.masters_id, company.administrators_id, company.technicians_id = data["roots"]
        company.api_tokens = {str(k): int(v) for k, v in data["api_tokens"].items()}
        company.authcodes = {str(k): int(v) for k, v in data["authcodes"].items()}
        company._next_id = int(data["next_id"])
        company.book = SessionBook.restore(data.get("book"))
        company.clock_offset = float(data.get("clock_offset", 0.0))
        return company

    def account_holder_password(self) -> str:
        """The account holder's sign-in password (``login.aspx``, ``requestAuthCode``)."""
        return next((n.password for n in self.nodes.values() if n.account_holder), "")

    def now(self) -> float:
        """The company's clock (epoch seconds): real time, moved ahead by the clock control."""
        return time.time() + self.clock_offset

    # -- lookups ----------------------------------------------------------------------------

    def walk(self, node_id: int) -> Iterator[Node]:
        """The node and its descendants, depth first, in creation order."""
        stack = [node_id]
        while stack:
            current = stack.pop()
            node = self.nodes.get(current)
            if node is None:
                continue
            yield node
            stack.extend(reversed(self.children.get(current, [])))

    def node(self, raw: str | int | None) -> Node:
        try:
            node = self.nodes.get(int(str(raw).strip()))
        except ValueError:
            node = None
        if node is None:
            raise RescueStatus("INVALIDPARAM_NODE")
        return node

    def user_by_email(self, email: str) -> Node | None:
        node_id = self._emails.get(email.strip().lower())
        return self.nodes.get(node_id) if node_id is not None else None

    def group_by_path(self, path: str) -> Node | None:
        """A technician group by its path below the Technicians root ("Support/Tier 1")."""
        current = self.technicians_id
        for part in [p for p in path.split("/") if p.strip()]:
            found = [
                c
                for c in self.children.get(current, [])
                if self.nodes[c].is_group and self.nodes[c].name == part
            ]
            if not found:
                return None
            current = found[0]
        node = self.nodes[current]
        return node if node.is_group else None

    def path_of(self, node: Node) -> str:
        parts: list[str] = []
        while node.node_id not in (self.technicians_id, self.root_id) and node.parent_id:
            parts.append(node.name)
            node = self.nodes[node.parent_id]
        return "/".join(reversed(parts))

    # -- authentication ---------------------------------------------------------------------

    def authenticate(self, authcode: str | None) -> Node:
        """The user an authcode acts as (NOTLOGGEDIN / INVALID_SECRETAUTHCODE / USER_DELETED_OR_DISABLED)."""
        if not authcode:
            raise RescueStatus("NOTLOGGEDIN")
        node_id = self.api_tokens.get(authcode, self.authcodes.get(authcode))
        if node_id is None:
            node_id = self.book.signed_in_user(authcode)  # a login.aspx cookie (reports.py)
        if node_id is None:
            raise RescueStatus("INVALID_SECRETAUTHCODE")
        node = self.nodes.get(node_id)
        if node is None or not node.enabled:
            raise RescueStatus("USER_DELETED_OR_DISABLED")
        return node

    def _new_authcode(self, user: Node) -> str:
        for code, owner in list(self.authcodes.items()):
            if owner == user.node_id:
                del self.authcodes[code]  # a new code replaces the old one
        code = secrets.token_urlsafe(48).replace("-", "x").replace("_", "y").lower()
        self.authcodes[code] = user.node_id
        return code

    def request_authcode(self, email: str, password: str) -> str:
        with self.lock:
            user = self.user_by_email(email) if email else None
            if user is None or not user.enabled or not user.password or user.password != password:
                raise RescueStatus("INVALID")
            return self._new_authcode(user)

    def request_authcode_sso(self, ssoid: str, password: str, company: str) -> str:
        with self.lock:
            if not company.strip().isdigit():
                raise RescueStatus("INVALIDPARAM_COMPANY")
            if company.strip() != self.company_id or not ssoid or password != self.sso_password:
                raise RescueStatus("INVALID")
            users = [n for n in self.nodes.values() if n.is_user and n.enabled and n.ssoid == ssoid]
            if len(users) != 1:
                raise RescueStatus("INVALID")
            return self._new_authcode(users[0])

    def rights(self, actor: Node) -> Rights:
        """What ``actor`` may do; raises NOTLOGGEDIN for a caller without the Administration Center."""
        rights = Rights(self.nodes, actor)
        rights.admin_center()
        return rights

    # -- tree changes -----------------------------------------------------------------------

    def create_group(self, parent_raw: str | None, actor: Node) -> Node:
        with self.lock:
            rights = self.rights(actor)
            parent = self.nodes.get(_int(parent_raw))
            kinds = {"Technicians": "TechnicianGroup", "TechnicianGroup": "TechnicianGroup"}
            if rights.master:  # administrator groups are a Master Administrator's alone
                kinds |= {"Administrators": "AdministratorGroup", "AdministratorGroup": "AdministratorGroup"}
            if parent is None or parent.type not in kinds or not rights.manages(parent):
                raise RescueStatus("INVALIDPARAM_PARENT")
            return self.add_node(Node(self.allocate_id(), parent.node_id, kinds[parent.type], "New Group"))

    def create_user(self, parent_raw: str | None, actor: Node) -> Node:
        with self.lock:
            rights = self.rights(actor)
            parent = self.nodes.get(_int(parent_raw))
            kinds = {"TechnicianGroup": "Technician"}
            if rights.master:  # "How to Add an Administrator": only Master Administrators
                kinds |= {
                    "Administrators": "Administrator",
                    "AdministratorGroup": "Administrator",
                    "Masteradministrators": "Masteradministrator",
                }
            if parent is None or parent.type not in kinds or not rights.manages(parent):
                raise RescueStatus("INVALIDPARAM_PARENT")
            return self.add_node(Node(self.allocate_id(), parent.node_id, kinds[parent.type], "New User"))

    def set_group(self, params: Mapping[str, str], actor: Node, *, v2: bool) -> None:
        with self.lock:
            rights = self.rights(actor)
            node = self.node(params.get("node"))
            if not node.is_group:
                raise RescueStatus("INVALIDPARAM_NODE")
            rights.require(node, "INVALIDPARAM_NODE")
            name = params.get("name", "").strip()
            if not name or len(name) > _MAX_NAME:
                raise RescueStatus("INVALIDPARAM_NAME")
            status = params.get("status", "").strip().lower()
            if status not in ("enabled", "disabled"):
                raise RescueStatus("INVALIDPARAM_STATUS")
            known = SET_GROUP_PERMISSIONS["setGroup_v2" if v2 else "setGroup"]
            permissions = _permission_list(params.get("permission", ""), known, "INVALIDPARAM_PERMISSION")
            locked = _permission_list(
                params.get("lockedpermission", ""), known, "INVALIDPARAM_LOCKEDPERMISSION"
            )
            rights.change_permissions(node, permissions, locked)
            # An omitted optional field is stored empty: clients must read-modify-write. What a
            # new group holds when setGroup omits `permission` is undocumented: here, none.
            node.name, node.enabled = name, status == "enabled"
            node.description = params.get("description", "")
            node.permissions, node.locked_permissions = permissions, locked

    def set_user(self, params: Mapping[str, str], actor: Node, *, v2: bool) -> None:
        with self.lock:
            rights = self.rights(actor)
            node = self.node(params.get("node"))
            if not node.is_user:
                raise RescueStatus("INVALIDPARAM_NODE")
            if node.type != "Technician" and not rights.master:
                raise RescueStatus("INVALIDPARAM_NODE")  # administrators are a Master Administrator's
            rights.require(node, "INVALIDPARAM_NODE", strictly_below=True)
            name = params.get("name", "").strip()
            if not name or len(name) > _MAX_NAME:
                raise RescueStatus("INVALIDPARAM_NAME")
            email = params.get("email", "").strip()
            if not _EMAIL.match(email):
                raise RescueStatus("INVALIDPARAM_EMAIL")
            status = params.get("status", "").strip().lower()
            if status not in ("enabled", "disabled"):
                raise RescueStatus("INVALIDPARAM_STATUS")
            mobile = _bool(params.get("mobileaddon" if v2 else "addons"), "INVALIDPARAM_MOBILEADDON")
            rpat = _bool(params.get("rpataddon"), "INVALIDPARAM_RPATADDON") if v2 else node.rpat_addon
            owner = self._emails.get(email.lower())
            if owner is not None and owner not in (node.node_id, node.holder):
                raise RescueStatus("INVALIDPARAM_EMAIL_ALREADY_IN_USE")
            self._release_email(node)
            if owner is None:
                self._emails[email.lower()] = node.node_id
                node.holder = 0  # the e-mail is this node's own now
            node.name, node.email, node.enabled = name, email, status == "enabled"
            node.nick = params.get("nick", "")
            node.ssoid = params.get("ssoid", "")
            node.description = params.get("description", "")
            node.mobile_addon, node.rpat_addon = mobile, rpat
            if params.get("pwd"):
                node.password = params["pwd"]

    def _release_email(self, node: Node) -> None:
        """Forget ``node``'s e-mail; another node of the same account holder inherits it."""
        key = node.email.lower()
        if not node.email or self._emails.get(key) != node.node_id:
            return
        del self._emails[key]
        heir = next((n for n in self.nodes.values() if n.holder == node.node_id), None)
        if heir is not None:
            self._emails[key] = heir.node_id
            for other in self.nodes.values():
                if other.holder == node.node_id:
                    other.holder = 0 if other is heir else heir.node_id

    def delete_node(self, raw: str | None, actor: Node) -> None:
        with self.lock:
            rights = self.rights(actor)
            node = self.node(raw)
            protected = {self.root_id, self.masters_id, self.administrators_id, self.technicians_id}
            doomed = list(self.walk(node.node_id))
            # "INVALID_DELETE: ... the user who is currently logged in has insufficient privileges.
            # An administrator cannot delete himself either."
            if (
                node.node_id in protected
                or not rights.manages(node, strictly_below=True)
                or any(n.node_id == actor.node_id or n.account_holder for n in doomed)
            ):
                raise RescueStatus("INVALID_DELETE")
            self.children[node.parent_id].remove(node.node_id)
            for gone in doomed:
                self._release_email(gone)
                self.nodes.pop(gone.node_id)
                self.children.pop(gone.node_id, None)
            # Links to a deleted administrator (or administrator group) go with it.
            for link in [n for n in self.nodes.values() if n.is_link and n.target not in self.nodes]:
                self.children[link.parent_id].remove(link.node_id)
                self.nodes.pop(link.node_id)
                self.children.pop(link.node_id, None)

    def move_node(self, raw: str | None, target_raw: str | None, actor: Node) -> None:
        with self.lock:
            rights = self.rights(actor)
            node = self.node(raw)
            target = self.nodes.get(_int(target_raw))
            if target is None:
                raise RescueStatus("INVALIDPARAM_TARGETNODE")
            if not rights.manages(node, strictly_below=True) or not rights.manages(target):
                raise RescueStatus("INVALID_MOVE")
            allowed = {
                "Technician": ("TechnicianGroup",),
                "TechnicianGroup": ("Technicians", "TechnicianGroup"),
                "Administrator": ("Administrators", "AdministratorGroup"),
                "AdministratorGroup": ("Administrators", "AdministratorGroup"),
            }.get(node.type, ())
            inside = any(n.node_id == target.node_id for n in self.walk(node.node_id))
            if target.type not in allowed or inside:
                raise RescueStatus("INVALID_MOVE")
            self.children[node.parent_id].remove(node.node_id)
            self.children[target.node_id].append(node.node_id)
            node.parent_id = target.node_id

    # -- PIN codes ---------------------------------------------------------------------------

    def request_pin(self, technician: Node, notechconsole: str | None) -> str:
        """One PIN per second per technician; a running console unless ``notechconsole`` is 1."""
        with self.lock:
            if technician.type != "Technician":
                raise RescueStatus("NOTTECHNICIAN")
            now = time.monotonic()
            if now - self._last_pin.get(technician.node_id, -10.0) < 1.0:
                raise RescueStatus("POLLRATEEXCEEDED")
            if (notechconsole or "0").strip() != "1" and technician.presence == "Offline":
                raise RescueStatus("NOTECHCONSOLERUNNING")
            self._last_pin[technician.node_id] = now
            return f"{secrets.randbelow(1_000_000):06d}"


def _int(raw: str | int | None) -> int:
    try:
        return int(str(raw).strip())
    except ValueError:
        return -1


def _bool(raw: str | None, token: str) -> bool:
    value = (raw or "").strip().lower()
    if value not in ("true", "false"):
        raise RescueStatus(token)
    return value == "true"


def _permission_list(raw: str, allowed: tuple[str, ...], token: str) -> list[str]:
    """The names as the method's page spells them: ``remotecontrol`` is refused, as the Admin
    Center's fixed list is (docs/sandbox.md, "Rescue caller roles": the stricter reading)."""
    names = [p.strip() for p in raw.split(",") if p.strip()]
    if any(n not in allowed for n in names):
        raise RescueStatus(token)
    return names
