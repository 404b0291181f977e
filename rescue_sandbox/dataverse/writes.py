"""Create (POST), update / upsert (PATCH), delete (DELETE) with Dataverse's header semantics.

* ``POST <set>``: 204 + ``OData-EntityId``; ``Prefer: return=representation`` gives 201 + body.
* ``PATCH <set>(<key>)``: no ``If-Match`` = upsert (creates with the given id or key values);
  ``If-Match: *`` = update only (404 when missing); ``If-None-Match: *`` = create only (412 when
  it exists); ``If-Match: W/"<version>"`` = 412 ``0x80060882`` when stale.
* ``DELETE`` honours ``If-Match`` the same way.

Lookups are written through navigation properties (``nav@odata.bind``), never through their
``_x_value``. Read-only columns (``fullname``, ``createdon``, ...) are refused with a payload
error: the sandbox is deliberately strict so a client that sends them learns it at test time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rescue_sandbox.dataverse import errors
from rescue_sandbox.dataverse.addressing import Key, entity_url, find_row, key_columns, resolve_reference
from rescue_sandbox.dataverse.protocol import ApiRequest, ApiResponse, etag_matches, no_content
from rescue_sandbox.dataverse.reads import entity_response
from rescue_sandbox.dataverse.schema import RelationshipDef, TableDef

if TYPE_CHECKING:
    from rescue_sandbox.dataverse.org import DataverseOrg

_SYSTEM = ("createdon", "modifiedon", "versionnumber")


def body_changes(
    org: DataverseOrg, req: ApiRequest, table: TableDef, body: dict[str, Any], *, creating: bool
) -> tuple[dict[str, Any], list[tuple[RelationshipDef, str]]]:
    """Column changes (read-side names) and N:N associations a request body asks for."""
    changes: dict[str, Any] = {}
    associations: list[tuple[RelationshipDef, str]] = []
    for name, value in body.items():
        if name.startswith("@"):
            continue
        if "@" in name:
            prop, _, annotation = name.partition("@")
            if annotation != "odata.bind":
                continue
            if prop in table.navs:
                lookup = table.navs[prop]
                if value is None:
                    changes[lookup.prop] = None
                    continue
                target, target_id = resolve_reference(org, req, value)
                if target.logical_name != lookup.target:
                    raise errors.payload_error(
                        table.entity_set,
                        f"The navigation property '{prop}' expects a '{lookup.target}' record, "
                        f"not '{target.logical_name}'.",
                    )
                changes[lookup.prop] = target_id
            elif prop in table.collection_navs and creating and isinstance(value, list):
                rel = table.collection_navs[prop]
                for ref in value:
                    associations.append((rel, resolve_reference(org, req, ref)[1]))
            else:
                raise errors.payload_error(
                    table.entity_set,
                    f"An undeclared property '{prop}' which only has property annotations in the payload but no "
                    "property value was found in the payload. In OData, only declared navigation properties and "
                    "declared named streams can be represented as properties without values.",
                )
            continue
        if name in table.navs or name in table.collection_navs:
            raise errors.not_supported("deep insert or update of related records")
        col = table.column(name)
        if col is None:
            raise errors.payload_error(
                table.entity_set,
                f"The property '{name}' does not exist on type 'Microsoft.Dynamics.CRM.{table.logical_name}'. "
                "Make sure to only use property names that are defined by the type or mark the type as open type.",
            )
        if col.type == "Lookup":
            raise errors.payload_error(
                table.entity_set,
                f"The property '{name}' is the read-only value of a lookup; set it with '{col.nav}@odata.bind'.",
            )
        if col.read_only or name in _SYSTEM:
            raise errors.payload_error(
                table.entity_set,
                f"The property '{name}' of '{table.logical_name}' is read-only (computed by Dataverse) "
                "and cannot be set.",
            )
        changes[name] = value
    return changes, associations


def associate(org: DataverseOrg, table: TableDef, row_id: str, rel: RelationshipDef, other_id: str) -> None:
    """Associate a row of ``table`` with ``other_id`` through ``rel``, whichever side it is on."""
    if rel.left_table == table.logical_name:
        org.associate(rel.name, row_id, other_id)
    else:
        org.associate(rel.name, other_id, row_id)


def _written(
    org: DataverseOrg, req: ApiRequest, table: TableDef, row: dict[str, Any], created: bool
) -> ApiResponse:
    location = ("OData-EntityId", entity_url(req, table, str(row[table.id_column])))
    if req.prefer().get("return") == "representation":
        response = entity_response(org, req, table, row, 201 if created else 200)
        response.headers += [("Preference-Applied", "return=representation"), location]
        return response
    return no_content([location])


def create(org: DataverseOrg, req: ApiRequest, table: TableDef) -> ApiResponse:
    if not table.creatable:
        raise errors.method_not_supported("Create", table.logical_name)
    body = req.json(table.entity_set)
    changes, associations = body_changes(org, req, table, body, creating=True)
    with org.transaction():
        row = org.insert(table.logical_name, changes)
        for rel, other_id in associations:
            associate(org, table, str(row[table.id_column]), rel, other_id)
    return _written(org, req, table, row, created=True)


def patch(org: DataverseOrg, req: ApiRequest, table: TableDef, key: Key) -> ApiResponse:
    if table.intersect:
        raise errors.method_not_supported("Update", table.logical_name)
    body = req.json(table.entity_set)
    row = find_row(org, table, key, required=False)
    if_match, if_none = req.header("if-match"), req.header("if-none-match")
    with org.transaction():
        if row is None:
            if if_match:
                find_row(org, table, key)  # raises the right 404
            if not table.creatable:
                raise errors.method_not_supported("Create", table.logical_name)
            changes, associations = body_changes(org, req, table, body, creating=True)
            for prop, value in key_columns(org, table, key).items():
                if prop in changes and changes[prop] != value:
                    raise errors.payload_error(
                        table.entity_set, f"The value of '{prop}' conflicts with the key in the URL."
                    )
                changes[prop] = value
            row = org.insert(table.logical_name, changes)
            for rel, other_id in associations:
                associate(org, table, str(row[table.id_column]), rel, other_id)
            return _written(org, req, table, row, created=True)
        if if_none == "*":
            raise errors.duplicate_record()
        if if_match and not etag_matches(if_match, row):
            raise errors.etag_mismatch()
        changes, _ = body_changes(org, req, table, body, creating=False)
        row = org.update(table.logical_name, str(row[table.id_column]), changes)
    return _written(org, req, table, row, created=False)


def delete(org: DataverseOrg, req: ApiRequest, table: TableDef, key: Key) -> ApiResponse:
    row = find_row(org, table, key)
    assert row is not None
    if_match = req.header("if-match")
    if if_match and not etag_matches(if_match, row):
        raise errors.etag_mismatch()
    if not table.deletable:
        raise errors.method_not_supported("Delete", table.logical_name)
    if table.logical_name == "asyncoperation" and row.get("statecode") != 3:
        raise errors.DataverseError(
            400,
            errors.JOB_IN_PROGRESS,
            "Only completed system jobs can be deleted; cancel the job or wait for it to finish.",
        )
    if table.logical_name == "businessunit" and row.get("_parentbusinessunitid_value") is None:
        raise errors.DataverseError(400, errors.VALIDATION, "The root business unit cannot be deleted.")
    org.delete(table.logical_name, str(row[table.id_column]))
    return no_content()


def put_property(
    org: DataverseOrg, req: ApiRequest, table: TableDef, row: dict[str, Any], prop: str
) -> ApiResponse:
    """``PUT <set>(<id>)/<column>`` with ``{"value": v}`` (or DELETE to clear it)."""
    value = None
    if req.method == "PUT":
        body = req.json(table.entity_set)
        if "value" not in body:
            raise errors.payload_error(table.entity_set, "A 'value' property was expected.")
        value = body["value"]
    changes, _ = body_changes(org, req, table, {prop: value}, creating=False)
    org.update(table.logical_name, str(row[table.id_column]), changes)
    return no_content()
