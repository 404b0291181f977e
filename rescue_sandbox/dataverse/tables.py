"""The tables of an org: the system tables, the LogMeIn solution's tables named by the sandbox's
solution schema, and tables a seed defines. Built once per org by :func:`build_tables`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rescue_sandbox.dataverse.schema import (
    EDM_TYPES,
    RELATIONSHIP_USER_ROLES,
    Column,
    EntityKeyDef,
    RelationshipDef,
    TableDef,
    make_table,
    state_columns,
)
from rescue_sandbox.dataverse.solution_schema import SolutionSchema


def _compute_fullname(row: dict[str, Any]) -> None:
    parts = [p for p in (row.get("firstname"), row.get("lastname")) if p]
    row["fullname"] = " ".join(parts) if parts else None


ACCESS_MODES = {
    0: "Read-Write",
    1: "Administrative",
    2: "Read",
    3: "Support User",
    4: "Non-interactive",
    5: "Delegated Admin",
}

# solutioncomponent.componenttype: the documented option values the sandbox uses.
COMPONENT_TYPES = {
    1: "Entity",
    2: "Attribute",
    14: "Entity Key",
    20: "Role",
    26: "Saved Query",
    60: "System Form",
    61: "Web Resource",
    90: "Plugin Type",
    91: "Plugin Assembly",
    92: "SDK Message Processing Step",
}
ROOT_COMPONENT_BEHAVIORS = {
    0: "Include Subcomponents",
    1: "Do not include subcomponents",
    2: "Include As Shell Only",
}

ASYNC_STATES = {0: "Ready", 1: "Suspended", 2: "Locked", 3: "Completed"}
ASYNC_STATUSES = {
    0: "Waiting For Resources",
    10: "Waiting",
    20: "In Progress",
    21: "Pausing",
    22: "Canceling",
    30: "Succeeded",
    31: "Failed",
    32: "Canceled",
}


def system_tables() -> list[TableDef]:
    """The system tables the reconciler touches, with their public logical names."""
    return [
        make_table(
            "businessunit",
            "businessunits",
            "businessunitid",
            "BusinessUnit",
            [
                Column("name", "String", required=True, max_length=160),
                Column(
                    "parentbusinessunitid",
                    "Lookup",
                    target="businessunit",
                    nav="parentbusinessunitid",
                ),
                Column("isdisabled", "Boolean"),
            ],
            primary_name="name",
        ),
        make_table(
            "systemuser",
            "systemusers",
            "systemuserid",
            "SystemUser",
            [
                Column("domainname", "String", max_length=1024),
                Column("firstname", "String", max_length=256),
                Column("lastname", "String", max_length=256),
                Column("fullname", "String", read_only=True, max_length=200),
                Column("internalemailaddress", "String", max_length=100),
                Column("applicationid", "Uniqueidentifier"),
                Column("azureactivedirectoryobjectid", "Uniqueidentifier"),
                Column("isdisabled", "Boolean"),
                Column("accessmode", "Picklist", options=ACCESS_MODES, default=0),
                Column(
                    "businessunitid", "Lookup", required=True, target="businessunit", nav="businessunitid"
                ),
            ],
            primary_name="fullname",
            deletable=False,
            compute=_compute_fullname,
        ),
        make_table(
            "role",
            "roles",
            "roleid",
            "Role",
            [
                Column("name", "String", required=True, max_length=100),
                Column(
                    "businessunitid", "Lookup", required=True, target="businessunit", nav="businessunitid"
                ),
            ],
            primary_name="name",
        ),
        make_table(
            "systemuserroles",
            "systemuserrolescollection",
            "systemuserroleid",
            "SystemUserRoles",
            [Column("systemuserid", "Uniqueidentifier"), Column("roleid", "Uniqueidentifier")],
            intersect=True,
            deletable=False,
            creatable=False,
        ),
        make_table(
            "incident",
            "incidents",
            "incidentid",
            "Incident",
            [
                Column("title", "String", required=True, max_length=200),
                Column("ticketnumber", "String", max_length=100),
                *state_columns(),
            ],
            primary_name="title",
        ),
        make_table(
            "solution",
            "solutions",
            "solutionid",
            "Solution",
            [
                Column("uniquename", "String", required=True, max_length=65),
                Column("friendlyname", "String", max_length=256),
                Column("version", "String", max_length=256),
                Column("ismanaged", "Boolean", read_only=True),
                Column("installedon", "DateTime", read_only=True),
            ],
            primary_name="friendlyname",
        ),
        make_table(
            "solutioncomponent",
            "solutioncomponents",
            "solutioncomponentid",
            "SolutionComponent",
            [
                Column("componenttype", "Picklist", options=COMPONENT_TYPES, read_only=True),
                Column("objectid", "Uniqueidentifier", read_only=True),
                Column("solutionid", "Lookup", target="solution", nav="solutionid", read_only=True),
                Column("rootcomponentbehavior", "Picklist", options=ROOT_COMPONENT_BEHAVIORS, read_only=True),
                Column("ismetadata", "Boolean", read_only=True),
            ],
            creatable=False,
            deletable=False,
        ),
        make_table(
            "asyncoperation",
            "asyncoperations",
            "asyncoperationid",
            "AsyncOperation",
            [
                Column("name", "String", max_length=256),
                Column("operationtype", "Picklist"),
                Column("statecode", "State", options=ASYNC_STATES),
                Column("statuscode", "Status", options=ASYNC_STATUSES),
                Column("message", "Memo"),
                Column("friendlymessage", "Memo"),
                Column("errorcode", "Integer"),
                Column("startedon", "DateTime"),
                Column("completedon", "DateTime"),
            ],
            primary_name="name",
            creatable=False,
        ),
        make_table(
            "importjob",
            "importjobs",
            "importjobid",
            "ImportJob",
            [
                Column("name", "String", max_length=256),
                Column("solutionname", "String", max_length=256),
                Column("progress", "Decimal"),
                Column("startedon", "DateTime"),
                Column("completedon", "DateTime"),
                Column("data", "Memo"),
            ],
            primary_name="name",
            creatable=False,
        ),
    ]


def user_roles_relationship() -> RelationshipDef:
    return RelationshipDef(
        RELATIONSHIP_USER_ROLES, "systemuserroles", "systemuser", "systemuserid", "role", "roleid"
    )


def solution_tables(schema: SolutionSchema) -> list[TableDef]:
    """The LogMeIn solution's tables, every name and label taken from the solution schema."""
    integ = schema.integration
    cols = integ.columns
    options = {value: label for label, value in integ.instance_values.items()}
    option_labels = {
        value: integ.label(name) or {1033: name} for name, value in integ.instance_values.items()
    }
    text_lengths = {"endpoint": 500, "company_id": 100, "sso_password": 200, "org_url": 500}

    def integ_column(role: str) -> Column:
        if role == "instance":
            return Column(
                cols[role], "Picklist", options=options, option_labels=option_labels, labels=integ.label(role)
            )
        if role in text_lengths or role == "office365_tenant_id":
            return Column(
                cols[role], "String", max_length=text_lengths.get(role, 100), labels=integ.label(role)
            )
        return Column(cols[role], "Boolean", labels=integ.label(role))

    integration = make_table(
        integ.table,
        integ.entity_set,
        integ.id_column,
        integ.table,
        [*(integ_column(role) for role in cols), *state_columns()],
        is_custom=True,
        labels=integ.label("table"),
    )
    tech = schema.technician_settings
    lengths = {"technician_id": 100, "sso_id": 200, "auth_code": 4000}
    settings = make_table(
        tech.table,
        tech.entity_set,
        tech.id_column,
        tech.table,
        [
            Column(
                tech.user_lookup,
                "Lookup",
                target="systemuser",
                nav=tech.user_navigation,
                labels=tech.label("user_lookup"),
            ),
            *(
                Column(name, "String", max_length=lengths[role], labels=tech.label(role))
                for role, name in tech.columns.items()
            ),
            *state_columns(),
        ],
        is_custom=True,
        labels=tech.label("table"),
    )
    sess = schema.session
    session = make_table(
        sess.table,
        sess.entity_set,
        sess.id_column,
        sess.table,
        [
            *(Column(c, "String", max_length=100, labels=sess.label(c)) for c in sess.key_columns),
            Column(
                sess.columns["technician_id"], "String", max_length=100, labels=sess.label("technician_id")
            ),
            Column(sess.columns["start_time"], "DateTime", labels=sess.label("start_time")),
            Column(sess.columns["end_time"], "DateTime", labels=sess.label("end_time")),
            Column(
                sess.case_lookup,
                "Lookup",
                target="incident",
                nav=sess.case_navigation,
                labels=sess.label("case_lookup"),
            ),
            *state_columns(),
        ],
        is_custom=True,
        labels=sess.label("table"),
    )
    session.keys.append(
        EntityKeyDef(
            sess.key_logical_name,
            sess.key_schema_name,
            tuple(sess.key_columns),
            sess.table,
            sess.label("key"),
        )
    )
    return [integration, settings, session]


