"""The emulated LogMeIn solution: the sandbox's own definition of its tables, columns, option
values, Session Key and display labels (``solution_schema.yaml``).

The sandbox must not read the product's solution profile: when both come from one file, a wrong
guess in it passes every test. A seed tenant's ``solution_schema:`` section replaces parts of
this default (mappings merge; each label entry ``{lcid: text}`` is replaced whole, so a seed can
leave an org with Italian labels only). Problems raise ``ValueError`` naming the path.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

Labels = Mapping[int, str]  # LCID -> text (1033 English, 1040 Italian...)

# The integration configuration's columns by role, declared once for the whole sandbox (the seed
# reader, the controls and the seed generator take them from here): its settings, its four on/off
# options (Boolean columns), and the instance choice; then the technician settings' columns.
INTEGRATION_FIELDS = ("endpoint", "company_id", "sso_password", "org_url", "office365_tenant_id")
INTEGRATION_OPTIONS = (
    "require_active_technician_console",
    "close_ticket_on_session_end",
    "reassign_case_on_session_start",
    "do_not_pass_custom_field_1",
)
_INTEGRATION_COLUMNS = ("instance", *INTEGRATION_FIELDS, *INTEGRATION_OPTIONS)
SETTINGS_COLUMNS = ("technician_id", "sso_id", "auth_code")
_SESSION_COLUMNS = ("technician_id", "start_time", "end_time")
_SECTIONS: dict[str, tuple[str, ...]] = {
    "solution": ("unique_name", "labels"),
    "integration": (
        *("table", "entity_set", "id_column", "columns", "instance_values", "instance_endpoints"),
        "labels",
    ),
    "technician_settings": (
        *("table", "entity_set", "id_column", "user_lookup", "user_navigation", "columns"),
        "labels",
    ),
    "session": (
        *("table", "entity_set", "id_column", "key_logical_name", "key_schema_name", "key_columns"),
        *("columns", "case_lookup", "case_navigation", "labels"),
    ),
    "application_user": ("app_id", "role"),
    "rescue": ("export_url",),
}


@dataclass(frozen=True)
class SolutionTable:
    """One table of the solution: its names, its columns by role, and labels by role."""

    table: str
    entity_set: str
    id_column: str
    columns: Mapping[str, str]  # role (company_id, sso_id...) -> logical name
    labels: Mapping[str, Labels]  # role, "table" or "key" (or a key column's name) -> labels

    def label(self, role: str) -> Labels:
        return self.labels.get(role, {})

    def role_of(self, logical_name: str) -> str:
        """The role a column plays (its logical name when it has none)."""
        return next((r for r, name in self.columns.items() if name == logical_name), logical_name)


@dataclass(frozen=True)
class IntegrationSchema(SolutionTable):
    instance_values: Mapping[str, int]
    instance_endpoints: Mapping[str, str]


@dataclass(frozen=True)
class SettingsSchema(SolutionTable):
    user_lookup: str
    user_navigation: str

    @property
    def user_value_column(self) -> str:
        return f"_{self.user_lookup}_value"


@dataclass(frozen=True)
class SessionSchema(SolutionTable):
    key_logical_name: str
    key_schema_name: str
    key_columns: tuple[str, ...]
    case_lookup: str  # lookup to the case (incident) the session was started from
    case_navigation: str


@dataclass(frozen=True)
class SolutionSchema:
    unique_name: str
    solution_labels: Labels
    integration: IntegrationSchema
    technician_settings: SettingsSchema
    session: SessionSchema
    app_id: str  # the LogMeIn integration app registration
    app_role: str
    export_url: str

    @property
    def tables(self) -> tuple[SolutionTable, ...]:
        return (self.integration, self.technician_settings, self.session)


@cache
def _default_text() -> str:
    return resources.files("rescue_sandbox.dataverse").joinpath("solution_schema.yaml").read_text("utf-8")


def default_schema_data() -> dict[str, Any]:
    data = yaml.safe_load(_default_text())
    assert isinstance(data, dict)
    return data


@cache
def default_schema() -> SolutionSchema:
    return build_schema(default_schema_data(), "solution_schema.yaml")


def schema_from_seed(section: Any, where: str = "solution_schema") -> SolutionSchema:
    """The default schema with a seed's ``solution_schema:`` section merged in."""
    if not section:
        return default_schema()
    if not isinstance(section, Mapping):
        raise ValueError(f"{where}: must be a mapping")
    return build_schema(_merge(default_schema_data(), section), where)


def _merge(base: dict[str, Any], override: Mapping[str, Any], in_labels: bool = False) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict) and not in_labels:
            merged[key] = _merge(merged[key], value, in_labels=key == "labels")
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _text(section: Mapping[str, Any], key: str, path: str) -> str:
    value = section.get(key)
    if not isinstance(value, str) or not value:
        raise ValueError(f"{path}.{key}: a non-empty string is required")
    return value


