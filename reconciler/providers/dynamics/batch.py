"""Dataverse ``$batch``: encode operations as multipart/mixed, decode the multipart reply.

Pure (no I/O): ``DataverseClient.batch`` sends what ``encode_batch`` builds and hands the reply to
``decode_batch``. The wire format follows Microsoft's "Execute batch operations using the Web API"
examples: parts are ``application/http`` with ``Content-Transfer-Encoding: binary``; a change set is
a nested ``multipart/mixed; boundary="changeset_<id>"`` part whose operations carry ``Content-ID``
and may reference earlier ones as ``$<Content-ID>``. The reply uses ``--batchresponse_<id>`` and
``--changesetresponse_<id>``; a failed change set comes back as one error part for the whole set.

Every operation gets exactly one ``BatchResult`` in request order, also the ones that did not run:
a change set member rolled back with a failing sibling, or an operation after the failure that
stopped a batch without ``odata.continue-on-error``. Those get status 424 (Failed Dependency, as in
OData JSON batches) and an error that says why.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from reconciler.errors import ApiError, ProtocolError
from reconciler.providers.http import api_error, path_template

CRLF = "\r\n"
NOT_EXECUTED = 424

_GUID_AT_END = re.compile(
    r"\(([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\)\s*$"
)
_REFERENCE = re.compile(r"^\$([A-Za-z0-9_.-]+)(?:/|$)")
_BOUNDARY = re.compile(r'boundary\s*=\s*"?([^";,\s]+)"?', re.IGNORECASE)
_STATUS_LINE = re.compile(r"^HTTP/\d(?:\.\d)?\s+(\d{3})(?:\s.*)?$")


@dataclass(frozen=True)
class BatchOperation:
    """One request inside a batch. ``path`` is relative to the API root, or ``$<Content-ID>/...``."""

    method: Literal["GET", "POST", "PATCH", "PUT", "DELETE"]
    path: str
    body: Mapping[str, Any] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    content_id: str | None = None


@dataclass(frozen=True)
class BatchResult:
    """The outcome of one operation; ``error`` is set for every status >= 400 (and for 424)."""

    content_id: str | None
    status: int
    headers: Mapping[str, str]
    body: dict[str, Any] | None
    error: ApiError | None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def entity_id(self) -> str | None:
        """The GUID of a created row, from ``OData-EntityId``."""
        match = _GUID_AT_END.search(self.headers.get("odata-entityid", ""))
        return match.group(1).lower() if match else None


@dataclass(frozen=True)
class HttpReplyPart:
    """One ``application/http`` response inside the reply."""

    content_id: str | None
    status: int
    headers: dict[str, str]
    body: str


@dataclass(frozen=True)
class ChangeSetReply:
    """A ``changesetresponse`` part: the responses of one successful change set."""

    parts: list[HttpReplyPart]


# ---------------------------------------------------------------------------- planning and encoding


def _references(op: BatchOperation) -> set[str]:
    refs = set()
    match = _REFERENCE.match(op.path)
    if match:
        refs.add(match.group(1))
    for key, value in (op.body or {}).items():
        if isinstance(value, str) and (key.endswith("@odata.bind") or key == "@odata.id"):
            match = _REFERENCE.match(value)
            if match:
                refs.add(match.group(1))
    return refs


def plan_chunks(ops: Sequence[BatchOperation], size: int, *, change_set: bool) -> list[list[BatchOperation]]:
    """Give every operation a Content-ID and split into requests of at most ``size`` operations.

    Each request holds one change set when ``change_set`` is set, so atomicity holds per request;
    a ``$n`` reference must therefore point to an earlier operation of the same request.
    Contract violations are programming errors (ValueError), raised before anything is sent.
    """
    if size < 1:
        raise ValueError("batch size must be >= 1")
    numbered: list[BatchOperation] = []
    seen: set[str] = set()
    for index, op in enumerate(ops, start=1):
        cid = op.content_id if op.content_id is not None else str(index)
        if cid in seen or not re.fullmatch(r"[A-Za-z0-9_.-]+", cid):
            raise ValueError(f"batch operation {index}: Content-ID {cid!r} is duplicated or malformed")
        if change_set and op.method == "GET":
            raise ValueError(f"batch operation {index}: GET is not allowed inside a change set")
        for name, value in op.headers.items():
            if any(c in f"{name}{value}" for c in "\r\n") or ":" in name:
                raise ValueError(f"batch operation {index}: malformed header {name!r}")
        seen.add(cid)
        numbered.append(replace(op, content_id=cid))
    chunks = [numbered[i : i + size] for i in range(0, len(numbered), size)]
    for chunk in chunks:
        earlier: set[str] = set()
        for op in chunk:
            refs = _references(op)
            if refs and not change_set:
                raise ValueError(f"batch operation {op.content_id}: $-references need a change set")
            missing = refs - earlier
            if missing:
                raise ValueError(
                    f"batch operation {op.content_id}: ${sorted(missing)[0]} does not name an earlier "
                    "operation of the same request"
                )
            earlier.add(op.content_id or "")
    return chunks


def _encode_operation(op: BatchOperation, *, api_root: str, in_change_set: bool) -> str:
    target = op.path if op.path.startswith("$") else f"{api_root}/{op.path.lstrip('/')}"
    head = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"]
    if in_change_set:
        head.append(f"Content-ID: {op.content_id}")
    inner = [f"{op.method} {target} HTTP/1.1"]
    if op.body is not None:
        inner.append("Content-Type: application/json; type=entry")
    inner.extend(f"{name}: {value}" for name, value in op.headers.items())
    text = CRLF.join(head) + CRLF + CRLF + CRLF.join(inner) + CRLF + CRLF
    if op.body is not None:
        text += json.dumps(dict(op.body), ensure_ascii=True, separators=(",", ":")) + CRLF
    return text


def encode_batch(
    ops: Sequence[BatchOperation], *, api_root: str, change_set: bool, boundary_id: str | None = None
) -> tuple[str, bytes]:
    """(Content-Type header, body) of one ``$batch`` request holding ``ops`` (already planned)."""
    batch = f"batch_{boundary_id or uuid.uuid4()}"
    out: list[str] = []
    if change_set:
        changeset = f"changeset_{boundary_id or uuid.uuid4()}"
        out.append(f'--{batch}{CRLF}Content-Type: multipart/mixed; boundary="{changeset}"{CRLF}{CRLF}')
        for op in ops:
            out.append(f"--{changeset}{CRLF}" + _encode_operation(op, api_root=api_root, in_change_set=True))
        out.append(f"--{changeset}--{CRLF}{CRLF}")
    else:
        for op in ops:
            out.append(f"--{batch}{CRLF}" + _encode_operation(op, api_root=api_root, in_change_set=False))
    out.append(f"--{batch}--{CRLF}")
    return f'multipart/mixed; boundary="{batch}"', "".join(out).encode("ascii")


# ---------------------------------------------------------------------------- decoding


def boundary_of(content_type: str) -> str | None:
    match = _BOUNDARY.search(content_type)
    return match.group(1) if match else None


def _split_multipart(text: str, boundary: str) -> list[str]:
    delimiter, closing = f"--{boundary}", f"--{boundary}--"
    parts: list[str] = []
    current: list[str] | None = None
    for line in text.split("\n"):
        stripped = line.rstrip()
        if stripped == closing:
            if current is not None:
                parts.append("\n".join(current))
            return parts
        if stripped == delimiter:
            if current is not None:
                parts.append("\n".join(current))
            current = []
        elif current is not None:
            current.append(line)
    raise ProtocolError(f"$batch reply is truncated: no closing --{boundary}-- delimiter")


def _headers_and_rest(text: str) -> tuple[dict[str, str], str]:
    head, _, rest = text.partition("\n\n")
    headers: dict[str, str] = {}
    for line in head.split("\n"):
        if line.strip():
            name, sep, value = line.partition(":")
            if not sep:
                raise ProtocolError(f"$batch reply: malformed header line {line[:60]!r}")
            headers[name.strip().lower()] = value.strip()
    return headers, rest


def _parse_http(text: str, content_id: str | None) -> HttpReplyPart:
    status_line, _, rest = text.lstrip("\n").partition("\n")
    match = _STATUS_LINE.match(status_line.strip())
    if not match:
        raise ProtocolError(f"$batch reply: expected an HTTP status line, got {status_line[:60]!r}")
    headers, body = _headers_and_rest(rest) if rest.strip() else ({}, "")
    return HttpReplyPart(content_id, int(match.group(1)), headers, body.strip())


def parse_batch_reply(content_type: str, body: str) -> list[HttpReplyPart | ChangeSetReply]:
    """The reply's top-level parts: single responses and change-set responses."""
    boundary = boundary_of(content_type)
    if not boundary or "multipart/mixed" not in content_type.lower():
        raise ProtocolError(f"$batch reply is not multipart/mixed ({content_type[:60]!r})")
    out: list[HttpReplyPart | ChangeSetReply] = []
    for raw in _split_multipart(body.replace("\r\n", "\n"), boundary):
        headers, rest = _headers_and_rest(raw)
        part_type = headers.get("content-type", "").lower()
        if part_type.startswith("multipart/mixed"):
            inner_boundary = boundary_of(headers["content-type"])
            if not inner_boundary:
                raise ProtocolError("$batch reply: change set part without a boundary")
            inner = []
            for inner_raw in _split_multipart(rest, inner_boundary):
                inner_headers, inner_rest = _headers_and_rest(inner_raw)
                inner.append(_parse_http(inner_rest, inner_headers.get("content-id")))
            out.append(ChangeSetReply(inner))
        elif part_type.startswith("application/http"):
            out.append(_parse_http(rest, headers.get("content-id")))
        else:
            raise ProtocolError(f"$batch reply: unexpected part type {part_type[:60]!r}")
    return out


