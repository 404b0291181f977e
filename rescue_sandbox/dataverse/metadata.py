"""``EntityDefinitions``: table, attribute and alternate-key metadata, read-only.

Covers what the reconciler and Microsoft's SDK read: the table -> entity set lookup
(``$select=LogicalName,EntitySetName,PrimaryIdAttribute&$filter=LogicalName eq 't'``),
``EntityDefinitions(LogicalName='t')`` (or by MetadataId), ``/Keys`` with
``EntityKeyIndexStatus`` as its *name* and ``AsyncJob``, ``/Attributes`` and the picklist cast
``/Attributes/Microsoft.Dynamics.CRM.PicklistAttributeMetadata?$expand=OptionSet`` the SDK uses
to turn option labels into values (and the ``LookupAttributeMetadata`` cast, for ``Targets``),
and ``EntityDefinitions(<id>)?$expand=Attributes($select=...),Keys`` (one request per table).
Display names are Labels with one LocalizedLabel per language the org carries (the solution
schema's labels; system tables: English). Metadata rows carry no ETag, always include
MetadataId and are never paged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from rescue_sandbox.dataverse import errors, jobs, security, system_columns
from rescue_sandbox.dataverse.protocol import ApiRequest, ApiResponse, Segment, json_response, parse_key
from rescue_sandbox.dataverse.query import ListSource, fetch, parse_query
from rescue_sandbox.dataverse.schema import Column, TableDef, display_label, metadata_id

if TYPE_CHECKING:
    from rescue_sandbox.dataverse.org import DataverseOrg

PICKLIST_CAST = "Microsoft.Dynamics.CRM.PicklistAttributeMetadata"
# AttributeType -> the derived metadata type a cast segment or @odata.type names.
_DERIVED = {
    "String": "StringAttributeMetadata",
    "Memo": "MemoAttributeMetadata",
    "Uniqueidentifier": "UniqueIdentifierAttributeMetadata",
    "Lookup": "LookupAttributeMetadata",
    "Integer": "IntegerAttributeMetadata",
    "Picklist": "PicklistAttributeMetadata",
    "State": "StateAttributeMetadata",
    "Status": "StatusAttributeMetadata",
    "BigInt": "BigIntAttributeMetadata",
    "Decimal": "DecimalAttributeMetadata",
    "Boolean": "BooleanAttributeMetadata",
    "DateTime": "DateTimeAttributeMetadata",
    "Owner": "LookupAttributeMetadata",
    "EntityName": "EntityNameAttributeMetadata",
}
# The cast to a derived type answers every attribute of that type (Owner lookups are lookups).
_CASTS: dict[str, tuple[str, ...]] = {}
for _kind, _name in _DERIVED.items():
    _CASTS.setdefault(f"Microsoft.Dynamics.CRM.{_name}", ())
    _CASTS[f"Microsoft.Dynamics.CRM.{_name}"] += (_kind,)


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
        "IsCustomAttribute": "Boolean",
        "IsLogical": "Boolean",
        "AttributeOf": "String",
        "IsValidForCreate": "Boolean",
        "IsValidForUpdate": "Boolean",
        "IsValidForRead": "Boolean",
        "RequiredLevel": "Memo",
        "MaxLength": "Integer",
        "DisplayName": "Memo",
    },
)
# Targets is a property of LookupAttributeMetadata only: selecting it on the base type is a 400.
LOOKUP_ATTRIBUTE = _meta_table(
    "LookupAttributeMetadata", {**{n: c.type for n, c in ATTRIBUTE.columns.items()}, "Targets": "Memo"}
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


def caller_language(org: DataverseOrg, req: ApiRequest) -> int:
    """The caller's UI language (its usersettings.uilanguageid): labels follow it."""
    user = security.caller_user(org, req.caller)
    return org.ui_languages.get(str(user["systemuserid"]), org.base_language)


def entity_row(table: TableDef, language: int | None = None) -> dict[str, Any]:
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
        "DisplayName": display_label(table.labels, table.schema_name, language),
    }


