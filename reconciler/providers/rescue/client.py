"""The LogMeIn Rescue API client: form POSTs to ``<api_url>/<method>.aspx``, plain-text replies.

Every method is called with POST so that the authcode travels in the body, never in a URL (URLs
end up in proxy logs and exception messages). The API answers HTTP 200 even for errors, so the
status token decides: auth tokens become ``AuthError`` (which setting to fix), ``INVALIDPARAM_<X>``
an ``ApiError`` naming the parameter, ``LIMITREACHED`` / ``POLLRATEEXCEEDED`` (and HTTP 429) are
throttling and retried with backoff, ``ERROR`` and lost connections are retried for reads only.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Unpack
from urllib.parse import urlencode

import httpx
from pydantic import SecretStr

from reconciler.errors import ApiError, AuthError, ProtocolError, RateLimitedError
from reconciler.providers.base import ApiClient, ClientOptions
from reconciler.providers.http import require_https
from reconciler.providers.rescue.records import HierarchyResponse, parse_hierarchy
from reconciler.providers.rescue.textformat import RescueResponse, parse_response
from reconciler.providers.retry import Verdict

SERVICE = "rescue"

_METHOD = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_NODE = re.compile(r"^[0-9]+\Z")
_AUTH_TOKENS = {"INVALID_SECRETAUTHCODE", "NOTLOGGEDIN", "INVALID"}
_THROTTLE_TOKENS = {"LIMITREACHED", "POLLRATEEXCEEDED"}
_NEW_ID_KEYS = ("NODEID", "NODE", "ID")
_FORM_HEADERS = {"Accept": "text/plain", "Content-Type": "application/x-www-form-urlencoded"}

_REGENERATE = (
    "regenerate the authcode (requestAuthCode) or an API token in the Rescue Admin Center "
    "and set connection.rescue.authcode"
)


# What Rescue answers an account that may not touch the node (docs/sandbox.md, "Rescue caller
# roles and node model"): the same tokens as for a wrong node, so the message says both.
_RIGHTS_TOKENS = {
    "INVALIDPARAM_NODE",
    "INVALIDPARAM_PARENT",
    "INVALIDPARAM_PERMISSION",
    "INVALIDPARAM_LOCKEDPERMISSION",
    "INVALID_DELETE",
    "INVALID_MOVE",
}
_RIGHTS_HINT = (
    "Rescue answers this too when the account is not an administrator of that node (an "
    "Administrator outside their groups, or a locked permission): `reconcile doctor` checks the role"
)
_ROLE_HINT = (
    "a technician's authcode is refused so too: the account must be an Administrator or a Master "
    "Administrator (`reconcile doctor` names the role the tenant needs)"
)


def _text(response: httpx.Response) -> str:
    """The reply body as text. The API answers UTF-8; ``response.text`` would parse the
    Content-Type header with the email package for every reply to find that out."""
    content_type = response.headers.get("content-type", "")
    if "charset=" in content_type and "charset=utf-8" not in content_type.lower().replace('"', ""):
        return response.text  # another declared charset: let httpx decode it
    return response.content.decode("utf-8", errors="replace")


def _status_token(text: str) -> str:
    head = text.lstrip().split(None, 1)
    return head[0].upper() if head else ""


def require_http_ok(method: str, response: httpx.Response, tenant: str) -> None:
    """Rescue answers HTTP 200 even for errors; any other status is a failure of the call itself."""
    if response.status_code != 200:
        raise ApiError(
            f"{method}: HTTP {response.status_code}",
            status=response.status_code,
            service=SERVICE,
            tenant=tenant,
        )


def _node(value: str, what: str) -> str:
    if not _NODE.match(value):
        raise ValueError(f"{what} must be a numeric Rescue node ID, got {value!r}")
    return value


class RescueClient(ApiClient):
    """Async client of one Rescue company's API, authenticated by an authcode or API token."""

    def __init__(self, api_url: str, authcode: SecretStr, **options: Unpack[ClientOptions]) -> None:
        self.api_url = require_https(api_url, setting="connection.rescue.api_url")
        # Encoded once: the last field of every form body.
        self._authcode_field = urlencode({"authcode": authcode.get_secret_value()}).encode("ascii")
        self._urls: dict[str, httpx.URL] = {}  # parsed once per API method: URL parsing is costly
        super().__init__(SERVICE, None, **options)

    def __repr__(self) -> str:
        return f"RescueClient(api_url={self.api_url!r}, tenant={self.tenant!r})"

    # -------------------------------------------------------------------- the one request function

    async def call(
        self,
        method: str,
        params: Mapping[str, str],
        *,
        repeatable: bool,
        parse: Callable[[str], RescueResponse] = parse_response,
    ) -> RescueResponse:
        """POST ``params`` (plus the authcode) to ``<method>.aspx``; an ``OK`` reply, or raise.

        ``repeatable`` marks a call that is safe to repeat: reads, and setUser/setGroup, which send
        every field so a repeat leaves the same state. Only those are retried after ``ERROR``, a
        5xx or a lost connection; creates are not. Throttling is retried for every call (nothing
        was done).
        """
        if not _METHOD.match(method):
            raise ValueError(f"not a Rescue API method name: {method!r}")
        if "authcode" in {k.lower() for k in params}:
            raise ValueError("pass the authcode to RescueClient, not in params")
        url = self._urls.get(method) or self._urls.setdefault(
            method, httpx.URL(f"{self.api_url}/{method}.aspx")
        )
        form = (urlencode(params) + "&" if params else "").encode("ascii") + self._authcode_field

        def classify(response: httpx.Response) -> Verdict | None:
            if response.status_code != 200:
                return None  # status-based default: 429 throttled, 5xx retried for reads
            token = _status_token(_text(response))
            if token in _THROTTLE_TOKENS:
                return "throttled"
            if token == "ERROR" and repeatable:
                return "retry"
            return "done"

        response = await self._exchange(
            "POST",
            url,
            template=method,
            idempotent=repeatable,
            headers=_FORM_HEADERS,
            content=form,
            classify=classify,
        )
        require_http_ok(method, response, self.tenant)
        try:
            reply = parse(_text(response))
        except ProtocolError as exc:
            raise ProtocolError(f"{method}: {exc.message}", service=SERVICE, tenant=self.tenant) from exc
        self._check(method, reply.status)
        return reply

    def _check(self, method: str, token: str) -> None:
        where = method
        if token == "OK":
            return
        if token in _AUTH_TOKENS:
            # A technician's authcode is valid but has no Administration Center: NOTLOGGEDIN too.
            role = f"; {_ROLE_HINT}" if token == "NOTLOGGEDIN" else ""
            raise AuthError(
                f"{where}: Rescue refused the authcode ({token}): {_REGENERATE}{role}",
                service=SERVICE,
                tenant=self.tenant,
            )
        if token == "USER_DELETED_OR_DISABLED":
            raise AuthError(
                f"{where}: the Rescue user that owns the authcode is deleted or disabled ({token}): "
                f"{_REGENERATE} for an active administrator",
                service=SERVICE,
                tenant=self.tenant,
            )
        if token in _THROTTLE_TOKENS:
            raise RateLimitedError(f"{where}: still throttled ({token})", service=SERVICE, tenant=self.tenant)
        rights = f"; {_RIGHTS_HINT}" if token in _RIGHTS_TOKENS else ""
        if token.startswith("INVALIDPARAM_"):
            param, _, detail = token[len("INVALIDPARAM_") :].partition("_")
            extra = f" ({detail.lower().replace('_', ' ')})" if detail else ""
            raise ApiError(
                f"{where}: Rescue rejected the parameter '{param.lower()}'{extra} ({token}){rights}",
                code=token,
                status=200,
                service=SERVICE,
                tenant=self.tenant,
            )
        if token == "ERROR":
            raise ApiError(
                f"{where}: Rescue reported an unspecified error (ERROR)",
                code=token,
                service=SERVICE,
                tenant=self.tenant,
            )
        raise ApiError(
            f"{where}: Rescue answered {token}{rights}",
            code=token,
            status=200,
            service=SERVICE,
            tenant=self.tenant,
        )

    def _new_id(self, method: str, reply: RescueResponse) -> str:
        candidates = list(reply.values)
        for block in reply.blocks:
            candidates.extend(block[k] for k in _NEW_ID_KEYS if k in block)
        ids = [c for c in candidates if _NODE.match(c)]
        if len(ids) != 1:
            raise ProtocolError(
                f"{method}: the reply does not carry one new node ID", service=SERVICE, tenant=self.tenant
            )
        return ids[0]

    def _whole_record(self, method: str, reply: RescueResponse) -> dict[str, str]:
        """The one record of a getUser_v3 / getGroup_v2 reply, refused when lines fall outside it.

        A line break in a name or description leaves the fields as read unlike the fields as
        stored, and setUser_v2 / setGroup_v2 write back every field: nothing is decided on them.
        """
        if reply.values or len(reply.blocks) > 1:
            raise ProtocolError(
                f"{method}: the reply has lines outside its fields (a line break in the name or "
                "description?); fix that value in the Rescue Admin Center",
                service=SERVICE,
                tenant=self.tenant,
            )
        return self._first_block(method, reply)

    def _first_block(self, method: str, reply: RescueResponse) -> dict[str, str]:
        if not reply.blocks:
            raise ProtocolError(f"{method}: the reply has no fields", service=SERVICE, tenant=self.tenant)
        return reply.blocks[0]

    # -------------------------------------------------------------------- typed helpers

    async def get_hierarchy(self) -> HierarchyResponse:
        """The whole organisation tree in one call: one block per node (NODEID, PARENTID, NAME, ...),
        and the records that could not be read field by field (``odd``), set aside one by one."""
        reply = await self.call("getHierarchy_v2", {}, repeatable=True, parse=parse_hierarchy)
        assert isinstance(reply, HierarchyResponse)
        return reply

    async def get_user(self, *, node: str | None = None, email: str | None = None) -> dict[str, str]:
        """``getUser_v3`` by node ID or by email (exactly one of them)."""
        if (node is None) == (email is None):
            raise ValueError("get_user needs exactly one of node= or email=")
        params = {"node": _node(node, "node")} if node is not None else {"email": email or ""}
        return self._whole_record("getUser_v3", await self.call("getUser_v3", params, repeatable=True))

    async def set_user(self, fields: Mapping[str, str]) -> None:
        """``setUser_v2`` with every field (the API has no partial update: read, modify, write)."""
        if "node" not in fields:
            raise ValueError("set_user needs the 'node' field")
        await self.call("setUser_v2", fields, repeatable=True)

    async def get_group(self, node: str) -> dict[str, str]:
        """``getGroup_v2`` (the version that shows the v2 permissions), for read-modify-write."""
        reply = await self.call("getGroup_v2", {"node": _node(node, "node")}, repeatable=True)
        return self._whole_record("getGroup_v2", reply)

    async def create_group(self, parent: str) -> str:
        """A new, unnamed technician group under ``parent``; returns its node ID (name it with set_group)."""
        reply = await self.call("createGroup", {"parent": _node(parent, "parent")}, repeatable=False)
        return self._new_id("createGroup", reply)

    async def set_group(
        self,
        node: str,
        name: str,
        *,
        status: str = "Enabled",
        description: str = "",
        permissions: Sequence[str] | None = None,
        locked: Sequence[str] = (),
    ) -> None:
        """``setGroup_v2``; ``permissions`` None leaves the parameter out (Rescue decides, undocumented).

        Every other field is sent: an omitted optional one may be stored empty, so an update
        passes what getGroup_v2 read (``locked`` included).
        """
        if status not in ("Enabled", "Disabled"):
            raise ValueError(f"group status must be Enabled or Disabled, got {status!r}")
        params = {"node": _node(node, "node"), "name": name, "status": status, "description": description}
        if permissions is not None:
            params["permission"] = ",".join(permissions)
        if locked:
            params["lockedpermission"] = ",".join(locked)
        await self.call("setGroup_v2", params, repeatable=True)

    async def create_user(self, parent: str) -> str:
        """A new technician in the group ``parent``; returns its node ID (fill it with set_user)."""
        reply = await self.call("createUser", {"parent": _node(parent, "parent")}, repeatable=False)
        return self._new_id("createUser", reply)

    async def delete_node(self, node: str) -> None:
        """``deleteNode``: used only on a nameless technician node this apply's own createUser
        made and could not complete (its e-mail was taken meanwhile); never on a declared object."""
        await self.call("deleteNode", {"node": _node(node, "node")}, repeatable=False)

    async def get_account(self) -> dict[str, str]:
        """``getAccount``: who the authcode is (any signed-in user, a technician too): AccountID,
        Organization, AdminID and TechID (0 when the account holder is no administrator / has no
        technician seat), Email. A read: the least harmful way to learn the caller's role."""
        return self._whole_record("getAccount", await self.call("getAccount", {}, repeatable=True))
