"""Typed view of ``solution_profile.yaml`` and the merge of tenant overrides into it."""

from __future__ import annotations

import copy
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, create_model

from reconciler.profile.columns import columns_of

_STRICT = ConfigDict(extra="forbid", frozen=True)


class SolutionUniqueName(BaseModel):
    model_config = _STRICT
    unique_name: str = Field(description="Unique name of the solution in the `solutions` table.")


class Columns(BaseModel):
    """A table's column logical names by role; the roles come from ``profile/columns.py``."""

    model_config = _STRICT

    def __getitem__(self, role: str) -> str:
        value = getattr(self, role, None)
        if not isinstance(value, str):
            raise KeyError(role)
        return value


def _columns_model(name: str, section: str) -> type[Columns]:
    """The profile type of a section's ``columns:``: one required text field per role."""
    fields: dict[str, Any] = {
        c.role: (str, Field(description=c.description or None)) for c in columns_of(section)
    }
    return create_model(name, __base__=Columns, **fields)


if TYPE_CHECKING:  # typed by role (`columns["sso_id"]`): the roles are data of the column table
    IntegrationColumns = Columns
    TechnicianSettingsColumns = Columns
    SessionColumns = Columns
else:
    IntegrationColumns = _columns_model("IntegrationColumns", "integration")
    TechnicianSettingsColumns = _columns_model("TechnicianSettingsColumns", "technician_settings")
    SessionColumns = _columns_model("SessionColumns", "session")


class IntegrationProfile(BaseModel):
    model_config = _STRICT
    table: str
    entity_set: str
    id_column: str
    columns: IntegrationColumns
    instance_values: dict[str, int]
    instance_endpoints: dict[str, str]


class TechnicianSettingsProfile(BaseModel):
    model_config = _STRICT
    table: str
    entity_set: str
    id_column: str
    user_lookup: str
    user_navigation: str
    columns: TechnicianSettingsColumns

    @property
    def user_value_column(self) -> str:
        """The read-side column holding the looked-up systemuserid."""
        return f"_{self.user_lookup}_value"


class SessionProfile(BaseModel):
    model_config = _STRICT
    table: str
    entity_set: str
    id_column: str
    key_logical_name: str
    key_schema_name: str
    key_columns: tuple[str, ...]
    columns: SessionColumns
    # Lookup to the case (incident) the session was started from.
    case_lookup: str
    case_navigation: str

    @property
    def case_value_column(self) -> str:
        return f"_{self.case_lookup}_value"


class ApplicationUserProfile(BaseModel):
    model_config = _STRICT
    app_id: str
    role: str


class RescueProfile(BaseModel):
    model_config = _STRICT
    export_url: str


class SolutionProfile(BaseModel):
    """The effective solution profile (defaults with a tenant's overrides merged in)."""

    model_config = _STRICT
    solution: SolutionUniqueName
    integration: IntegrationProfile
    technician_settings: TechnicianSettingsProfile
    session: SessionProfile
    application_user: ApplicationUserProfile
    rescue: RescueProfile


@cache
def _default_text() -> str:
    return resources.files("reconciler.profile").joinpath("solution_profile.yaml").read_text("utf-8")


def default_profile_data() -> dict[str, Any]:
    """The default profile as plain data (a fresh copy each call)."""
    data = yaml.safe_load(_default_text())
    assert isinstance(data, dict)
    return data


@cache
def default_profile() -> SolutionProfile:
    return SolutionProfile.model_validate(default_profile_data())


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Merge ``override`` into a copy of ``base``: mappings recursively, anything else replaced."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def effective_profile(overrides: dict[str, Any] | None) -> SolutionProfile:
    """The default profile with a tenant's overrides merged in (validated)."""
    if not overrides:
        return default_profile()
    return SolutionProfile.model_validate(deep_merge(default_profile_data(), overrides))
