"""How rows look on the wire: ``@odata.etag``, selected columns, expansions, annotations.

Dataverse always returns the primary key and the ETag, returns every column (nulls included)
when there is no ``$select``, and adds formatted values / lookup annotations only when the
client asks with ``Prefer: odata.include-annotations``.
"""

from __future__ import annotations

from typing import Any

from rescue_sandbox.dataverse.protocol import etag_of
from rescue_sandbox.dataverse.query import Expand, Tables, annotation_wanted, sort_rows
from rescue_sandbox.dataverse.schema import TableDef

FORMATTED = "OData.Community.Display.V1.FormattedValue"
LOOKUP_TABLE = "Microsoft.Dynamics.CRM.lookuplogicalname"
LOOKUP_NAV = "Microsoft.Dynamics.CRM.associatednavigationproperty"


def project(
    tables: Tables,
    table: TableDef,
    row: dict[str, Any],
    select: list[str] | None,
    expand: list[Expand] | None = None,
    annotations: list[str] | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {"@odata.etag": etag_of(row)}
    props = list(select) if select else list(table.columns)
    if table.id_column not in props:
        props.append(table.id_column)
    for prop in props:
        value = row.get(prop)
        out[prop] = value
        if annotations:
            _annotate(tables, table, prop, value, annotations, out)
    for spec in expand or []:
        out[spec.nav] = _expand(tables, table, row, spec)
    return out


def _annotate(
    tables: Tables, table: TableDef, prop: str, value: Any, patterns: list[str], out: dict[str, Any]
) -> None:
    col = table.columns[prop]
    if value is None:
        return
    extra: dict[str, Any] = {}
    if col.type == "Lookup":
        target = tables.table(col.target or "")
        other = tables.store(target.logical_name).get(value)
        if other is not None and target.primary_name:
            extra[FORMATTED] = other.get(target.primary_name)
        extra[LOOKUP_NAV] = col.nav
        extra[LOOKUP_TABLE] = target.logical_name
    elif col.options is not None and value in col.options:
        extra[FORMATTED] = col.options[value]
    elif col.type == "Boolean":
        extra[FORMATTED] = "Yes" if value else "No"
    for name, annotation in extra.items():
        if annotation_wanted(patterns, name):
            out[f"{prop}@{name}"] = annotation


def _expand(tables: Tables, table: TableDef, row: dict[str, Any], spec: Expand) -> Any:
    if not spec.collection:
        lookup = table.navs[spec.nav]
        ref = row.get(lookup.prop)
        other = tables.store(spec.target.logical_name).get(ref) if ref else None
        return project(tables, spec.target, other, spec.select) if other is not None else None
    rel = table.collection_navs[spec.nav]
    store = tables.store(spec.target.logical_name)
    related = [
        r
        for r in (
            store.get(i) for i in tables.related_ids(rel.name, table.logical_name, row[table.id_column])
        )
        if r is not None and (spec.filter is None or spec.filter.predicate(r))
    ]
    if spec.orderby:
        related = sort_rows(related, spec.target, spec.orderby)
    if spec.top is not None:
        related = related[: spec.top]
    return [project(tables, spec.target, r, spec.select) for r in related]