def attribute_row(
    table: TableDef, col: Column, with_options: bool = False, language: int | None = None
) -> dict[str, Any]:
    writable = not col.read_only and col.name not in ("createdon", "modifiedon", "versionnumber")
    row: dict[str, Any] = {
        "@odata.type": f"#Microsoft.Dynamics.CRM.{_DERIVED[col.type]}",
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
        "IsCustomAttribute": not system_columns.is_system(table, col),
        "IsLogical": False,
        "AttributeOf": None,
        "RequiredLevel": {"Value": "ApplicationRequired" if col.required else "None"},
        "MaxLength": col.max_length,
        "DisplayName": display_label(col.labels or _stored_label(table, col), col.name, language),
    }
    if col.type == "Lookup":
        row["Targets"] = [col.target] if col.target else []
    if with_options and col.options is not None:
        option_labels = col.option_labels or {}
        options = [
            {"Value": v, "Label": display_label(option_labels.get(v), text, language)}
            for v, text in col.options.items()
        ]
        row["OptionSet"] = {"Options": options, "IsGlobal": False, "OptionSetType": "Picklist"}
    return row


def _stored_label(table: TableDef, col: Column) -> dict[int, str] | None:
    label = system_columns.STORED_LABELS.get(col.name) if table.is_custom else None
    return {1033: label} if label else None


def system_attribute_row(
    table: TableDef, attr: system_columns.SystemAttribute, language: int
) -> dict[str, Any]:
    """A column only the metadata shows (system columns, virtual names): read-only, not custom
    unless it is the virtual name of one of the table's own lookups."""
    virtual_of = table.by_logical.get(attr.attribute_of or "")
    row: dict[str, Any] = {
        "@odata.type": f"#Microsoft.Dynamics.CRM.{_DERIVED[attr.type]}",
        "MetadataId": metadata_id("attribute", table.logical_name, attr.name),
        "LogicalName": attr.name,
        "SchemaName": attr.name,
        "EntityLogicalName": table.logical_name,
        "AttributeType": attr.type,
        "AttributeTypeName": {"Value": f"{attr.type}Type"},
        "IsPrimaryId": False,
        "IsPrimaryName": False,
        "IsCustomAttribute": virtual_of is not None and not system_columns.is_system(table, virtual_of),
        "IsLogical": attr.attribute_of is not None,
        "AttributeOf": attr.attribute_of,
        "IsValidForCreate": attr.attribute_of is None and attr.type in ("Owner", "DateTime"),
        "IsValidForUpdate": attr.attribute_of is None and attr.type == "Owner",
        "IsValidForRead": True,
        "RequiredLevel": {"Value": "SystemRequired" if attr.name == "ownerid" else "None"},
        "MaxLength": 100 if attr.type == "String" else None,
        "DisplayName": display_label({1033: attr.label} if attr.label else {}, None, language),
    }
    if attr.type in ("Lookup", "Owner"):
        row["Targets"] = list(attr.targets)
    return row


def attribute_rows(
    table: TableDef, language: int, types: tuple[str, ...] | None = None, with_options: bool = False
) -> list[dict[str, Any]]:
    """Every attribute the table's metadata shows (of ``types``, when given)."""
    rows = [
        attribute_row(table, c, with_options, language)
        for c in table.by_logical.values()
        if types is None or c.type in types
    ]
    rows += [
        system_attribute_row(table, a, language)
        for a in system_columns.metadata_only(table)
        if types is None or a.type in types
    ]
    return rows


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
    if "@odata.type" in row:
        out["@odata.type"] = row["@odata.type"]
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


def _single(
    req: ApiRequest,
    meta: TableDef,
    row: dict[str, Any],
    context: str,
    expansions: Mapping[str, list[dict[str, Any]]] | None = None,
) -> ApiResponse:
    query = parse_query(req.params, meta, None)
    body: dict[str, Any] = {"@odata.context": f"{req.api_root}/$metadata#{context}/$entity"}
    body.update(_project(row, query.select))
    body.update(expansions or {})
    return json_response(200, body)