_INFER = {bool: "Boolean", int: "Integer", float: "Decimal", str: "String"}


def normalize_extra_spec(logical_name: str, spec: Mapping[str, Any]) -> dict[str, Any]:
    """A seed table spec without rows, its column types made explicit (inferred from the rows:
    bool, int, float, str), so it can be persisted and rebuilt without its rows."""
    id_column = str(spec.get("id_column") or f"{logical_name}id")
    declared: dict[str, str] = dict(spec.get("columns") or {})
    for row in spec.get("rows") or []:
        for name, value in row.items():
            if name == id_column or name in declared or value is None:
                continue
            if type(value) not in _INFER:
                raise ValueError(
                    f"table {logical_name}: column {name}: unsupported type {type(value).__name__!r}"
                )
            declared[name] = _INFER[type(value)]
    return {
        "entity_set": str(spec.get("entity_set") or f"{logical_name}s"),
        "id_column": id_column,
        "columns": declared,
        "keys": [dict(k) for k in spec.get("keys") or []],
    }


def extramake_table(logical_name: str, spec: Mapping[str, Any]) -> TableDef:
    """A seed-defined table from a normalised spec (see :func:`normalize_extra_spec`)."""
    spec = normalize_extra_spec(logical_name, spec)
    entity_set, id_column, declared = spec["entity_set"], spec["id_column"], spec["columns"]
    columns: list[Column] = []
    for name, type_name in declared.items():
        if type_name not in EDM_TYPES or type_name == "Lookup":
            raise ValueError(f"table {logical_name}: column {name}: unsupported type {type_name!r}")
        columns.append(Column(name, type_name))
    table = make_table(logical_name, entity_set, id_column, logical_name, columns, is_custom=True)
    for key in spec.get("keys") or []:
        key_cols = tuple(key["columns"])
        for col in key_cols:
            if col not in table.by_logical:
                raise ValueError(f"table {logical_name}: key {key['logical_name']}: unknown column {col}")
        table.keys.append(
            EntityKeyDef(
                key["logical_name"], key.get("schema_name", key["logical_name"]), key_cols, logical_name
            )
        )
    return table


def build_tables(
    schema: SolutionSchema, extra: Mapping[str, Mapping[str, Any]]
) -> tuple[dict[str, TableDef], dict[str, RelationshipDef]]:
    """All tables of an org (system, solution schema, seed extras) and its N:N relationships."""
    tables: dict[str, TableDef] = {}
    for table in [*system_tables(), *solution_tables(schema)]:
        tables[table.logical_name] = table
    for name, spec in extra.items():
        if name in tables:
            raise ValueError(f"seed table {name!r} already exists in the org")
        tables[name] = extramake_table(name, spec)
    sets = [t.entity_set for t in tables.values()]
    if len(set(sets)) != len(sets):
        raise ValueError("two tables share an entity set name")
    rel = user_roles_relationship()
    tables["systemuser"].collection_navs[rel.name] = rel
    tables["role"].collection_navs[rel.name] = rel
    return tables, {rel.name: rel}
