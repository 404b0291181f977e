"""GET on collections and single rows: query options, paging headers, conditional GET."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rescue_sandbox.dataverse import errors
from rescue_sandbox.dataverse.addressing import resource_url
from rescue_sandbox.dataverse.protocol import (
    ApiRequest,
    ApiResponse,
    etag_matches,
    etag_of,
    json_response,
)
from rescue_sandbox.dataverse.query import (
    MAX_PAGE,
    Query,
    Source,
    context_fragment,
    fetch,
    matching,
    next_link,
    parse_query,
)
from rescue_sandbox.dataverse.representation import project
from rescue_sandbox.dataverse.schema import TableDef

if TYPE_CHECKING:
    from rescue_sandbox.dataverse.org import DataverseOrg

_SINGLE_OPTIONS = ("$select", "$expand")


def annotation_patterns(req: ApiRequest) -> list[str] | None:
    value = req.prefer().get("odata.include-annotations")
    if not value:
        return None
    return [p.strip() for p in value.split(",") if p.strip()]


def _page_size(req: ApiRequest, query: Query, applied: list[str]) -> int | None:
    raw = req.prefer().get("odata.maxpagesize")
    if raw is None or query.top is not None:
        return None
    try:
        size = int(raw)
    except ValueError:
        return None
    if size <= 0:
        return None
    size = min(size, MAX_PAGE)
    applied.append(f"odata.maxpagesize={size}")
    return size


def collection(
    org: DataverseOrg,
    req: ApiRequest,
    table: TableDef,
    source: Source,
    *,
    with_expand: bool = True,
) -> ApiResponse:
    """A page of ``table`` rows from ``source`` shaped by the request's query options."""
    query = parse_query(req.params, table, org if with_expand else None)
    applied: list[str] = []
    size = _page_size(req, query, applied)
    patterns = annotation_patterns(req)
    if patterns:
        applied.append(f'odata.include-annotations="{",".join(patterns)}"')
    page = fetch(table, source, query, size)
    body: dict[str, Any] = {
        "@odata.context": f"{req.api_root}/$metadata#{context_fragment(table, query.select, query.expand)}"
    }
    if page.count is not None:
        body["@odata.count"] = page.count
    body["value"] = [project(org, table, r, query.select, query.expand, patterns) for r in page.rows]
    if page.next_token is not None:
        body["@odata.nextLink"] = next_link(resource_url(req), query, page.next_token)
    headers = [("Preference-Applied", ",".join(applied))] if applied else []
    return json_response(200, body, headers)


def single_query(req: ApiRequest, table: TableDef, org: DataverseOrg) -> Query:
    for name, _ in req.params:
        if name.startswith("$") and name not in _SINGLE_OPTIONS:
            raise errors.query_error(
                f"The query option '{name}' is not allowed when retrieving a single record."
            )
    return parse_query(req.params, table, org)


def single(org: DataverseOrg, req: ApiRequest, table: TableDef, row: dict[str, Any]) -> ApiResponse:
    """One row; ``If-None-Match`` with its current ETag answers 304 like Dataverse."""
    query = single_query(req, table, org)
    if_none = req.header("if-none-match")
    if if_none and if_none != "*" and etag_matches(if_none, row):
        return ApiResponse(304, [("OData-Version", "4.0"), ("ETag", etag_of(row))])
    return entity_response(org, req, table, row, 200, query)


def entity_response(
    org: DataverseOrg,
    req: ApiRequest,
    table: TableDef,
    row: dict[str, Any],
    status: int,
    query: Query | None = None,
) -> ApiResponse:
    query = query or single_query(req, table, org)
    patterns = annotation_patterns(req)
    fragment = context_fragment(table, query.select, query.expand)
    body = {"@odata.context": f"{req.api_root}/$metadata#{fragment}/$entity"}
    body.update(project(org, table, row, query.select, query.expand, patterns))
    headers = [("ETag", etag_of(row))]
    if patterns:
        headers.append(("Preference-Applied", f'odata.include-annotations="{",".join(patterns)}"'))
    return json_response(status, body, headers)


def count(org: DataverseOrg, req: ApiRequest, table: TableDef) -> ApiResponse:
    """``GET <set>/$count`` (``$filter`` applies): plain text, capped at 5,000 like Dataverse."""
    query = parse_query(req.params, table, org)
    total = min(sum(1 for _ in matching(org.stores[table.logical_name], query.filter)), MAX_PAGE)
    return ApiResponse(
        200, [("Content-Type", "text/plain; charset=utf-8"), ("OData-Version", "4.0")], str(total).encode()
    )


def property_value(
    req: ApiRequest, table: TableDef, row: dict[str, Any], prop: str, raw: bool
) -> ApiResponse:
    value = row.get(prop)
    if value is None:
        return ApiResponse(204, [("OData-Version", "4.0")])
    if raw:
        text = str(value).lower() if isinstance(value, bool) else str(value)
        return ApiResponse(
            200, [("Content-Type", "text/plain; charset=utf-8"), ("OData-Version", "4.0")], text.encode()
        )
    context = f"{req.api_root}/$metadata#{table.entity_set}({row[table.id_column]})/{prop}"
    return json_response(200, {"@odata.context": context, "value": value})