def _labels(raw: Any, path: str) -> dict[str, Labels]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ValueError(f"{path}: a mapping of role -> {{lcid: label}} is required")
    out: dict[str, Labels] = {}
    for role, texts in raw.items():
        out[str(role)] = _one_label(texts, f"{path}.{role}")
    return out


def _one_label(texts: Any, path: str) -> Labels:
    if not isinstance(texts, Mapping) or not texts:
        raise ValueError(f"{path}: a mapping {{lcid: label}} is required, e.g. {{1033: Name}}")
    labels: dict[int, str] = {}
    for lcid, text in texts.items():
        if not isinstance(lcid, int) or isinstance(lcid, bool) or not isinstance(text, str) or not text:
            raise ValueError(f"{path}.{lcid}: a language code (e.g. 1040) and a non-empty label")
        labels[lcid] = text
    return labels


def _columns(section: Mapping[str, Any], roles: tuple[str, ...], path: str) -> dict[str, str]:
    raw = section.get("columns")
    if not isinstance(raw, Mapping):
        raise ValueError(f"{path}.columns: a mapping is required")
    unknown = sorted(set(raw) - set(roles))
    if unknown:
        raise ValueError(f"{path}.columns: unknown role(s) {', '.join(map(str, unknown))}")
    return {role: _text(raw, role, f"{path}.columns") for role in roles}


def _table_fields(section: Mapping[str, Any], path: str) -> dict[str, Any]:
    return {
        "table": _text(section, "table", path),
        "entity_set": _text(section, "entity_set", path),
        "id_column": _text(section, "id_column", path),
        "labels": _labels(section.get("labels"), f"{path}.labels"),
    }


def build_schema(data: Mapping[str, Any], where: str) -> SolutionSchema:
    for name, section in data.items():
        if name not in _SECTIONS:
            raise ValueError(f"{where}.{name}: unknown section (known: {', '.join(_SECTIONS)})")
        if not isinstance(section, Mapping):
            raise ValueError(f"{where}.{name}: must be a mapping")
        unknown = sorted(set(section) - set(_SECTIONS[name]))
        if unknown:
            raise ValueError(f"{where}.{name}: unknown field(s) {', '.join(map(str, unknown))}")
    integ = data["integration"]
    values = integ.get("instance_values")
    endpoints = integ.get("instance_endpoints")
    if not isinstance(values, Mapping) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in values.values()
    ):
        raise ValueError(f"{where}.integration.instance_values: a mapping of name -> integer is required")
    if not isinstance(endpoints, Mapping):
        raise ValueError(f"{where}.integration.instance_endpoints: a mapping is required")
    tech, sess = data["technician_settings"], data["session"]
    key_columns = sess.get("key_columns")
    if (
        not isinstance(key_columns, list)
        or not key_columns
        or not all(isinstance(c, str) for c in key_columns)
    ):
        raise ValueError(f"{where}.session.key_columns: a non-empty list of column names is required")
    solution = data["solution"]
    return SolutionSchema(
        unique_name=_text(solution, "unique_name", f"{where}.solution"),
        solution_labels=_one_label(solution["labels"], f"{where}.solution.labels")
        if solution.get("labels")
        else {},
        integration=IntegrationSchema(
            **_table_fields(integ, f"{where}.integration"),
            columns=_columns(integ, _INTEGRATION_COLUMNS, f"{where}.integration"),
            instance_values=dict(values),
            instance_endpoints={str(k): str(v) for k, v in endpoints.items()},
        ),
        technician_settings=SettingsSchema(
            **_table_fields(tech, f"{where}.technician_settings"),
            columns=_columns(tech, SETTINGS_COLUMNS, f"{where}.technician_settings"),
            user_lookup=_text(tech, "user_lookup", f"{where}.technician_settings"),
            user_navigation=_text(tech, "user_navigation", f"{where}.technician_settings"),
        ),
        session=SessionSchema(
            **_table_fields(sess, f"{where}.session"),
            columns=_columns(sess, _SESSION_COLUMNS, f"{where}.session"),
            case_lookup=_text(sess, "case_lookup", f"{where}.session"),
            case_navigation=_text(sess, "case_navigation", f"{where}.session"),
            key_logical_name=_text(sess, "key_logical_name", f"{where}.session"),
            key_schema_name=_text(sess, "key_schema_name", f"{where}.session"),
            key_columns=tuple(key_columns),
        ),
        app_id=_text(data["application_user"], "app_id", f"{where}.application_user"),
        app_role=_text(data["application_user"], "role", f"{where}.application_user"),
        export_url=_text(data["rescue"], "export_url", f"{where}.rescue"),
    )
