"""The Dataverse Web API client: one request function, paging, $batch, retries, typed errors.

Thin on purpose (DESIGN §2 principle 3): it knows OData, not the LogMeIn solution. Table and
column names come from the caller (who reads them from the solution profile). Every response is
checked here and turned into a ``ProviderError``; httpx exceptions never leave this module.

Idempotency decides what may be retried after a lost response (see ``reconciler.providers.retry``):
reads, ``PATCH``/``DELETE`` with ``If-Match: *`` and create-only ``PATCH`` repeat safely; a ``POST``
create, an action, an association, and a write carrying a concrete ETag (which a successful first
attempt would have changed, turning the retry into a false "changed since it was read") do not.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Unpack

import httpx

from reconciler.errors import ApiError, AuthError, ProtocolError, ProviderError
from reconciler.providers.base import ApiClient, ClientOptions
from reconciler.providers.dynamics.batch import (
    NOT_EXECUTED,
    BatchOperation,
    BatchResult,
    decode_batch,
    encode_batch,
    parse_batch_reply,
    plan_chunks,
)
from reconciler.providers.entra import TokenProvider
from reconciler.providers.http import (
    api_error,
    encode_query,
    error_payload,
    odata_page,
    path_template,
    require_https,
)
from reconciler.providers.retry import Verdict

SERVICE = "dataverse"
API_PATH = "/api/data/v9.2"

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_KEY_EXPR = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=.+$")
_ENTITY_ID = re.compile(
    r"\(([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\)\s*$"
)

_UNAUTHORIZED = (
    "Dataverse refused the access token (HTTP 401): check that the app registration "
    "(connection.dynamics.client_id) is an application user of this org and is enabled"
)


# Another solution operation holds the org's customization lock (KB 4343228: 80071151 /
# -2147020463). It lasts as long as that operation (minutes), so it is no throttling to back off
# from: the caller sees it at once (``ApiError.code``) and decides how long to wait.
CUSTOMIZATION_LOCK = "0x80071151"


def _customization_lock(response: httpx.Response) -> Verdict | None:
    if response.status_code == 429 and error_payload(response)[0].lower() == CUSTOMIZATION_LOCK:
        return "done"
    return None


def odata_string(value: str) -> str:
    """An OData string literal ('' escapes a quote)."""
    return "'" + value.replace("'", "''") + "'"


def _name(value: str, what: str) -> str:
    if not _NAME.match(value):
        raise ValueError(f"not a valid {what}: {value!r}")
    return value


def _row(entity_set: str, row_id: str) -> str:
    """``set(<guid>)`` or ``set(key='value')``; anything else is a caller bug."""
    _name(entity_set, "entity set name")
    if _GUID.match(row_id):
        return f"{entity_set}({row_id.lower()})"
    if _KEY_EXPR.match(row_id):
        return f"{entity_set}({row_id})"
    raise ValueError(f"not a row id or key expression: {row_id!r}")


class DataverseClient(ApiClient):
    """Async client of one org's Web API (``base_url`` is the org URL; the API root is added)."""

    def __init__(self, base_url: str, tokens: TokenProvider, **options: Unpack[ClientOptions]) -> None:
        self.base_url = require_https(base_url, setting="connection.dynamics.org_url")
        self.api_root = self.base_url + API_PATH
        super().__init__(SERVICE, tokens, **options)

    # -------------------------------------------------------------------- the one request function

    async def _request(
        self,
        method: str,
        target: str,
        *,
        idempotent: bool,
        params: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
        content: tuple[str, bytes] | None = None,
        headers: Mapping[str, str] | None = None,
        on_412: str = "",
        accept: Callable[[httpx.Response], bool] | None = None,
        classify: Callable[[httpx.Response], Verdict | None] | None = None,
    ) -> httpx.Response:
        """Send one logical request (with retries) and return a 2xx (or ``accept``-ed) response."""
        if target.startswith("https://"):
            if not target.startswith(self.api_root + "/"):  # never send the token elsewhere
                raise ProtocolError(
                    "a nextLink points outside this org's Web API; refusing to follow it",
                    service=SERVICE,
                    tenant=self.tenant,
                )
            url, relative = target, target[len(self.api_root) + 1 :]
        else:
            relative = target.lstrip("/")
            url = f"{self.api_root}/{relative}"
            if params:
                url += ("&" if "?" in url else "?") + encode_query(params)
        template = path_template(relative)
        send_headers = {"Accept": "application/json", "OData-MaxVersion": "4.0", "OData-Version": "4.0"}
        payload: bytes | None = None
        if body is not None:
            send_headers["Content-Type"] = "application/json"
            payload = json.dumps(dict(body), ensure_ascii=True, separators=(",", ":")).encode("ascii")
        elif content is not None:
            send_headers["Content-Type"], payload = content
        send_headers.update(headers or {})
        response = await self._exchange(
            method,
            url,
            template=template,
            idempotent=idempotent,
            headers=send_headers,
            content=payload,
            classify=classify,
        )
        if response.is_success or (accept is not None and accept(response)):
            return response
        raise self._error(response, f"{method} {template}", on_412=on_412)

    def _error(self, response: httpx.Response, where: str, *, on_412: str = "") -> ProviderError:
        code, message = error_payload(response)
        if response.status_code == 401:
            return AuthError(f"{where}: {_UNAUTHORIZED}", service=SERVICE, tenant=self.tenant)
        return api_error(
            response.status_code,
            code,
            message,
            where=where,
            service=SERVICE,
            tenant=self.tenant,
            on_412=on_412,
        )

    # -------------------------------------------------------------------- reads

    async def get(self, path: str, params: Mapping[str, str] | None = None) -> dict[str, Any]:
        """GET one resource (a row, a metadata object, a function) relative to the API root."""
        response = await self._request("GET", path, idempotent=True, params=params)
        return self._json(response, f"GET {path_template(path)}")

    async def list_all(
        self,
        entity_set_or_path: str,
        *,
        select: Sequence[str] = (),
        filter: str | None = None,
        expand: str | None = None,
        orderby: str | None = None,
        page_size: int | None = None,
    ) -> list[dict[str, Any]]:
        """Every row of a query, page by page (``Prefer: odata.maxpagesize``, ``@odata.nextLink``).

        All or nothing: a page that still fails after retries raises, so a caller never mistakes
        a truncated list for the whole table.
        """
        size = page_size or self.settings.page_size
        if not 1 <= size <= 5000:
            raise ValueError("page_size must be between 1 and 5000")
        params = {"$select": ",".join(select)} if select else {}
        for key, value in (("$filter", filter), ("$expand", expand), ("$orderby", orderby)):
            if value:
                params[key] = value
        prefer = {"Prefer": f"odata.maxpagesize={size}"}
        where = f"GET {path_template(entity_set_or_path)}"
        rows: list[dict[str, Any]] = []
        seen: set[str] = set()
        target: str | None = entity_set_or_path
        first = True
        while target is not None:
            response = await self._request(
                "GET", target, idempotent=True, params=params if first else None, headers=prefer
            )
            first = False
            page, target = odata_page(
                self._json(response, where), where, seen, service=SERVICE, tenant=self.tenant
            )
            rows.extend(page)
        return rows

    # -------------------------------------------------------------------- writes

    async def create(self, entity_set: str, body: Mapping[str, Any]) -> str:
        """POST a new row; returns its id (from ``OData-EntityId``). Not retried after a lost reply."""
        response = await self._request(
            "POST", _name(entity_set, "entity set name"), idempotent=False, body=body
        )
        match = _ENTITY_ID.search(response.headers.get("odata-entityid", ""))
        if not match:
            raise ProtocolError(
                f"POST {entity_set}: the reply has no OData-EntityId with the new id",
                service=SERVICE,
                tenant=self.tenant,
            )
        return match.group(1).lower()

    async def create_only(self, entity_set: str, row_id: str, body: Mapping[str, Any]) -> None:
        """PATCH with ``If-None-Match: *``: create with a chosen id; PreconditionFailed if it exists."""
        await self._request(
            "PATCH",
            _row(entity_set, row_id),
            idempotent=True,
            body=body,
            headers={"If-None-Match": "*"},
            on_412="already exists",
        )

    async def update(
        self, entity_set: str, row_id: str, body: Mapping[str, Any], *, etag: str | None
    ) -> None:
        """PATCH an existing row: ``If-Match`` the ETag read at plan time (or ``*``: must exist)."""
        await self._request(
            "PATCH",
            _row(entity_set, row_id),
            idempotent=etag is None,
            body=body,
            headers={"If-Match": etag or "*"},
            on_412="changed since it was read",
        )

    async def delete(self, entity_set: str, row_id: str, *, etag: str | None) -> None:
        """DELETE a row, guarded by ``If-Match`` like ``update``."""
        await self._request(
            "DELETE",
            _row(entity_set, row_id),
            idempotent=etag is None,
            headers={"If-Match": etag or "*"},
            on_412="changed since it was read",
        )

    async def associate(
        self, entity_set: str, row_id: str, navigation: str, target_entity_set: str, target_id: str
    ) -> None:
        """POST ``<row>/<navigation>/$ref`` (Dataverse rejects a duplicate association: diff first)."""
        path = f"{_row(entity_set, row_id)}/{_name(navigation, 'navigation property')}/$ref"
        target = f"{self.api_root}/{_row(target_entity_set, target_id)}"
        await self._request("POST", path, idempotent=False, body={"@odata.id": target})

    async def disassociate(self, entity_set: str, row_id: str, navigation: str, target_id: str) -> None:
        """DELETE ``<row>/<navigation>(<target>)/$ref``."""
        if not _GUID.match(target_id):
            raise ValueError(f"not a row id: {target_id!r}")
        path = (
            f"{_row(entity_set, row_id)}/{_name(navigation, 'navigation property')}({target_id.lower()})/$ref"
        )
        await self._request("DELETE", path, idempotent=True)

    async def action(self, name: str, body: Mapping[str, Any]) -> dict[str, Any] | None:
        """POST an unbound action (``ImportSolution``, ``ReactivateEntityKey``); its reply, if any."""
        response = await self._request(
            "POST", _name(name, "action name"), idempotent=False, body=body, classify=_customization_lock
        )
        if response.status_code == 204 or not response.content:
            return None
        return self._json(response, f"POST {name}")

    async def batch(
        self, ops: Sequence[BatchOperation], *, change_set: bool, continue_on_error: bool
    ) -> list[BatchResult]:
        """Run ``ops`` in ``$batch`` requests of at most ``settings.batch_size``; one result per op.

        With ``change_set`` each request is one atomic change set. Without ``continue_on_error``
        the first failure stops everything after it (later requests are not sent; their
        operations come back as 424 "not executed").

        A failure of a whole request (throttled, connection lost, rejected) raises when it is the
        first request. On a later request, raising would hide what the earlier ones did, so its
        operations get status 0 and the error instead (AuthError always raises).
        """
        chunks = plan_chunks(ops, self.settings.batch_size, change_set=change_set)
        results: list[BatchResult] = []
        stopped = False
        for index, chunk in enumerate(chunks):
            if stopped:
                results.extend(_failed(chunk, "not sent: an earlier $batch request failed", self.tenant))
                continue
            content = encode_batch(chunk, api_root=self.api_root, change_set=change_set)
            headers = {"Prefer": "odata.continue-on-error"} if continue_on_error else {}
            try:
                results.extend(await self._send_batch(chunk, content, headers, change_set=change_set))
            except AuthError:
                raise
            except ProviderError as exc:
                if index == 0:
                    raise
                results.extend(
                    _failed(chunk, f"the $batch request failed: {exc.message}", self.tenant, status=0)
                )
            stopped = not continue_on_error and not all(r.ok for r in results)
        return results

    async def _send_batch(
        self,
        chunk: list[BatchOperation],
        content: tuple[str, bytes],
        headers: Mapping[str, str],
        *,
        change_set: bool,
    ) -> list[BatchResult]:
        response = await self._request(
            "POST",
            "$batch",
            idempotent=all(op.method == "GET" for op in chunk),
            content=content,
            headers=headers,
            accept=_stopped_batch,
        )
        parts = parse_batch_reply(response.headers.get("content-type", ""), response.text)
        return decode_batch(chunk, parts, change_set=change_set, tenant=self.tenant)


def _stopped_batch(response: httpx.Response) -> bool:
    """Dataverse answers a batch stopped by a failure with 400 and a multipart body to decode."""
    return response.status_code == 400 and response.headers.get("content-type", "").startswith("multipart/")


def _failed(
    chunk: Sequence[BatchOperation], why: str, tenant: str, *, status: int = NOT_EXECUTED
) -> list[BatchResult]:
    return [
        BatchResult(
            op.content_id,
            status,
            {},
            None,
            ApiError(
                f"$batch {op.method} {path_template(op.path)}: {why}",
                status=status,
                service=SERVICE,
                tenant=tenant,
            ),
        )
        for op in chunk
    ]
