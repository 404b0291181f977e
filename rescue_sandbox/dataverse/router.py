"""Dispatch one Web API request (top-level or a ``$batch`` part) to its handler.

Every request runs under the org lock, first moving system jobs on (:func:`jobs.advance`), and
inside a transaction, so a request that fails half-way leaves nothing behind. ``$batch`` is
handled by :mod:`batch`, which calls back into :func:`handle` for each part; the bulk actions
bound to an entity set (``<set>/Microsoft.Dynamics.CRM.CreateMultiple`` ...) by :mod:`bulk`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from rescue_sandbox.dataverse import (
    actions,
    bulk,
    errors,
    jobs,
    metadata,
    navigation,
    reads,
    security,
    writes,
)
from rescue_sandbox.dataverse.addressing import find_row
from rescue_sandbox.dataverse.protocol import (
    ApiRequest,
    ApiResponse,
    Segment,
    error_response,
    json_response,
    parse_key,
    split_path,
)
from rescue_sandbox.dataverse.schema import TableDef

if TYPE_CHECKING:
    from rescue_sandbox.dataverse.org import DataverseOrg

log = logging.getLogger(__name__)


def handle(org: DataverseOrg, req: ApiRequest) -> ApiResponse:
    """Answer one request; never raises (errors become Dataverse error responses)."""
    try:
        with org.lock:
            jobs.advance(org)
            with org.transaction():
                return route(org, req)
    except errors.DataverseError as exc:
        return error_response(exc)
    except Exception:
        log.exception("unexpected error in the Dataverse emulator: %s %s", req.method, req.path)
        return error_response(errors.DataverseError(500, errors.UNEXPECTED, "An unexpected error occurred."))


def _no_route(req: ApiRequest) -> errors.DataverseError:
    return errors.DataverseError(
        405,
        errors.BAD_SEGMENT,
        f"No HTTP resource was found that matches the request URI '{req.api_root}/{req.path}' for method {req.method}.",
    )


def route(org: DataverseOrg, req: ApiRequest) -> ApiResponse:
    security.check(org, req.caller, req.method, req.path)
    segments = split_path(req.path)
    if not segments:
        if req.method != "GET":
            raise _no_route(req)
        sets = sorted(t.entity_set for t in org.tables.values())
        value = [{"name": s, "kind": "EntitySet", "url": s} for s in sets]
        return json_response(200, {"@odata.context": f"{req.api_root}/$metadata", "value": value})
    head = segments[0]
    if head.name == "$metadata":
        raise errors.not_supported("the CSDL $metadata document")
    if head.name == "$batch":
        raise errors.DataverseError(
            400, errors.BATCH_LIMIT, "A $batch request cannot contain another $batch request."
        )
    if head.name == "EntityDefinitions":
        return metadata.handle(org, req, segments)
    if head.name in actions.OPERATIONS:
        return actions.handle(org, req, segments)
    table = org.by_set.get(head.name)
    if table is None:
        raise errors.segment_not_found(head.name)
    return _entity_set(org, req, table, segments)


def _entity_set(org: DataverseOrg, req: ApiRequest, table: TableDef, segments: list[Segment]) -> ApiResponse:
    head, rest = segments[0], segments[1:]
    if head.key is None:
        if not rest:
            if req.method == "GET":
                return reads.collection(org, req, table, org.stores[table.logical_name])
            if req.method == "POST":
                return writes.create(org, req, table)
            raise _no_route(req)
        if rest[0].name == "$count" and len(rest) == 1 and req.method == "GET":
            return reads.count(org, req, table)
        if rest[0].name in bulk.ACTIONS and rest[0].key is None and len(rest) == 1:
            return bulk.handle(org, req, table, rest[0].name)
        raise errors.segment_not_found(rest[0].name)
    key = parse_key(head.key)
    if not rest:
        if req.method == "GET":
            row = find_row(org, table, key)
            assert row is not None
            return reads.single(org, req, table, row)
        if req.method == "PATCH":
            return writes.patch(org, req, table, key)
        if req.method == "DELETE":
            return writes.delete(org, req, table, key)
        raise _no_route(req)
    row = find_row(org, table, key)
    assert row is not None
    seg, more = rest[0], rest[1:]
    if seg.name == security.RETRIEVE_USER_PRIVILEGES and table.logical_name == "systemuser":
        if req.method != "GET" or more or seg.key not in (None, ""):
            raise _no_route(req)
        body = {
            "@odata.context": f"{req.api_root}/$metadata#Microsoft.Dynamics.CRM.RetrieveUserPrivilegesResponse",
            "RolePrivileges": security.retrieve_user_privileges(org, row["systemuserid"]),
        }
        return json_response(200, body)
    if seg.name in table.collection_navs:
        return navigation.collection_nav(org, req, table, row, seg, more)
    if seg.name in table.navs:
        return navigation.single_nav(org, req, table, row, seg, more)
    column = table.column(seg.name)
    if column is None or seg.key is not None:
        raise errors.segment_not_found(seg.name)
    if not more and req.method == "GET":
        return reads.property_value(req, table, row, column.prop, raw=False)
    if [s.name for s in more] == ["$value"] and req.method == "GET":
        return reads.property_value(req, table, row, column.prop, raw=True)
    if not more and req.method in ("PUT", "DELETE"):
        return writes.put_property(org, req, table, row, column.prop)
    raise _no_route(req)
