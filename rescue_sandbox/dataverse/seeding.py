"""Fill an org from the ``dataverse:`` mapping of a seed tenant.

Accepted keys (all optional except ``org_url``; docs/sandbox.md documents the whole seed)::

    org_url: https://contoso.crm.dynamics.com
    business_units: [{name, parent?, id?}]        # first one without parent = root
    roles: [name, ...]                            # one copy per business unit (plus System Administrator)
    role_privileges: {<role>: [prvReadUser, ...]} # replaces a role's privileges (security.py)
    reconciler_user: {app_id, roles?: [name], isdisabled?, business_unit?} | false
                                                  # the calling app's application user (seed.py
                                                  # fills app_id; default roles: System Administrator)
    users: [{domainname, firstname?, lastname?, internalemailaddress?, business_unit?,
             isdisabled?, roles?: [name], id?, azureactivedirectoryobjectid?}]
    solutions: [{uniquename, version, ismanaged, friendlyname?}]
    integration: {instance, endpoint, company_id, sso_password, org_url,
                  office365_tenant_id, options: {<four option names>: bool}}
    settings: [{user: <domainname>, technician_id?, sso_id?, auth_code?}]
    application_user: {app_id, firstname?, lastname?, email?, business_unit?, roles?: [name]}
    session_key: {status: Active|Pending|InProgress|Failed, error?: text}
    tables: {<logical name>: {entity_set?, id_column?, columns?: {name: type},
             keys?: [{logical_name, schema_name?, columns}], rows: [...]}}
    base_language: 1033                           # the org's base language (LCID)
    ui_language: 1040                             # the reconciler_user's UI language (default:
                                                  # the base language); labels follow it

Any other key is refused, naming where it belongs when it is a key of the seed tenant
(``solution_schema``, ``secrets``).

Logical field names (``company_id``, ``sso_id``...) become column names through the solution
schema (solution_schema.py). ``tables`` may also name an existing table (for example the LogMeIn session table) to
add rows to it. Ids are derived from the org host and natural keys, so the same seed always
gives the same ids. Problems raise ``ValueError`` naming the seed path.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from rescue_sandbox.dataverse import components, security
from rescue_sandbox.dataverse.errors import DataverseError
from rescue_sandbox.dataverse.org_interface import OrgInterface
from rescue_sandbox.dataverse.solution_schema import INTEGRATION_FIELDS, INTEGRATION_OPTIONS, SETTINGS_COLUMNS
from rescue_sandbox.seedkeys import unknown_key


def seed_id(org: OrgInterface, table: str, natural_key: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{org.org_url}/{table}/{natural_key.casefold()}"))


def _items(seed: Mapping[str, Any], name: str) -> list[Any]:
    value = seed.get(name)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"dataverse.{name}: expected a list")
    return value


def _unknown(path: str, entry: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    extra = sorted(set(entry) - set(allowed))
    if extra:
        raise ValueError(f"{path}: unknown field(s) {', '.join(extra)}; allowed: {', '.join(allowed)}")


def populate(org: OrgInterface, seed: Mapping[str, Any]) -> None:
    try:
        _populate(org, seed)
    except DataverseError as exc:
        raise ValueError(f"dataverse seed for {org.host}: {exc.message}") from exc


# Every key of a seed's ``dataverse:`` mapping (the docstring above says what each holds).
DATAVERSE_KEYS = (
    *("org_url", "business_units", "roles", "role_privileges", "reconciler_user", "users"),
    *("solutions", "integration", "settings", "application_user", "session_key", "tables"),
    *("base_language", "ui_language"),
)
# Keys that belong elsewhere in a seed tenant: said so, not just "unknown".
_ELSEWHERE = {"solution_schema": "tenants.<name>.solution_schema", "secrets": "tenants.<name>.secrets"}


def unknown_keys_problem(seed: Mapping[str, Any]) -> str | None:
    """The unknown keys of a ``dataverse:`` mapping, all in one message (None when there are none)."""
    problems = [
        f"dataverse.{key}: belongs at {_ELSEWHERE[key]}, not under dataverse"
        if key in _ELSEWHERE
        else unknown_key("dataverse", key, DATAVERSE_KEYS)
        for key in seed
        if key not in DATAVERSE_KEYS
    ]
    return "; ".join(problems) or None


def _populate(org: OrgInterface, seed: Mapping[str, Any]) -> None:
    problem = unknown_keys_problem(seed)
    if problem:
        raise ValueError(problem)
    org.base_language = _language(seed, "base_language", 1033)
    ui_language = _language(seed, "ui_language", org.base_language)
    bu_ids = _business_units(org, _items(seed, "business_units") or [{"name": org.host.split(".")[0]}])
    root = next(iter(bu_ids))
    role_ids: dict[tuple[str, str], str] = {}
    role_names = [str(r) for r in _items(seed, "roles")]
    if security.SYSTEM_ADMINISTRATOR not in role_names:  # every org has it
        role_names.append(security.SYSTEM_ADMINISTRATOR)
    declared = seed.get("role_privileges") or {}
    if not isinstance(declared, Mapping):
        raise ValueError("dataverse.role_privileges: a mapping of role -> [privilege] is required")
    org.role_privileges = security.default_role_privileges(org, declared)
    for bu_name, bu_id in bu_ids.items():
        for role in role_names:
            role_id = seed_id(org, "role", f"{bu_name}/{role}")
            org.insert("role", {"roleid": role_id, "name": str(role), "_businessunitid_value": bu_id})
            role_ids[(bu_name, str(role))] = role_id

    def assign(path: str, user_id: str, bu_name: str, roles: list[Any]) -> None:
        for role in roles:
            if (bu_name, str(role)) not in role_ids:
                raise ValueError(f"{path}: unknown role {role!r} (declare it under dataverse.roles)")
            org.associate("systemuserroles_association", user_id, role_ids[(bu_name, str(role))])

    user_ids: dict[str, str] = {}
    user_fields = (
        *("domainname", "firstname", "lastname", "internalemailaddress", "business_unit"),
        *("isdisabled", "roles", "id", "azureactivedirectoryobjectid"),
    )
    for i, user in enumerate(_items(seed, "users")):
        path = f"dataverse.users[{i}]"
        _unknown(path, user, user_fields)
        if not user.get("domainname"):
            raise ValueError(f"{path}: domainname is required")
        bu_name = user.get("business_unit", root)
        if bu_name not in bu_ids:
            raise ValueError(f"{path}: unknown business unit {bu_name!r}")
        upn = str(user["domainname"])
        row = {
            "systemuserid": user.get("id") or seed_id(org, "systemuser", upn),
            "domainname": upn,
            "firstname": user.get("firstname"),
            "lastname": user.get("lastname"),
            "internalemailaddress": user.get("internalemailaddress", upn),
            "isdisabled": bool(user.get("isdisabled", False)),
            "azureactivedirectoryobjectid": user.get("azureactivedirectoryobjectid"),
            "_businessunitid_value": bu_ids[bu_name],
        }
        user_ids[upn.casefold()] = org.insert("systemuser", row)["systemuserid"]
        assign(path, user_ids[upn.casefold()], bu_name, list(user.get("roles") or []))

    app = seed.get("application_user")
    if app:
        path = "dataverse.application_user"
        _unknown(path, app, ("app_id", "firstname", "lastname", "email", "business_unit", "roles", "id"))
        app_id = str(app.get("app_id") or org.schema.app_id)
        bu_name = app.get("business_unit", root)
        if bu_name not in bu_ids:
            raise ValueError(f"{path}: unknown business unit {bu_name!r}")
        row = {
            "systemuserid": app.get("id") or seed_id(org, "systemuser", f"app/{app_id}"),
            "applicationid": app_id,
            "firstname": app.get("firstname"),
            "lastname": app.get("lastname"),
            "internalemailaddress": app.get("email"),
            "accessmode": 4,
            "_businessunitid_value": bu_ids[bu_name],
        }
        app_user_id = org.insert("systemuser", row)["systemuserid"]
        assign(path, app_user_id, bu_name, list(app.get("roles") or []))

    caller = seed.get("reconciler_user")
    if caller:
        path = "dataverse.reconciler_user"
        _unknown(path, caller, ("app_id", "roles", "isdisabled", "business_unit", "id"))
        bu_name = caller.get("business_unit", root)
        if bu_name not in bu_ids or not caller.get("app_id"):
            raise ValueError(f"{path}: needs app_id and a known business_unit")
        app_id = str(caller["app_id"])
        row = {
            "systemuserid": caller.get("id") or seed_id(org, "systemuser", f"app/{app_id}"),
            "applicationid": app_id,
            "firstname": "Reconciler",
            "lastname": "Application User",
            "accessmode": 4,
            "isdisabled": bool(caller.get("isdisabled", False)),
            "_businessunitid_value": bu_ids[bu_name],
        }
        user_id = org.insert("systemuser", row)["systemuserid"]
        assign(path, user_id, bu_name, list(caller.get("roles") or [security.SYSTEM_ADMINISTRATOR]))
        org.ui_languages[str(user_id)] = ui_language

    for i, sol in enumerate(_items(seed, "solutions")):
        path = f"dataverse.solutions[{i}]"
        _unknown(path, sol, ("uniquename", "version", "ismanaged", "friendlyname"))
        if not sol.get("uniquename"):
            raise ValueError(f"{path}: uniquename is required")
        solution = org.insert(
            "solution",
            {
                "solutionid": seed_id(org, "solution", str(sol["uniquename"])),
                "uniquename": str(sol["uniquename"]),
                "friendlyname": str(sol.get("friendlyname") or sol["uniquename"]),
                "version": str(sol.get("version", "1.0.0.0")),
                "ismanaged": bool(sol.get("ismanaged", True)),
            },
        )
        components.register(org, solution["solutionid"], solution["uniquename"])

    if seed.get("integration"):
        _integration(org, seed["integration"])
    for i, entry in enumerate(_items(seed, "settings")):
        _settings(org, f"dataverse.settings[{i}]", entry, user_ids)
    _session_key(org, seed.get("session_key"))
    for name, spec in (seed.get("tables") or {}).items():
        for row in spec.get("rows") or []:
            org.insert(name, row)


def _language(seed: Mapping[str, Any], key: str, default: int) -> int:
    value = seed.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or not 1000 <= value <= 99999:
        raise ValueError(f"dataverse.{key}: a language code (LCID) such as 1033 or 1040 is required")
    return value


def _business_units(org: OrgInterface, units: list[Any]) -> dict[str, str]:
    ids: dict[str, str] = {}
    for i, bu in enumerate(units):
        path = f"dataverse.business_units[{i}]"
        if not isinstance(bu, Mapping) or not bu.get("name"):
            raise ValueError(f"{path}: each business unit needs a name")
        _unknown(path, bu, ("name", "parent", "id"))
        name = str(bu["name"])
        parent = bu.get("parent")
        if not ids and parent is not None:
            raise ValueError(f"{path}: the first business unit is the root and has no parent")
        if ids and parent is None:
            raise ValueError(f"{path}: only the first business unit may lack a parent")
        if parent is not None and parent not in ids:
            raise ValueError(f"{path}: parent {parent!r} must be declared before it")
        row = {
            "businessunitid": bu.get("id") or seed_id(org, "businessunit", name),
            "name": name,
            "_parentbusinessunitid_value": ids[parent] if parent is not None else None,
        }
        ids[name] = org.insert("businessunit", row)["businessunitid"]
    return ids


def _integration(org: OrgInterface, cfg: Mapping[str, Any]) -> None:
    path = "dataverse.integration"
    _unknown(path, cfg, ("instance", *INTEGRATION_FIELDS, "options"))
    integ = org.schema.integration
    row: dict[str, Any] = {}
    instance = cfg.get("instance")
    if instance is not None:
        if isinstance(instance, int) and not isinstance(instance, bool):
            row[integ.columns["instance"]] = instance
        elif instance in integ.instance_values:
            row[integ.columns["instance"]] = integ.instance_values[instance]
        else:
            raise ValueError(f"{path}.instance: unknown instance {instance!r}")
    for name in INTEGRATION_FIELDS:
        if cfg.get(name) is not None:
            row[integ.columns[name]] = str(cfg[name])
    options = cfg.get("options") or {}
    _unknown(f"{path}.options", options, INTEGRATION_OPTIONS)
    for name, value in options.items():
        row[integ.columns[name]] = bool(value)
    row[integ.id_column] = seed_id(org, integ.table, "singleton")
    org.insert(integ.table, row)


def _settings(org: OrgInterface, path: str, entry: Mapping[str, Any], user_ids: dict[str, str]) -> None:
    _unknown(path, entry, ("user", *SETTINGS_COLUMNS, "id"))
    tech = org.schema.technician_settings
    user = str(entry.get("user") or "")
    if user.casefold() not in user_ids:
        raise ValueError(f"{path}: user {user!r} is not among dataverse.users")
    row: dict[str, Any] = {
        tech.id_column: entry.get("id") or seed_id(org, tech.table, user),
        tech.user_value_column: user_ids[user.casefold()],
    }
    for name in SETTINGS_COLUMNS:
        if entry.get(name) is not None:
            row[tech.columns[name]] = str(entry[name])
    org.insert(tech.table, row)


def _session_key(org: OrgInterface, cfg: Mapping[str, Any] | None) -> None:
    if not cfg:
        return
    _unknown("dataverse.session_key", cfg, ("status", "error"))
    sess = org.schema.session
    status = str(cfg.get("status", "Active"))
    if status != "Active":
        org.set_key_status(sess.table, sess.key_logical_name, status, cfg.get("error"))