class _Context:
    def __init__(self, service: str, tenant: str) -> None:
        self.service, self.tenant = service, tenant

    def where(self, op: BatchOperation) -> str:
        return f"$batch {op.method} {path_template(op.path)}"

    def result(self, op: BatchOperation, part: HttpReplyPart, on_412: str) -> BatchResult:
        body: dict[str, Any] | None = None
        if part.body:
            try:
                parsed = json.loads(part.body)
            except ValueError:
                parsed = None
            if isinstance(parsed, dict):
                body = parsed
            elif part.status < 400:
                raise ProtocolError(f"{self.where(op)}: reply body is not a JSON object")
        error = None
        if part.status >= 400:
            err = (body or {}).get("error")
            err = err if isinstance(err, dict) else {}
            code = str(err.get("code") or "")
            message = str(err.get("message") or part.body[:120])
            error = api_error(
                part.status,
                code,
                message,
                where=self.where(op),
                service=self.service,
                tenant=self.tenant,
                on_412=on_412,
            )
        return BatchResult(op.content_id, part.status, part.headers, body, error)

    def skipped(self, op: BatchOperation, why: str, *, code: str = "") -> BatchResult:
        error = ApiError(
            f"{self.where(op)}: {why}",
            status=NOT_EXECUTED,
            code=code,
            service=self.service,
            tenant=self.tenant,
        )
        return BatchResult(op.content_id, NOT_EXECUTED, {}, None, error)


