"""Who may call the org, and with which privileges.

Dataverse accepts a valid Entra token only from an app that is an *application user* of the
org: otherwise it answers 403 ``0x80072560`` "The user is not a member of the organization."; a
disabled user gets 403 ``0x80040225`` (docs/sandbox.md, "Authorization", has the sources). Each
request then needs a privilege its roles give: ``prv<Verb><Entity>`` (Create, Read, Write,
Delete, Append; systemuser's privileges are named ``...User``), else 403 ``0x80040220`` naming
the privilege. Roles hold privileges by role name (every business unit's copy of a role has the
same privileges, as copies of an inherited role do). ``System Administrator`` holds every
privilege; ``RetrieveUserPrivileges`` lists what a user holds.
"""

from __future__ import annotations

import uuid
import zlib
from collections.abc import Iterable, Mapping
from typing import Any

from rescue_sandbox.dataverse import errors
from rescue_sandbox.dataverse.org_interface import OrgInterface
from rescue_sandbox.dataverse.protocol import Segment, split_path
from rescue_sandbox.dataverse.schema import RELATIONSHIP_USER_ROLES, TableDef
from rescue_sandbox.dataverse.values import normalize_guid

NOT_A_MEMBER = "0x80072560"
USER_DISABLED = "0x80040225"
MISSING_PRIVILEGE = "0x80040220"
SYSTEM_ADMINISTRATOR = "System Administrator"
RETRIEVE_USER_PRIVILEGES = "Microsoft.Dynamics.CRM.RetrieveUserPrivileges"

_NAMESPACE = uuid.UUID("0c9f3b6e-5d1a-4e7b-9a2c-8f4d6e1b3a70")
VERBS = {"GET": "Read", "POST": "Create", "PATCH": "Write", "PUT": "Write", "DELETE": "Delete"}
_TABLE_VERBS = ("Create", "Read", "Write", "Delete", "Append", "AppendTo")
# Privileges of requests that address no entity set (sandbox-chosen names where marked in docs).
_OPERATIONS = {
    "ImportSolution": "prvImportCustomization",
    "ImportSolutionAsync": "prvImportCustomization",
    "ReactivateEntityKey": "prvCreateEntityKey",
    "EntityDefinitions": "prvReadEntity",
}
_FREE = {"WhoAmI", ""}  # what any member may call
# Object type codes of the system tables (documented in each table's metadata).
_SYSTEM_OTC = {
    "systemuser": 8,
    "businessunit": 10,
    "systemuserroles": 15,
    "role": 1036,
    "importjob": 4412,
    "asyncoperation": 4700,
    "solution": 7100,
    "solutioncomponent": 7103,
}
# Tables whose privileges carry another entity's name.
_PRIVILEGE_ENTITY = {"systemuser": "User", "solutioncomponent": "Solution", "systemuserroles": "Role"}


def table_privilege(verb: str, table: TableDef) -> str:
    return f"prv{verb}{_PRIVILEGE_ENTITY.get(table.logical_name, table.schema_name)}"


def all_privileges(org: OrgInterface) -> set[str]:
    names = {table_privilege(verb, t) for t in org.tables.values() for verb in _TABLE_VERBS}
    return names | set(_OPERATIONS.values())


def privilege_id(name: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, name))


def object_type_code(table: TableDef) -> int:
    if not table.is_custom and table.logical_name in _SYSTEM_OTC:
        return _SYSTEM_OTC[table.logical_name]
    return 10000 + zlib.crc32(table.logical_name.encode("utf-8")) % 900


def required_privilege(org: OrgInterface, method: str, path: str) -> tuple[str | None, TableDef | None]:
    """The privilege a request needs (None: none) and the table it is about."""
    segments = split_path(path.split("?", 1)[0])
    if not segments:
        return None, None
    head = segments[0]
    if head.name in _FREE:
        return None, None
    if head.name in _OPERATIONS:
        return _OPERATIONS[head.name], None
    table = org.by_set.get(head.name)
    if table is None:
        return None, None  # the router answers 404 for it
    return table_privilege(_verb(method, segments), table), table


