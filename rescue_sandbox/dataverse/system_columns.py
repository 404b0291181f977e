"""The columns Dataverse adds to every user-owned custom table, as its metadata shows them.

A custom table is never only its own columns: Dataverse adds the owner (``ownerid``, an Owner
lookup to systemuser or team, with ``owneridtype``), the owning user, team and business unit, who
created and modified the row and on whose behalf, ``statecode``/``statuscode``,
``versionnumber``, ``importsequencenumber``, ``overriddencreatedon`` and the time-zone columns;
each lookup has read-only virtual ``…name`` columns (``…yominame`` for lookups to users), whose
``DisplayName`` is empty and whose ``AttributeOf`` names the lookup. Sources: docs/sandbox.md,
"Metadata as a real org has it".

Served in ``EntityDefinitions`` (``Attributes``) only: the sandbox's rows do not carry their
values, so a query selecting one is refused (stricter than a real org, which answers them).
"""

from __future__ import annotations

from dataclasses import dataclass

from rescue_sandbox.dataverse.schema import Column, TableDef


@dataclass(frozen=True)
class SystemAttribute:
    name: str
    type: str  # AttributeType
    label: str | None  # English display name; None: the DisplayName is empty
    targets: tuple[str, ...] = ()
    attribute_of: str | None = None


def _lookup(name: str, label: str, target: str, yomi: bool) -> tuple[SystemAttribute, ...]:
    found = [
        SystemAttribute(name, "Lookup", label, (target,)),
        SystemAttribute(f"{name}name", "String", None, attribute_of=name),
    ]
    if yomi:
        found.append(SystemAttribute(f"{name}yominame", "String", None, attribute_of=name))
    return tuple(found)


# Those a user-owned custom table has beyond the columns the sandbox stores for it.
METADATA_ONLY: tuple[SystemAttribute, ...] = (
    SystemAttribute("ownerid", "Owner", "Owner", ("systemuser", "team")),
    SystemAttribute("owneridtype", "EntityName", None, attribute_of="ownerid"),
    SystemAttribute("owneridname", "String", None, attribute_of="ownerid"),
    SystemAttribute("owneridyominame", "String", None, attribute_of="ownerid"),
    *_lookup("owninguser", "Owning User", "systemuser", yomi=False),
    SystemAttribute("owningteam", "Lookup", "Owning Team", ("team",)),
    SystemAttribute("owningbusinessunit", "Lookup", "Owning Business Unit", ("businessunit",)),
    SystemAttribute("owningbusinessunitname", "String", None, attribute_of="owningbusinessunit"),
    *_lookup("createdby", "Created By", "systemuser", yomi=True),
    *_lookup("createdonbehalfby", "Created By (Delegate)", "systemuser", yomi=True),
    *_lookup("modifiedby", "Modified By", "systemuser", yomi=True),
    *_lookup("modifiedonbehalfby", "Modified By (Delegate)", "systemuser", yomi=True),
    SystemAttribute("overriddencreatedon", "DateTime", "Record Created On"),
    SystemAttribute("importsequencenumber", "Integer", "Import Sequence Number"),
    SystemAttribute("timezoneruleversionnumber", "Integer", "Time Zone Rule Version Number"),
    SystemAttribute("utcconversiontimezonecode", "Integer", "UTC Conversion Time Zone Code"),
)
# The English display names of the system columns the sandbox does store.
STORED_LABELS = {
    "createdon": "Created On",
    "modifiedon": "Modified On",
    "versionnumber": "Version Number",
    "statecode": "Status",
    "statuscode": "Status Reason",
}


def is_system(table: TableDef, col: Column) -> bool:
    """Whether Dataverse made the column (IsCustomAttribute false), not the table's author."""
    return not table.is_custom or col.name in STORED_LABELS or col.name == table.id_column


def metadata_only(table: TableDef) -> list[SystemAttribute]:
    """The table's attributes that only its metadata shows: system columns and virtual names."""
    if not table.is_custom:
        return []
    found = [a for a in METADATA_ONLY if a.name not in table.by_logical]
    for col in table.by_logical.values():  # the virtual names of the table's own lookups
        if col.type == "Lookup":
            found += [a for a in _lookup(col.name, "", col.target or "", col.target == "systemuser")[1:]]
    return found
