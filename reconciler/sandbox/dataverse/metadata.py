"""``EntityDefinitions``: table, attribute and alternate-key metadata, read-only.

Covers what the reconciler and Microsoft's SDK read: the table -> entity set lookup
(``$select=LogicalName,EntitySetName,PrimaryIdAttribute&$filter=LogicalName eq 't'``),
``EntityDefinitions(LogicalName='t')`` (or by MetadataId), ``/Keys`` with
``EntityKeyIndexStatus`` as its *name* and ``AsyncJob``, ``/Attributes`` and the picklist cast
``/Attributes/Microsoft.Dynamics.CRM.PicklistAttributeMetadata?$expand=OptionSet`` the SDK uses
to turn option labels into values. Metadata rows carry no ETag, always include MetadataId and
are never paged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from reconciler.sandbox.dataverse import errors, jobs
from reconciler.sandbox.dataverse.protocol import ApiRequest, ApiResponse, Segment, json_response, parse_key
from reconciler.sandbox.dataverse.query import ListSource, fetch, parse_query
from reconciler.sandbox.dataverse.schema import Column, TableDef, metadata_id

if TYPE_CHECKING:
    from reconciler.sandbox.dataverse.org import DataverseOrg

PICKLIST_CAST = "Microsoft.Dynamics.CRM.PicklistAttributeMetadata"


def _meta_table(name: str, columns: dict[str, str]) -> TableDef:
    cols = {prop: Column(prop, kind) for prop, kind in columns.items()}
    return TableDef(name, name, "MetadataId", name, columns=cols)


ENTITY = _meta_table(
    "EntityMetadata",
    {
        "MetadataId": "Uniqueidentifier",
        "LogicalName": "String",
        "SchemaName": "String",
        "EntitySetName": "String",
        "LogicalCollectionName": "String",
        "PrimaryIdAttribute": "String",
        "PrimaryNameAttribute": "String",
        "IsCustomEntity": "Boolean",
        "IsIntersect": "Boolean",
        "DisplayName": "Memo",
    },
)
ATTRIBUTE = _meta_table(
    "AttributeMetadata",
    {
        "MetadataId": "Uniqueidentifier",
        "LogicalName": "String",
        "SchemaName": "String",
        "EntityLogicalName": "String",
        "AttributeType": "String",
        "AttributeTypeName": "Memo",
        "IsPrimaryId": "Boolean",
        "IsPrimaryName": "Boolean",
        "IsValidForCreate": "Boolean",
        "IsValidForUpdate": "Boolean",
        "IsValidForRead": "Boolean",
        "RequiredLevel": "Memo",
        "MaxLength": "Integer",
        "Targets": "Memo",
        "DisplayName": "Memo",
    },
)
KEY = _meta_table(
    "EntityKeyMetadata",
    {
        "MetadataId": "Uniqueidentifier",
        "LogicalName": "String",
        "SchemaName": "String",
        "EntityLogicalName": "String",
        "KeyAttributes": "Memo",
        "EntityKeyIndexStatus": "String",
        "AsyncJob": "Uniqueidentifier",
        "IsManaged": "Boolean",
        "DisplayName": "Memo",
    },
)


def _label(text: str) -> dict[str, Any]:
    label = {"Label": text, "LanguageCode": 1033}
    return {"LocalizedLabels": [label], "UserLocalizedLabel": label}


def entity_row(table: TableDef) -> dict[str, Any]:
    return {
        "MetadataId": table.metadata_id,
        "LogicalName": table.logical_name,
        "SchemaName": table.schema_name,
        "EntitySetName": table.entity_set,
        "LogicalCollectionName": table.entity_set,
        "PrimaryIdAttribute": table.id_column,
        "PrimaryNameAttribute": table.primary_name,
        "IsCustomEntity": table.is_custom,
        "IsIntersect": table.intersect,
        "DisplayName": _label(table.schema_name),
    }


def attribute_row(table: TableDef, col: Column, with_options: bool = False) -> dict[str, Any]:
    writable = not col.read_only and col.name not in ("createdon", "modifiedon", "versionnumber")
    row: dict[str, Any] = {
        "MetadataId": metadata_id("attribute", table.logical_name, col.name),
        "LogicalName": col.name,
        "SchemaName": col.nav if col.nav else col.name,
        "EntityLogicalName": table.logical_name,
        "AttributeType": col.type,
        "AttributeTypeName": {"Value": f"{col.type}Type"},
        "IsPrimaryId": col.name == table.id_column,
        "IsPrimaryName": col.name == table.primary_name,
        "IsValidForCreate": writable and not table.intersect,
        "IsValidForUpdate": writable and col.name != table.id_column and not table.intersect,
        "IsValidForRead": True,
        "RequiredLevel": {"Value": "ApplicationRequired" if col.required else "None"},
        "MaxLength": col.max_length,
        "Targets": [col.target] if col.target else None,
        "DisplayName": _label(col.name),
    }
    if with_options and col.options is not None:
        options = [{"Value": v, "Label": _label(text)} for v, text in col.options.items()]
        row["OptionSet"] = {"Options": options, "IsGlobal": False, "OptionSetType": "Picklist"}
    return row


def _entity(org: DataverseOrg, key: str) -> TableDef:
    parsed = parse_key(key)
    if isinstance(parsed, str):
        found = next((t for t in org.tables.values() if t.metadata_id == parsed), None)
        shown = parsed
    elif set(parsed) == {"LogicalName"}:
        shown = str(parsed["LogicalName"])
        found = org.tables.get(shown)
    else:
        raise errors.query_error("EntityDefinitions are addressed by MetadataId or LogicalName.")
    if found is None:
        raise errors.DataverseError(404, errors.NOT_FOUND, f"Could not find entity with name or id {shown}.")
    return found


def _project(row: dict[str, Any], select: list[str] | None) -> dict[str, Any]:
    if not select:
        return dict(row)
    out = {"MetadataId": row["MetadataId"]}
    out.update({name: row.get(name) for name in select})
    if "OptionSet" in row:
        out["OptionSet"] = row["OptionSet"]
    return out


def _listing(req: ApiRequest, meta: TableDef, rows: list[dict[str, Any]], context: str) -> ApiResponse:
    query = parse_query(req.params, meta, None)
    page = fetch(meta, ListSource(rows, "MetadataId"), query, None)
    body: dict[str, Any] = {"@odata.context": f"{req.api_root}/$metadata#{context}"}
    if page.count is not None:
        body["@odata.count"] = page.count
    body["value"] = [_project(r, query.select) for r in page.rows]
    return json_response(200, body)


def _single(req: ApiRequest, meta: TableDef, row: dict[str, Any], context: str) -> ApiResponse:
    query = parse_query(req.params, meta, None)
    body = {"@odata.context": f"{req.api_root}/$metadata#{context}/$entity"}
    body.update(_project(row, query.select))
    return json_response(200, body)


def _option_set_expand(req: ApiRequest) -> bool:
    """Strip ``$expand=OptionSet(...)`` (the only expansion supported here) from the request."""
    wanted = False
    kept = []
    for name, value in req.params:
        if name == "$expand":
            if not value.startswith("OptionSet"):
                raise errors.query_error(
                    f"The sandbox only expands OptionSet on attribute metadata, not '{value}'."
                )
            wanted = True
            continue
        kept.append((name, value))
    req.params = kept
    return wanted


def handle(org: DataverseOrg, req: ApiRequest, segments: list[Segment]) -> ApiResponse:
    if req.method != "GET":
        raise errors.not_supported(f"{req.method} on EntityDefinitions (metadata changes)")
    head, rest = segments[0], segments[1:]
    if head.key is None:
        if rest:
            raise errors.segment_not_found(rest[0].name)
        rows = [entity_row(t) for t in org.tables.values()]
        return _listing(req, ENTITY, rows, "EntityDefinitions")
    table = _entity(org, head.key)
    base = f"EntityDefinitions('{table.metadata_id}')"
    if not rest:
        return _single(req, ENTITY, entity_row(table), "EntityDefinitions")
    sub = rest[0]
    if sub.name == "Keys" and len(rest) == 1:
        keys = jobs.key_metadata(org, table.logical_name)
        if sub.key is None:
            return _listing(req, KEY, keys, f"{base}/Keys")
        wanted = parse_key(sub.key)
        for key in keys:
            if wanted in (key["MetadataId"], {"LogicalName": key["LogicalName"]}):
                return _single(req, KEY, key, f"{base}/Keys")
        raise errors.DataverseError(404, errors.NOT_FOUND, f"Could not find entity key {sub.key}.")
    if sub.name == "Attributes":
        picklists = [s.name for s in rest[1:]] == [PICKLIST_CAST]
        if len(rest) > 1 and not picklists:
            raise errors.segment_not_found(rest[1].name)
        options = _option_set_expand(req) if picklists else False
        columns = [c for c in table.by_logical.values() if not picklists or c.type == "Picklist"]
        rows = [attribute_row(table, c, options) for c in columns]
        context = f"{base}/Attributes" + (f"/{PICKLIST_CAST}" if picklists else "")
        if sub.key is None:
            return _listing(req, ATTRIBUTE, rows, context)
        wanted = parse_key(sub.key)
        for row in rows:
            if wanted in (row["MetadataId"], {"LogicalName": row["LogicalName"]}):
                return _single(req, ATTRIBUTE, row, context)
        raise errors.DataverseError(404, errors.NOT_FOUND, f"Could not find attribute {sub.key}.")
    raise errors.segment_not_found(sub.name)