def decode_batch(
    ops: Sequence[BatchOperation],
    parts: Sequence[HttpReplyPart | ChangeSetReply],
    *,
    change_set: bool,
    service: str = "dataverse",
    tenant: str = "",
    on_412: str = "changed since it was read",
) -> list[BatchResult]:
    """Match the reply's parts to the request's operations: one result per operation, in order."""
    ctx = _Context(service, tenant)
    if change_set:
        if len(parts) != 1:
            raise ProtocolError(f"$batch reply has {len(parts)} parts for one change set")
        (part,) = parts
        inner = [part] if isinstance(part, HttpReplyPart) else part.parts
        failures = [p for p in inner if p.status >= 400]
        if failures:
            return _rolled_back(ctx, ops, failures[0], on_412)
        by_id = {p.content_id: p for p in inner}
        if len(by_id) != len(inner) or set(by_id) != {op.content_id for op in ops}:
            raise ProtocolError("$batch reply: change set responses do not match the request's Content-IDs")
        return [ctx.result(op, by_id[op.content_id], on_412) for op in ops]

    singles: list[HttpReplyPart] = []
    for part in parts:
        if not isinstance(part, HttpReplyPart):
            raise ProtocolError("$batch reply: unexpected change set response")
        singles.append(part)
    if len(singles) > len(ops):
        raise ProtocolError(f"$batch reply has {len(singles)} parts for {len(ops)} operations")
    results = [ctx.result(op, part, on_412) for op, part in zip(ops, singles, strict=False)]
    if len(singles) < len(ops):
        if not results or results[-1].ok:
            raise ProtocolError(f"$batch reply has {len(singles)} parts for {len(ops)} operations")
        why = f"not executed: operation {results[-1].content_id} failed and stopped the batch"
        results.extend(ctx.skipped(op, why) for op in ops[len(singles) :])
    return results


def _rolled_back(
    ctx: _Context, ops: Sequence[BatchOperation], failure: HttpReplyPart, on_412: str
) -> list[BatchResult]:
    """A failed change set: the failing operation gets its error, its siblings a 424 (rolled back)."""
    if failure.content_id is None:  # the reply does not say which one: the set's error applies to all
        return [ctx.result(op, failure, on_412) for op in ops]
    culprit = _by_id(ops, failure.content_id)
    failed = ctx.result(culprit, failure, on_412)
    code = failed.error.code if failed.error is not None else ""
    why = f"rolled back: operation {culprit.content_id} of the same change set failed"
    return [failed if op is culprit else ctx.skipped(op, why, code=code) for op in ops]


def _by_id(ops: Sequence[BatchOperation], content_id: str) -> BatchOperation:
    for op in ops:
        if op.content_id == content_id:
            return op
    raise ProtocolError(f"$batch reply names Content-ID {content_id!r}, which was not sent")
