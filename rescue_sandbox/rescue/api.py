"""HTTP face of the Rescue emulator: ``/rescue/<company id>/API/<method>.aspx``, GET or POST form.

Every answer is plain text with HTTP 200, errors included: the status token, a blank line, then
one block per record (``KEY:value`` lines), each block followed by a blank line. That is the
framing that the singer-io client's ``body.split("\\n\\n")[1:-1]`` expects. Values are written as
stored, never escaped: a name or description holding a line break breaks the framing as it would
on the real service (undocumented there: the stricter reading, docs/sandbox.md). Parameter names are
case-insensitive (ASP.NET), so ``targetnode``, ``targetNode`` and ``targetNodeID`` all work.
An unknown method is a 404, as an unknown ``.aspx`` page is on the real host. Each
Administration Center method refuses a caller whose role may not make it (``roles.py``). The sign-in
and session-report methods (``reports.py``) also read and set the ``ASP.NET_SessionId`` cookie,
and a live cookie sign-in stands for the authcode on every other method.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Literal

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from rescue_sandbox.rescue.model import RescueCompany
from rescue_sandbox.rescue.node import Node
from rescue_sandbox.rescue.reports import COOKIE, REPORT_METHODS, cookie_authcode
from rescue_sandbox.rescue.roles import account_nodes
from rescue_sandbox.rescue.status import RescueStatus

Block = list[tuple[str, str]] | str
Result = list[Block]
Handler = Callable[[RescueCompany, dict[str, str]], Result]

_USER_TYPE_NAMES = {"Masteradministrator": "MasterAdministrator"}


def render(status: str, blocks: Result | None = None) -> str:
    parts = [status]
    for block in blocks or []:
        if isinstance(block, str):
            parts.append(block)
        else:
            parts.append("\n".join(f"{key}:{value}" for key, value in block))
    return "\n\n".join(parts) + "\n\n"


def _alias(params: Mapping[str, str], *names: str) -> str | None:
    for name in names:
        if name in params:
            return params[name]
    return None


def _user_block(node: Node) -> Block:
    return [
        ("NODEID", str(node.node_id)),
        ("NAME", node.name),
        ("NICK", node.nick),
        ("EMAIL", node.email),
        ("SSOID", node.ssoid),
        ("DESCRIPTION", node.description),
        ("TYPE", _USER_TYPE_NAMES.get(node.type, node.type)),
        ("HASMOBILEADDON", str(node.mobile_addon)),
        ("HASRPATADDON", str(node.rpat_addon)),
        ("ISACCOUNTHOLDER", str(node.account_holder)),
        ("STATUS", node.status),
    ]


def _group_block(node: Node, *, v2: bool) -> Block:
    block = [
        ("NODEID", str(node.node_id)),
        ("NAME", node.name),
        ("DESCRIPTION", node.description),
        ("TYPE", node.type),
        ("PERMISSIONS", ", ".join(node.permissions)),
        ("LOCKEDPERMISSIONS", ", ".join(node.locked_permissions)),
        ("ISENABLED", str(node.enabled)),
        ("STANDARDCONCURRENTLIMIT", "0"),
        ("MOBILECONCURRENTLIMIT", "0"),
    ]
    if v2:
        block.append(("RPATCONCURRENTLIMIT", "0"))
    return block


# -- methods ------------------------------------------------------------------------------


def _request_authcode(company: RescueCompany, p: dict[str, str]) -> Result:
    return [[("AUTHCODE", company.request_authcode(p.get("email", ""), p.get("pwd", "")))]]


def _request_authcode_sso(company: RescueCompany, p: dict[str, str]) -> Result:
    code = company.request_authcode_sso(p.get("ssoid", ""), p.get("pwd", ""), p.get("company", ""))
    return [[("AUTHCODE", code)]]


def _get_account(company: RescueCompany, p: dict[str, str]) -> Result:
    """getAccount: any signed-in user (technicians too); AdminID / TechID are 0 when the account
    holder has no (enabled) administrator node / technician seat (API_Rescue_getAccount.html)."""
    actor = company.authenticate(p.get("authcode"))
    with company.lock:
        admin, tech = account_nodes(company.nodes, actor)
        holder = company.nodes.get(actor.holder) or actor
        return [
            [
                ("AccountID", company.company_id),
                ("Organization", company.name),
                ("AdminID", str(admin)),
                ("TechID", str(tech)),
                ("Email", holder.email),
            ]
        ]


def _get_hierarchy(company: RescueCompany, p: dict[str, str]) -> Result:
    company.rights(company.authenticate(p.get("authcode")))
    with company.lock:
        start = company.root_id
        if p.get("isnode", "").strip().lower() == "true":
            start = company.node(_alias(p, "node", "nodeid")).node_id
        offline_filter = p.get("filteroffline", "").strip().lower() == "true"
        blocks: Result = []
        for node in company.walk(start):
            if offline_filter and node.type == "Technician" and node.status == "Offline":
                continue
            blocks.append(
                [
                    ("NodeID", str(node.node_id)),
                    ("ParentID", str(node.parent_id)),
                    ("Name", node.name),
                    ("Email", node.email),
                    ("Description", node.description),
                    ("Status", node.status),
                    ("Type", node.type),
                ]
            )
        return blocks


def _get_group(v2: bool) -> Handler:
    def handler(company: RescueCompany, p: dict[str, str]) -> Result:
        rights = company.rights(company.authenticate(p.get("authcode")))
        with company.lock:
            node = company.node(_alias(p, "node", "nodeid"))
            if not node.is_group:
                raise RescueStatus("INVALIDPARAM_NODE")
            rights.require(node, "INVALIDPARAM_NODE")
            return [_group_block(node, v2=v2)]

    return handler


def _create_group(company: RescueCompany, p: dict[str, str]) -> Result:
    actor = company.authenticate(p.get("authcode"))
    return [str(company.create_group(_alias(p, "parent", "parentid"), actor).node_id)]


def _get_user(company: RescueCompany, p: dict[str, str]) -> Result:
    actor = company.authenticate(p.get("authcode"))
    rights = company.rights(actor)
    node_raw, email = _alias(p, "node", "nodeid"), p.get("email", "").strip()
    with company.lock:
        if node_raw and email:
            raise RescueStatus("INVALID_EMAILANDNODEIDBOTHSPECIFIED")
        if email:
            user = company.user_by_email(email)
            if user is None:
                raise RescueStatus("INVALIDPARAM_EMAIL")
        else:
            user = company.node(node_raw)
        if not user.is_user:
            raise RescueStatus("INVALIDPARAM_NODE")
        if user.node_id != actor.node_id:  # one's own record; others' as one administers them
            rights.require(user, "INVALIDPARAM_NODE", strictly_below=user.type == "Technician")
        return [_user_block(user)]


def _create_user(company: RescueCompany, p: dict[str, str]) -> Result:
    actor = company.authenticate(p.get("authcode"))
    return [str(company.create_user(_alias(p, "parent", "parentid"), actor).node_id)]


def _setter(node_kind: Literal["group", "user"], v2: bool) -> Handler:
    """setGroup / setUser and their v2: the version decides which fields and values are valid."""

    def handler(company: RescueCompany, p: dict[str, str]) -> Result:
        actor = company.authenticate(p.get("authcode"))
        setter = company.set_group if node_kind == "group" else company.set_user
        setter(_with_node(p), actor, v2=v2)
        return []

    return handler


def _delete_node(company: RescueCompany, p: dict[str, str]) -> Result:
    actor = company.authenticate(p.get("authcode"))
    company.delete_node(_alias(p, "node", "nodeid"), actor)
    return []


def _move_node(company: RescueCompany, p: dict[str, str]) -> Result:
    actor = company.authenticate(p.get("authcode"))
    company.move_node(_alias(p, "node", "nodeid"), _alias(p, "targetnode", "targetnodeid"), actor)
    return []


def _request_pin(company: RescueCompany, p: dict[str, str]) -> Result:
    technician = company.authenticate(p.get("authcode"))
    return [[("PINCODE", company.request_pin(technician, p.get("notechconsole")))]]


def _with_node(p: dict[str, str]) -> dict[str, str]:
    node = _alias(p, "node", "nodeid")
    return p | {"node": node} if node is not None else p


METHODS: dict[str, Handler] = {
    "requestauthcode": _request_authcode,
    "requestauthcodesso": _request_authcode_sso,
    "getaccount": _get_account,
    "gethierarchy_v2": _get_hierarchy,
    "getgroup": _get_group(False),
    "getgroup_v2": _get_group(True),
    "creategroup": _create_group,
    "setgroup": _setter("group", False),
    "setgroup_v2": _setter("group", True),
    "getuser_v3": _get_user,
    "createuser": _create_user,
    "setuser": _setter("user", False),
    "setuser_v2": _setter("user", True),
    "deletenode": _delete_node,
    "movenode": _move_node,
    "requestpincode": _request_pin,
}


class RescueService:
    """Serves every emulated company; ``companies`` is keyed by company id."""

    def __init__(self, companies: Mapping[str, RescueCompany]) -> None:
        self.companies = companies

    async def _call(self, request: Request) -> Response:
        company = self.companies.get(request.path_params["company"])
        page = request.path_params["page"]
        name = page[: -len(".aspx")].lower() if page.lower().endswith(".aspx") else ""
        handler = METHODS.get(name)
        report_handler = REPORT_METHODS.get(name)
        if company is None or (handler is None and report_handler is None):
            return PlainTextResponse("The resource cannot be found.", status_code=404)
        params = {k.lower(): v for k, v in request.query_params.items()}
        if request.method == "POST":
            form = await request.form()
            params |= {k.lower(): v for k, v in form.items() if isinstance(v, str)}
        new_cookie = None
        if handler is not None and not params.get("authcode"):
            # A login.aspx cookie stands for the authcode on every method (getHierarchy_v2 as the
            # singer-io client calls it): docs/sandbox.md, "Reports per technician".
            signed_in = cookie_authcode(company, request.cookies.get(COOKIE))
            if signed_in is not None:
                params["authcode"] = signed_in
        try:
            if report_handler is not None:
                body, new_cookie = report_handler(company, params, request.cookies.get(COOKIE))
            else:
                assert handler is not None
                body = render("OK", handler(company, params))
        except RescueStatus as status:
            body = render(status.token)
        response = PlainTextResponse(body)
        if new_cookie is not None:
            response.set_cookie(COOKIE, new_cookie, httponly=True, secure=True)
        return response

    def app(self) -> Starlette:
        """The ASGI app, mounted at ``/rescue``."""
        return Starlette(routes=[Route("/{company}/API/{page}", self._call, methods=["GET", "POST"])])
