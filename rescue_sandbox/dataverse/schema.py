"""Table definitions of an emulated org: columns, lookups, N:N relationships, alternate keys.

Dataverse refuses unknown or misspelt names (they are case-sensitive), checks value types and
computes some columns itself, so the emulator needs a schema, not free-form dicts. The system
tables use their public logical names; the LogMeIn tables take every name from the solution
schema of the emulated solution (solution_schema.py; a seed may rename them). Seeds may add tables of their own.

Rows are stored under their *read-side* property names: a lookup column ``businessunitid`` is
stored and returned as ``_businessunitid_value`` and written through its navigation property
(``businessunitid@odata.bind``), exactly as the Web API exposes it. The tables themselves are
built in tables.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

# Attribute types (AttributeMetadata.AttributeType) the emulator knows, with their Edm type.
EDM_TYPES: dict[str, str] = {
    "String": "Edm.String",
    "Memo": "Edm.String",
    "Uniqueidentifier": "Edm.Guid",
    "Lookup": "Edm.Guid",
    "Integer": "Edm.Int32",
    "Picklist": "Edm.Int32",
    "State": "Edm.Int32",
    "Status": "Edm.Int32",
    "BigInt": "Edm.Int64",
    "Decimal": "Edm.Decimal",
    "Boolean": "Edm.Boolean",
    "DateTime": "Edm.DateTimeOffset",
}
GUID_TYPES = frozenset({"Uniqueidentifier", "Lookup"})
NUMBER_TYPES = frozenset({"Integer", "Picklist", "State", "Status", "BigInt", "Decimal"})
STRING_TYPES = frozenset({"String", "Memo"})

_METADATA_NS = uuid.UUID("0b8f3c52-1d7e-4a6b-9c2d-5e4f3a2b1c0d")

RELATIONSHIP_USER_ROLES = "systemuserroles_association"


def metadata_id(*parts: str) -> str:
    """A stable MetadataId, so metadata ids survive restarts like real ones do."""
    return str(uuid.uuid5(_METADATA_NS, "/".join(parts)))


def display_label(
    labels: Mapping[int, str] | None, fallback: str | None, language: int | None = None
) -> dict[str, Any]:
    """A Label: one LocalizedLabel per language the org carries a text in (``fallback`` in
    English when ``labels`` gives none; no label at all when there is no fallback either, as for
    virtual name columns). ``UserLocalizedLabel`` is the one in the caller's UI language
    (``language``), null when there is none in it, however many other languages have one; without
    a ``language``, English when present, else the first."""
    texts = dict(labels) if labels else ({1033: fallback} if fallback is not None else {})
    localized = [
        {
            "Label": text,
            "LanguageCode": lcid,
            "IsManaged": True,
            "MetadataId": metadata_id("label", str(lcid), text),
            "HasChanged": None,
        }
        for lcid, text in texts.items()
    ]
    if language is not None:
        user = next((item for item in localized if item["LanguageCode"] == language), None)
    else:
        user = next(
            (item for item in localized if item["LanguageCode"] == 1033), localized[0] if localized else None
        )
    return {"LocalizedLabels": localized, "UserLocalizedLabel": user}


@dataclass(frozen=True)
class Column:
    """One attribute. For lookups ``name`` is the logical name and ``prop`` the ``_x_value``."""

    name: str
    type: str
    read_only: bool = False
    required: bool = False
    max_length: int | None = None
    options: Mapping[int, str] | None = None  # picklist value -> label
    target: str | None = None  # lookup target table (logical name)
    nav: str | None = None  # single-valued navigation property of a lookup
    default: Any = None  # value a create without this column stores (Booleans default to false)
    labels: Mapping[int, str] | None = None  # display name per language (LCID); None: the name
    option_labels: Mapping[int, Mapping[int, str]] | None = None  # picklist value -> labels

    prop: str = field(init=False, compare=False)  # the read-side property name

    def __post_init__(self) -> None:
        object.__setattr__(self, "prop", f"_{self.name}_value" if self.type == "Lookup" else self.name)

    @property
    def edm(self) -> str:
        return EDM_TYPES[self.type]


@dataclass(frozen=True)
class EntityKeyDef:
    """An alternate key: its columns are logical attribute names."""

    logical_name: str
    schema_name: str
    columns: tuple[str, ...]
    table: str
    labels: Mapping[int, str] | None = None

    @property
    def metadata_id(self) -> str:
        return metadata_id("key", self.table, self.logical_name)


@dataclass(frozen=True)
class RelationshipDef:
    """An N:N relationship stored as rows of an intersect table."""

    name: str
    intersect: str  # intersect table logical name
    left_table: str
    left_column: str  # intersect column holding the left row id
    right_table: str
    right_column: str


@dataclass
class TableDef:
    logical_name: str
    entity_set: str
    id_column: str
    schema_name: str
    primary_name: str | None = None
    columns: dict[str, Column] = field(default_factory=dict)  # keyed by read-side property
    keys: list[EntityKeyDef] = field(default_factory=list)
    collection_navs: dict[str, RelationshipDef] = field(default_factory=dict)
    intersect: bool = False  # rows only change through $ref association
    deletable: bool = True
    creatable: bool = True
    is_custom: bool = False
    labels: Mapping[int, str] | None = None  # display name per language (LCID)
    compute: Callable[[dict[str, Any]], None] | None = None

    def __post_init__(self) -> None:
        self.navs: dict[str, Column] = {c.nav: c for c in self.columns.values() if c.nav}
        self.by_logical: dict[str, Column] = {c.name: c for c in self.columns.values()}

    @property
    def metadata_id(self) -> str:
        return metadata_id("entity", self.logical_name)

    def column(self, prop: str) -> Column | None:
        return self.columns.get(prop)

    def key(self, logical_name: str) -> EntityKeyDef | None:
        return next((k for k in self.keys if k.logical_name == logical_name), None)

    def indexed_props(self) -> list[str]:
        """Columns worth a hash index: GUIDs and lookups (the filters clients use most)."""
        return [c.prop for c in self.columns.values() if c.type in GUID_TYPES and c.prop != self.id_column]


def _common(id_column: str) -> list[Column]:
    return [
        Column(id_column, "Uniqueidentifier"),
        Column("createdon", "DateTime", read_only=True),
        Column("modifiedon", "DateTime", read_only=True),
        Column("versionnumber", "BigInt", read_only=True),
    ]


def state_columns() -> list[Column]:
    return [
        Column("statecode", "State", options={0: "Active", 1: "Inactive"}, default=0),
        Column("statuscode", "Status", options={1: "Active", 2: "Inactive"}, default=1),
    ]


def make_table(
    logical_name: str,
    entity_set: str,
    id_column: str,
    schema_name: str,
    columns: list[Column],
    **kwargs: Any,
) -> TableDef:
    cols = _common(id_column) + columns
    return TableDef(
        logical_name, entity_set, id_column, schema_name, columns={c.prop: c for c in cols}, **kwargs
    )
