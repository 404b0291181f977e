"""Transport-free requests and responses, resource-path segments and key literals.

The routes work on :class:`ApiRequest` / :class:`ApiResponse` rather than on Starlette objects,
so a ``$batch`` part runs through exactly the same code as a top-level request.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from rescue_sandbox.dataverse import errors
from rescue_sandbox.dataverse.query import split_top
from rescue_sandbox.dataverse.values import normalize_guid

API_PREFIX = "/api/data/v9.2"
JSON_TYPE = "application/json; odata.metadata=minimal"


@dataclass
class ApiRequest:
    method: str
    path: str  # decoded, relative to the API root, without leading slash
    params: list[tuple[str, str]]
    headers: dict[str, str]  # lower-case names
    body: bytes
    api_root: str  # e.g. https://127.0.0.1:8443/dataverse/contoso.crm.dynamics.com/api/data/v9.2
    caller: Mapping[str, Any] = field(default_factory=dict)
    content_ids: dict[str, str] = field(default_factory=dict)  # $batch: "1" -> entity URL

    def header(self, name: str) -> str | None:
        value = self.headers.get(name.lower())
        return None if value is None or value.strip().lower() == "null" else value.strip()

    def prefer(self) -> dict[str, str]:
        """``Prefer`` preferences: name -> value ('' when the preference has no value)."""
        out: dict[str, str] = {}
        text, parts, quoted, start = self.header("prefer") or "", [], False, 0
        for i, ch in enumerate(text + ","):
            if ch == '"':
                quoted = not quoted
            elif ch == "," and not quoted:
                parts.append(text[start:i])
                start = i + 1
        for part in parts:
            name, _, value = part.strip().partition("=")
            if name:
                out[name.strip().lower()] = value.strip().strip('"')
        return out

    def json(self, entity_set: str = "") -> dict[str, Any]:
        if not self.body.strip():
            raise errors.payload_error(entity_set, "The request body is empty; a JSON object was expected.")
        try:
            data = json.loads(self.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise errors.payload_error(entity_set, f"Invalid JSON. {exc}") from exc
        if not isinstance(data, dict):
            raise errors.payload_error(entity_set, "A JSON object was expected as the request body.")
        return data


@dataclass
class ApiResponse:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    @property
    def reason(self) -> str:
        try:
            return HTTPStatus(self.status).phrase
        except ValueError:
            return "Unknown"

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


def json_response(status: int, payload: Any, headers: list[tuple[str, str]] | None = None) -> ApiResponse:
    return ApiResponse(
        status,
        [("Content-Type", JSON_TYPE), ("OData-Version", "4.0"), *(headers or [])],
        json.dumps(payload).encode("utf-8"),
    )


def no_content(headers: list[tuple[str, str]] | None = None, status: int = 204) -> ApiResponse:
    return ApiResponse(status, [("OData-Version", "4.0"), *(headers or [])])


def error_response(exc: errors.DataverseError) -> ApiResponse:
    headers = [("Content-Type", JSON_TYPE), ("OData-Version", "4.0"), *exc.headers.items()]
    return ApiResponse(exc.status, headers, exc.body_bytes())


@dataclass
class Segment:
    name: str
    key: str | None  # text inside the parentheses; None without parentheses


def split_path(path: str) -> list[Segment]:
    """Split a resource path on '/' outside quotes and parentheses."""
    segments: list[Segment] = []
    depth, quoted, start = 0, False, 0
    for i, ch in enumerate(path + "/"):
        if ch == "'":
            quoted = not quoted
        elif quoted:
            continue
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "/" and depth == 0:
            text = path[start:i]
            start = i + 1
            if not text:
                continue
            name, paren, rest = text.partition("(")
            if paren and not rest.endswith(")"):
                raise errors.segment_not_found(text)
            segments.append(Segment(name, rest[:-1] if paren else None))
    if depth or quoted:
        raise errors.query_error(
            f"Bad Request - Error in query syntax: unbalanced parentheses or quotes in '{path}'."
        )
    return segments


def parse_literal(text: str) -> Any:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1].replace("''", "'")
    guid = normalize_guid(text)
    if guid is not None and len(text) in (36, 38):
        return guid
    if text in ("true", "false"):
        return text == "true"
    if text == "null":
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError as exc:
        raise errors.query_error(
            f"Bad Request - Error in query syntax: invalid key literal '{text}'."
        ) from exc


def parse_key(text: str) -> str | dict[str, Any]:
    """A key segment: a GUID, or ``name=value`` pairs of an alternate key."""
    guid = normalize_guid(text.strip())
    if guid is not None and "=" not in text:
        return guid
    pairs: dict[str, Any] = {}
    for part in split_top(text, ","):
        name, eq, value = part.partition("=")
        if not eq or not name.strip():
            raise errors.query_error(f"Bad Request - Error in query syntax: invalid key '{text}'.")
        pairs[name.strip()] = parse_literal(value)
    if not pairs:
        raise errors.query_error("Bad Request - Error in query syntax: empty key.")
    return pairs


def relative_path(url: str) -> str:
    """Resource path of an absolute or root-relative Web API URL (``.../api/data/v9.2/x`` -> ``x``)."""
    marker = url.find(API_PREFIX + "/")
    if marker >= 0:
        return url[marker + len(API_PREFIX) + 1 :]
    return url.lstrip("/")


def etag_of(row: Mapping[str, Any]) -> str:
    return f'W/"{row.get("versionnumber")}"'


def etag_matches(header: str, row: Mapping[str, Any]) -> bool:
    if header.strip() == "*":
        return True
    current = str(row.get("versionnumber"))
    for tag in header.split(","):
        tag = tag.strip()
        tag = tag.removeprefix("W/")
        if tag.strip('"') == current:
            return True
    return False
