"""``$batch``: the multipart/mixed codec and its execution with atomic change sets.

Request: ``Content-Type: multipart/mixed; boundary=batch_<id>``; each part is ``application/http``
(``Content-Transfer-Encoding: binary``) holding one HTTP request, or a nested ``multipart/mixed;
boundary=changeset_<id>`` whose parts carry ``Content-ID`` and may refer to earlier ones as
``$<id>`` (in the URL, ``@odata.bind`` or ``@odata.id``). The structure is checked before anything
runs: at most 1,000 requests, no GET inside a change set, no nested batch.

Response: ``--batchresponse_<guid>`` parts, change sets as ``--changesetresponse_<guid>``, each an
``HTTP/1.1`` status line, headers and body. A failed change set is rolled back and answered by a
single error part. Without ``Prefer: odata.continue-on-error`` the first failure stops the batch
and the outer status is 400; with it the outer status is 200 and every part has its own status.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, unquote

from rescue_sandbox.dataverse import errors
from rescue_sandbox.dataverse.protocol import ApiRequest, ApiResponse, error_response, relative_path

if TYPE_CHECKING:
    from rescue_sandbox.dataverse.org import DataverseOrg

MAX_REQUESTS = 1000
Handler = Callable[["DataverseOrg", ApiRequest], ApiResponse]


@dataclass
class Operation:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes
    content_id: str | None = None


@dataclass
class ChangeSet:
    operations: list[Operation] = field(default_factory=list)


def _bad(message: str) -> errors.DataverseError:
    return errors.DataverseError(400, errors.BATCH_LIMIT, message)


def boundary_of(content_type: str) -> str | None:
    media, *params = [p.strip() for p in content_type.split(";")]
    if media.lower() != "multipart/mixed":
        return None
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "boundary" and value.strip():
            return value.strip().strip('"')
    return None


def _headers(lines: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in lines:
        name, colon, value = line.partition(":")
        if not colon:
            raise _bad(f"Malformed header line in batch part: {line!r}")
        out[name.strip().lower()] = value.strip()
    return out


def _split(text: str, boundary: str) -> list[str]:
    """The bodies between ``--boundary`` lines, up to ``--boundary--``."""
    parts: list[str] = []
    current: list[str] | None = None
    closed = False
    for line in text.split("\n"):
        if line.rstrip() == f"--{boundary}--":
            if current is not None:
                parts.append("\n".join(current))
            closed = True
            break
        if line.rstrip() == f"--{boundary}":
            if current is not None:
                parts.append("\n".join(current))
            current = []
        elif current is not None:
            current.append(line)
    if not closed:
        raise _bad(f"The multipart body is not terminated by '--{boundary}--'.")
    return parts


def _head_and_body(part: str) -> tuple[list[str], str]:
    head, sep, body = part.partition("\n\n")
    if not sep:
        head, body = part.rstrip("\n"), ""
    return [line for line in head.split("\n") if line.strip()], body


def _operation(part: str) -> Operation:
    lines, content = _head_and_body(part)
    headers = _headers(lines)
    if headers.get("content-type", "").split(";")[0].strip().lower() != "application/http":
        raise _bad("Each batch item must have Content-Type: application/http.")
    request_lines, body = _head_and_body(content)
    if not request_lines:
        raise _bad("A batch item holds no HTTP request line.")
    words = request_lines[0].split()
    if len(words) != 3 or not words[2].startswith("HTTP/"):
        raise _bad(f"Malformed request line in batch: {request_lines[0]!r}")
    body = body.rstrip("\n")
    return Operation(
        words[0].upper(),
        words[1],
        _headers(request_lines[1:]),
        body.encode("utf-8"),
        headers.get("content-id"),
    )


def parse_batch(body: bytes, content_type: str) -> list[Operation | ChangeSet]:
    boundary = boundary_of(content_type)
    if boundary is None:
        raise _bad("A $batch request needs Content-Type: multipart/mixed with a boundary.")
    try:
        text = body.decode("utf-8").replace("\r\n", "\n")
    except UnicodeDecodeError as exc:
        raise _bad("The $batch body is not UTF-8 text.") from exc
    items: list[Operation | ChangeSet] = []
    total = 0
    for part in _split(text, boundary):
        lines, content = _head_and_body(part)
        nested = boundary_of(_headers(lines).get("content-type", ""))
        if nested is None:
            op = _operation(part)
            items.append(op)
            total += 1
            continue
        changeset = ChangeSet()
        for inner in _split(content, nested):
            inner_lines, _ = _head_and_body(inner)
            if boundary_of(_headers(inner_lines).get("content-type", "")) is not None:
                raise _bad("Change sets cannot be nested, and a batch cannot contain other batch requests.")
            op = _operation(inner)
            if op.method == "GET":
                raise _bad("GET requests are not allowed inside a change set.")
            changeset.operations.append(op)
        items.append(changeset)
        total += len(changeset.operations)
    for item in items:
        for op in item.operations if isinstance(item, ChangeSet) else [item]:
            if relative_path(op.url.split("?")[0]).startswith("$batch"):
                raise _bad("A batch request cannot contain other batch requests.")
    if total > MAX_REQUESTS:
        raise _bad(f"Number of requests in the batch ({total}) exceeded the limit of {MAX_REQUESTS}.")
    return items


def _sub_request(parent: ApiRequest, op: Operation, content_ids: dict[str, str]) -> ApiRequest:
    url = op.url
    if url.startswith("$"):
        ref, sep, tail = url[1:].partition("/")
        ref, qmark, query = ref.partition("?")
        if ref not in content_ids:
            raise errors.DataverseError(
                400,
                errors.BAD_PROPERTY,
                f"Content-ID Reference: '${ref}' does not exist in the batch context.",
            )
        url = content_ids[ref] + (sep + tail if sep else "") + (qmark + query if qmark else "")
    path, _, query = url.partition("?")
    return ApiRequest(
        method=op.method,
        path=unquote(relative_path(path)),
        params=parse_qsl(query, keep_blank_values=True),
        headers=op.headers,
        body=op.body,
        api_root=parent.api_root,
        caller=parent.caller,
        content_ids=content_ids,
    )


class _ChangeSetFailed(Exception):
    def __init__(self, response: ApiResponse, content_id: str | None) -> None:
        super().__init__(response.status)
        self.response = response
        self.content_id = content_id


def _http_part(response: ApiResponse, content_id: str | None) -> str:
    lines = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"]
    if content_id is not None:
        lines.append(f"Content-ID: {content_id}")
    lines += ["", f"HTTP/1.1 {response.status} {response.reason}"]
    headers = list(response.headers)
    entity_id = response.header("OData-EntityId")
    if entity_id and response.header("Location") is None:
        headers.append(("Location", entity_id))
    lines += [f"{name}: {value}" for name, value in headers]
    lines += ["", response.body.decode("utf-8")]
    return "\r\n".join(lines)


def execute(org: DataverseOrg, req: ApiRequest, handle: Handler) -> ApiResponse:
    """Run a ``$batch`` request; answers 400 JSON when the batch itself is malformed."""
    try:
        items = parse_batch(req.body, req.headers.get("content-type", ""))
    except errors.DataverseError as exc:
        return error_response(exc)
    continue_on_error = "odata.continue-on-error" in req.prefer()
    boundary = f"batchresponse_{uuid.uuid4()}"
    parts: list[str] = []
    failed = False
    with org.lock:
        for item in items:
            if isinstance(item, Operation):
                try:
                    response = handle(org, _sub_request(req, item, {}))
                except errors.DataverseError as exc:
                    response = error_response(exc)
                parts.append(_http_part(response, item.content_id))
                ok = response.status < 400
            else:
                ok, part = _run_changeset(org, req, item, handle)
                parts.append(part)
            if not ok:
                failed = True
                if not continue_on_error:
                    break
    body = "".join(f"--{boundary}\r\n{part}\r\n" for part in parts) + f"--{boundary}--\r\n"
    headers = [("Content-Type", f"multipart/mixed; boundary={boundary}"), ("OData-Version", "4.0")]
    return ApiResponse(400 if failed and not continue_on_error else 200, headers, body.encode("utf-8"))


def _run_changeset(
    org: DataverseOrg, req: ApiRequest, changeset: ChangeSet, handle: Handler
) -> tuple[bool, str]:
    content_ids: dict[str, str] = {}
    answered: list[tuple[str | None, ApiResponse]] = []
    try:
        with org.transaction():
            for op in changeset.operations:
                try:
                    response = handle(org, _sub_request(req, op, content_ids))
                except errors.DataverseError as exc:
                    response = error_response(exc)
                if response.status >= 400:
                    raise _ChangeSetFailed(response, op.content_id)
                entity = response.header("OData-EntityId")
                if op.content_id is not None and entity:
                    content_ids[op.content_id] = entity
                answered.append((op.content_id, response))
    except _ChangeSetFailed as failure:
        return False, _http_part(failure.response, failure.content_id)
    inner = f"changesetresponse_{uuid.uuid4()}"
    body = "".join(f"--{inner}\r\n{_http_part(resp, cid)}\r\n" for cid, resp in answered) + f"--{inner}--"
    return True, f"Content-Type: multipart/mixed; boundary={inner}\r\n\r\n{body}"
