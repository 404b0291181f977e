"""Reads of the org's own metadata: tables with their attributes, keys and display labels, a
lookup's targets, a picklist's options, and the tables an installed solution is made of.

Shapes: /work/shared/reference/dataverse.md ("Metadata and preflight"). ``Targets`` and
``OptionSet`` belong to the derived attribute types, so they are read through the
``LookupAttributeMetadata`` / ``PicklistAttributeMetadata`` casts, never selected on the base type.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.errors import NotFoundError
from reconciler.providers.dynamics.client import DataverseClient

Labels = Mapping[int, str]  # LCID -> text
ENTITY_COMPONENT = 1  # solutioncomponent.componenttype of a table

_TABLE_SELECT = "LogicalName,SchemaName,EntitySetName,PrimaryIdAttribute,DisplayName"
_EXPAND = (
    "Attributes($select=LogicalName,SchemaName,AttributeType,DisplayName,IsCustomAttribute,AttributeOf),"
    "Keys($select=LogicalName,SchemaName,KeyAttributes,DisplayName)"
)


@dataclass(frozen=True)
class AttributeInfo:
    logical_name: str
    attribute_type: str  # AttributeType: String, Lookup, Picklist, Boolean...
    labels: Labels = field(default_factory=dict)
    schema_name: str = ""  # a lookup's navigation property is its SchemaName
    custom: bool | None = None  # IsCustomAttribute: False for the columns Dataverse adds (createdby...)
    attribute_of: str = ""  # AttributeOf: the lookup a virtual ``…name`` column belongs to

    @property
    def authored(self) -> bool:
        """Made by the table's author: neither a system column nor a virtual column of another."""
        return self.custom is not False and not self.attribute_of


@dataclass(frozen=True)
class KeyInfo:
    logical_name: str
    schema_name: str
    columns: tuple[str, ...]
    labels: Labels = field(default_factory=dict)


@dataclass(frozen=True)
class TableInfo:
    logical_name: str
    schema_name: str
    entity_set: str
    id_column: str
    labels: Labels
    attributes: Mapping[str, AttributeInfo]
    keys: tuple[KeyInfo, ...]


@dataclass(frozen=True)
class SolutionInfo:
    solution_id: str
    unique_name: str
    version: str
    managed: bool


def labels_of(label: Any) -> dict[int, str]:
    """``{LanguageCode: Label}`` of a metadata Label (empty when absent)."""
    if not isinstance(label, Mapping):
        return {}
    out: dict[int, str] = {}
    for item in label.get("LocalizedLabels") or []:
        if isinstance(item, Mapping) and isinstance(item.get("LanguageCode"), int) and item.get("Label"):
            out[int(item["LanguageCode"])] = str(item["Label"])
    return out


def _table(body: Mapping[str, Any]) -> TableInfo:
    attributes = {
        str(a["LogicalName"]): AttributeInfo(
            str(a["LogicalName"]),
            str(a.get("AttributeType") or ""),
            labels_of(a.get("DisplayName")),
            str(a.get("SchemaName") or a["LogicalName"]),
            a["IsCustomAttribute"] if isinstance(a.get("IsCustomAttribute"), bool) else None,
            str(a.get("AttributeOf") or ""),
        )
        for a in body.get("Attributes") or []
    }
    keys = tuple(
        KeyInfo(
            str(k["LogicalName"]),
            str(k.get("SchemaName") or k["LogicalName"]),
            tuple(str(c) for c in k.get("KeyAttributes") or ()),
            labels_of(k.get("DisplayName")),
        )
        for k in body.get("Keys") or []
    )
    return TableInfo(
        logical_name=str(body["LogicalName"]),
        schema_name=str(body.get("SchemaName") or body["LogicalName"]),
        entity_set=str(body.get("EntitySetName") or ""),
        id_column=str(body.get("PrimaryIdAttribute") or ""),
        labels=labels_of(body.get("DisplayName")),
        attributes=attributes,
        keys=keys,
    )


def _quoted(name: str) -> str:
    return name.replace("'", "''")


class MetadataReader:
    """Metadata reads through a DataverseClient (read-only; one request per question)."""

    def __init__(self, client: DataverseClient) -> None:
        self.client = client

    async def table(self, logical_name: str) -> TableInfo | None:
        """A table with its attributes and keys; None when the org has no such table."""
        return await self._table(f"EntityDefinitions(LogicalName='{_quoted(logical_name)}')")

    async def table_by_id(self, metadata_id: str) -> TableInfo | None:
        return await self._table(f"EntityDefinitions({metadata_id})")

    async def _table(self, path: str) -> TableInfo | None:
        try:
            body = await self.client.get(path, {"$select": _TABLE_SELECT, "$expand": _EXPAND})
        except NotFoundError:
            return None
        return _table(body)

    async def lookup_targets(self, table: str, column: str) -> tuple[str, ...]:
        body = await self.client.get(
            f"EntityDefinitions(LogicalName='{_quoted(table)}')/Attributes(LogicalName='{_quoted(column)}')"
            "/Microsoft.Dynamics.CRM.LookupAttributeMetadata",
            {"$select": "LogicalName,Targets"},
        )
        return tuple(str(t) for t in body.get("Targets") or ())

    async def options(self, table: str, column: str) -> dict[int, dict[int, str]]:
        """A picklist's option values and their labels per language."""
        body = await self.client.get(
            f"EntityDefinitions(LogicalName='{_quoted(table)}')/Attributes(LogicalName='{_quoted(column)}')"
            "/Microsoft.Dynamics.CRM.PicklistAttributeMetadata",
            {"$select": "LogicalName", "$expand": "OptionSet($select=Options)"},
        )
        options = (body.get("OptionSet") or {}).get("Options") or []
        return {
            int(o["Value"]): labels_of(o.get("Label")) for o in options if isinstance(o.get("Value"), int)
        }

    async def solution(self, unique_name: str) -> SolutionInfo | None:
        rows = await self.client.list_all(
            "solutions",
            select=["solutionid", "uniquename", "version", "ismanaged"],
            filter=f"uniquename eq '{_quoted(unique_name)}'",
        )
        if not rows:
            return None
        row = rows[0]
        return SolutionInfo(
            str(row["solutionid"]),
            str(row["uniquename"]),
            str(row.get("version") or ""),
            bool(row.get("ismanaged")),
        )

    async def solution_table_ids(self, solution_id: str) -> list[str]:
        """MetadataIds of the tables that are components of the solution."""
        rows = await self.client.list_all(
            "solutioncomponents",
            select=["objectid", "componenttype"],
            filter=f"_solutionid_value eq {solution_id} and componenttype eq {ENTITY_COMPONENT}",
        )
        return [str(r["objectid"]) for r in rows]
