"""Navigation properties and ``$ref``: lookups (single-valued) and N:N (collection-valued).

``POST systemusers(<uid>)/systemuserroles_association/$ref`` with ``{"@odata.id": ".../roles(<id>)"}``
associates (204; twice is "Cannot insert duplicate key."), ``DELETE .../systemuserroles_association(<id>)/$ref``
disassociates, ``GET .../systemuserroles_association`` lists the related rows with query options.
For a lookup, ``PUT <set>(<id>)/<nav>/$ref`` sets it and ``DELETE`` clears it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rescue_sandbox.dataverse import errors
from rescue_sandbox.dataverse.addressing import entity_url, resolve_reference
from rescue_sandbox.dataverse.protocol import (
    ApiRequest,
    ApiResponse,
    Segment,
    json_response,
    no_content,
    parse_key,
)
from rescue_sandbox.dataverse.query import ListSource
from rescue_sandbox.dataverse.reads import collection, entity_response
from rescue_sandbox.dataverse.schema import TableDef

if TYPE_CHECKING:
    from rescue_sandbox.dataverse.org import DataverseOrg


def _no_route(req: ApiRequest) -> errors.DataverseError:
    return errors.DataverseError(
        405,
        errors.BAD_SEGMENT,
        f"No HTTP resource was found that matches the request URI '{req.api_root}/{req.path}' for method {req.method}.",
    )


def _reference_body(org: DataverseOrg, req: ApiRequest, expected: TableDef) -> str:
    body = req.json(expected.entity_set)
    target, target_id = resolve_reference(org, req, body.get("@odata.id"))
    if target.logical_name != expected.logical_name:
        raise errors.payload_error(
            expected.entity_set,
            f"The reference must address a '{expected.logical_name}' record, not '{target.logical_name}'.",
        )
    return target_id


def collection_nav(
    org: DataverseOrg,
    req: ApiRequest,
    table: TableDef,
    row: dict[str, Any],
    seg: Segment,
    rest: list[Segment],
) -> ApiResponse:
    rel = table.collection_navs[seg.name]
    row_id = str(row[table.id_column])
    left_side = rel.left_table == table.logical_name
    other = org.table(rel.right_table if left_side else rel.left_table)

    def ends(other_id: str) -> tuple[str, str]:
        return (row_id, other_id) if left_side else (other_id, row_id)

    related = org.related_ids(rel.name, table.logical_name, row_id)
    if not rest:
        if req.method != "GET":
            raise _no_route(req)
        store = org.stores[other.logical_name]
        if seg.key is not None:
            other_id = parse_key(seg.key)
            if not isinstance(other_id, str) or other_id not in related:
                raise errors.not_found(other.logical_name, seg.key)
            return entity_response(org, req, other, store.rows[other_id], 200)
        source = ListSource((store.rows[i] for i in related), other.id_column)
        return collection(org, req, other, source)
    if len(rest) != 1 or rest[0].name != "$ref":
        raise errors.segment_not_found(rest[0].name)
    if seg.key is not None:
        if req.method != "DELETE":
            raise _no_route(req)
        other_id = parse_key(seg.key)
        if not isinstance(other_id, str):
            raise errors.query_error("Disassociate needs the related record's id.")
        org.disassociate(rel.name, *ends(other_id))
        return no_content()
    if req.method == "POST":
        org.associate(rel.name, *ends(_reference_body(org, req, other)))
        return no_content()
    if req.method == "DELETE":
        ref = dict(req.params).get("$id")
        if ref is None:
            raise errors.query_error(
                "Disassociate needs the related record: use <nav>(<id>)/$ref or ?$id=<url>."
            )
        target, target_id = resolve_reference(org, req, ref)
        if target.logical_name != other.logical_name:
            raise errors.query_error(f"The $id must address a '{other.logical_name}' record.")
        org.disassociate(rel.name, *ends(target_id))
        return no_content()
    if req.method == "GET":
        values = [{"@odata.id": entity_url(req, other, i)} for i in related]
        return json_response(
            200, {"@odata.context": f"{req.api_root}/$metadata#Collection($ref)", "value": values}
        )
    raise _no_route(req)


def single_nav(
    org: DataverseOrg,
    req: ApiRequest,
    table: TableDef,
    row: dict[str, Any],
    seg: Segment,
    rest: list[Segment],
) -> ApiResponse:
    lookup = table.navs[seg.name]
    target = org.table(lookup.target or "")
    ref = row.get(lookup.prop)
    row_id = str(row[table.id_column])
    if seg.key is not None:
        raise errors.segment_not_found(f"{seg.name}({seg.key})")
    if not rest:
        if req.method != "GET":
            raise _no_route(req)
        other = org.stores[target.logical_name].get(ref) if ref else None
        if other is None:
            return no_content()
        return entity_response(org, req, target, other, 200)
    if len(rest) != 1 or rest[0].name != "$ref":
        raise errors.segment_not_found(rest[0].name)
    if req.method == "GET":
        if ref is None:
            return no_content()
        payload = {
            "@odata.context": f"{req.api_root}/$metadata#$ref",
            "@odata.id": entity_url(req, target, ref),
        }
        return json_response(200, payload)
    if req.method == "PUT":
        org.update(table.logical_name, row_id, {lookup.prop: _reference_body(org, req, target)})
        return no_content()
    if req.method == "DELETE":
        org.update(table.logical_name, row_id, {lookup.prop: None})
        return no_content()
    raise _no_route(req)