def _verb(method: str, segments: list[Segment]) -> str:
    names = [s.name for s in segments[1:]]
    if "$ref" in names or (RELATIONSHIP_USER_ROLES in names and method != "GET"):
        return "Append"
    if names and names[0] == RETRIEVE_USER_PRIVILEGES:
        return "Read"
    if names and names[0].startswith("Microsoft.Dynamics.CRM.") and names[0] != RETRIEVE_USER_PRIVILEGES:
        return "Write" if names[0].endswith("UpdateMultiple") else "Create"
    return VERBS.get(method.upper(), "Read")


def caller_user(org: OrgInterface, claims: Mapping[str, Any]) -> dict[str, Any]:
    """The application user of the token's app; 403 when there is none or it is disabled."""
    app_id = normalize_guid(str(claims.get("appid") or claims.get("azp") or ""))
    users = org.find("systemuser", "applicationid", app_id) if app_id else []
    if not users:
        raise errors.DataverseError(403, NOT_A_MEMBER, "The user is not a member of the organization.")
    user = users[0]
    if user.get("isdisabled"):
        raise errors.DataverseError(
            403,
            USER_DISABLED,
            f"The user with SystemUserId={user['systemuserid']} in OrganizationContext={org.organization_id} "
            "is disabled. Disabled users cannot access the system. Consider enabling this user.",
        )
    return user


def user_roles(org: OrgInterface, user_id: str) -> list[dict[str, Any]]:
    role_ids = org.related_ids(RELATIONSHIP_USER_ROLES, "systemuser", user_id)
    return [row for rid in role_ids if (row := org.store("role").get(rid)) is not None]


def user_privileges(org: OrgInterface, user_id: str) -> set[str]:
    held: set[str] = set()
    for role in user_roles(org, user_id):
        held |= org.role_privileges.get(str(role["name"]), set())
    return held


def check(org: OrgInterface, claims: Mapping[str, Any], method: str, path: str) -> None:
    """Refuse (403 0x80040220) a request whose caller lacks the privilege it needs."""
    privilege, table = required_privilege(org, method, path)
    if privilege is None:
        return
    user = caller_user(org, claims)
    if privilege in user_privileges(org, user["systemuserid"]):
        return
    raise errors.DataverseError(
        403, MISSING_PRIVILEGE, missing_privilege_message(org, user, privilege, table)
    )


def missing_privilege_message(
    org: OrgInterface, user: Mapping[str, Any], privilege: str, table: TableDef | None
) -> str:
    roles = user_roles(org, user["systemuserid"])
    count = len(user_privileges(org, user["systemuserid"]))
    where = f" on OTC={object_type_code(table)} for entity '{table.logical_name}'" if table else ""
    return (
        f"Principal user (Id={user['systemuserid']}, type=8, roleCount={len(roles)}, "
        f"privilegeCount={count}, accessMode={user.get('accessmode', 0)}), is missing {privilege} "
        f"privilege (Id={privilege_id(privilege)}){where}. context.Caller={user['systemuserid']}."
    )


def retrieve_user_privileges(org: OrgInterface, user_id: str) -> list[dict[str, Any]]:
    """``RolePrivileges`` of RetrieveUserPrivileges: one entry per privilege per role."""
    out = []
    for role in user_roles(org, user_id):
        for name in sorted(org.role_privileges.get(str(role["name"]), set())):
            out.append(
                {
                    "Depth": "Global",
                    "PrivilegeId": privilege_id(name),
                    "BusinessUnitId": role["_businessunitid_value"],
                    "PrivilegeName": name,
                    "RecordFilterId": None,
                    "RecordFilterUniqueName": None,
                }
            )
    return out


def default_role_privileges(org: OrgInterface, declared: Mapping[str, Iterable[str]]) -> dict[str, set[str]]:
    """System Administrator holds everything; the LogMeIn role its tables; a seed's
    ``role_privileges`` sets (and replaces) any role's."""
    everything = all_privileges(org)
    schema = org.schema
    solution = [org.tables[part.table] for part in schema.tables]
    logmein = {table_privilege(v, t) for t in solution for v in ("Create", "Read", "Write", "Append")}
    logmein |= {"prvReadUser", "prvAppendToUser"}
    privileges = {SYSTEM_ADMINISTRATOR: set(everything), schema.app_role: logmein}
    for role, names in declared.items():
        unknown = sorted(set(names) - everything)
        if unknown:
            raise ValueError(f"dataverse.role_privileges.{role}: unknown privilege(s) {', '.join(unknown)}")
        privileges[str(role)] = set(names)
    return privileges