def _split_top(text: str) -> list[str]:
    """``Attributes($select=a,b),Keys`` -> ["Attributes($select=a,b)", "Keys"]."""
    parts, depth, current = [], 0, ""
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    return [p.strip() for p in [*parts, current] if p.strip()]


def _entity_expand(
    org: DataverseOrg, req: ApiRequest, table: TableDef, language: int
) -> dict[str, list[dict[str, Any]]]:
    """Strip ``$expand=Attributes(...),Keys`` from the request and answer the expansions; only
    ``$select`` is accepted inside the parentheses."""
    wanted: dict[str, list[str] | None] = {}
    kept = []
    for name, value in req.params:
        if name != "$expand":
            kept.append((name, value))
            continue
        for item in _split_top(value):
            nav, _, options = item.partition("(")
            select: list[str] | None = None
            if options:
                option, _, fields = options.rstrip(")").partition("=")
                if option != "$select":
                    raise errors.query_error(
                        f"The sandbox supports only $select inside $expand, not '{item}'."
                    )
                select = fields.split(",")
            if nav not in ("Attributes", "Keys"):
                raise errors.query_error(f"Could not find a property named '{nav}' on type 'EntityMetadata'.")
            wanted[nav] = select
    req.params = kept
    out: dict[str, list[dict[str, Any]]] = {}
    if "Attributes" in wanted:
        rows = attribute_rows(table, language)
        out["Attributes"] = [_checked_project(ATTRIBUTE, r, wanted["Attributes"]) for r in rows]
    if "Keys" in wanted:
        out["Keys"] = [
            _checked_project(KEY, r, wanted["Keys"])
            for r in jobs.key_metadata(org, table.logical_name, language)
        ]
    return out


def _checked_project(meta: TableDef, row: dict[str, Any], select: list[str] | None) -> dict[str, Any]:
    for name in select or []:
        if name not in meta.columns:
            raise errors.query_error(
                f"Could not find a property named '{name}' on type '{meta.logical_name}'."
            )
    return _project(row, select)


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
    language = caller_language(org, req)
    if head.key is None:
        if rest:
            raise errors.segment_not_found(rest[0].name)
        rows = [entity_row(t, language) for t in org.tables.values()]
        return _listing(req, ENTITY, rows, "EntityDefinitions")
    table = _entity(org, head.key)
    base = f"EntityDefinitions('{table.metadata_id}')"
    if not rest:
        expansions = _entity_expand(org, req, table, language)
        return _single(req, ENTITY, entity_row(table, language), "EntityDefinitions", expansions)
    sub = rest[0]
    if sub.name == "Keys" and len(rest) == 1:
        keys = jobs.key_metadata(org, table.logical_name, language)
        if sub.key is None:
            return _listing(req, KEY, keys, f"{base}/Keys")
        wanted = parse_key(sub.key)
        for key in keys:
            if wanted in (key["MetadataId"], {"LogicalName": key["LogicalName"]}):
                return _single(req, KEY, key, f"{base}/Keys")
        raise errors.DataverseError(404, errors.NOT_FOUND, f"Could not find entity key {sub.key}.")
    if sub.name == "Attributes":
        cast = rest[1].name if len(rest) == 2 else None
        if len(rest) > 2 or (cast is not None and cast not in _CASTS):
            raise errors.segment_not_found(rest[-1].name)
        options = _option_set_expand(req) if cast == PICKLIST_CAST else False
        rows = attribute_rows(table, language, _CASTS[cast] if cast else None, options)
        context = f"{base}/Attributes" + (f"/{cast}" if cast else "")
        meta = LOOKUP_ATTRIBUTE if cast and "Lookup" in _CASTS[cast] else ATTRIBUTE
        if sub.key is None:
            return _listing(req, meta, rows, context)
        wanted = parse_key(sub.key)
        for row in rows:
            if wanted in (row["MetadataId"], {"LogicalName": row["LogicalName"]}):
                return _single(req, meta, row, context)
        raise errors.DataverseError(404, errors.NOT_FOUND, f"Could not find attribute {sub.key}.")
    raise errors.segment_not_found(sub.name)
