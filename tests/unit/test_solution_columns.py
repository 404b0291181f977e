"""The solution's columns are declared once (``profile/columns.py``): the profile types, the
pre-read schema check, ``profile discover`` and the Dataverse mapping all follow that table, so
a column added there is checked, discovered and mapped with no other edit."""

from __future__ import annotations

import dataclasses

import pytest

from reconciler.engine.discover import Discovery, _column
from reconciler.engine.schema_check import _table_names
from reconciler.kinds.integration import IntegrationConfig
from reconciler.kinds.technician_settings import TechnicianSettings
from reconciler.profile import default_profile, default_profile_data
from reconciler.profile.columns import COLUMNS, TABLE_LABELS, Column, columns_of
from reconciler.profile.model import IntegrationColumns, SessionColumns, TechnicianSettingsColumns
from reconciler.providers.dynamics.mapping import mapped_columns, read_values, write_values
from reconciler.providers.dynamics.metadata import AttributeInfo, TableInfo
from reconciler.resources import SecretHasher

PROFILE = default_profile()
SECTIONS = tuple(TABLE_LABELS)


def _table(section: str, attributes: dict[str, AttributeInfo]) -> TableInfo:
    part = getattr(PROFILE, section)
    return TableInfo(part.table, part.table, part.entity_set, part.id_column, {}, attributes, ())


def _attributes(section: str, *, skip: str = "", italian: bool = False) -> dict[str, AttributeInfo]:
    names = getattr(PROFILE, section).columns
    return {
        names[c.role]: AttributeInfo(
            names[c.role], c.types[0], {1040 if italian else 1033: (c.italian or c.english)[0]}
        )
        for c in columns_of(section)
        if c.role != skip
    }


def test_every_role_is_declared_once_with_a_type_and_an_english_label() -> None:
    roles = [(c.section, c.role) for c in COLUMNS]
    assert len(roles) == len(set(roles))
    assert all(c.types and c.english for c in COLUMNS)
    assert {c.section for c in COLUMNS} == set(SECTIONS)


@pytest.mark.parametrize(
    ("section", "model"),
    [
        ("integration", IntegrationColumns),
        ("technician_settings", TechnicianSettingsColumns),
        ("session", SessionColumns),
    ],
)
def test_the_profile_types_and_defaults_name_exactly_the_table_roles(section: str, model: type) -> None:
    roles = {c.role for c in columns_of(section)}
    assert set(model.model_fields) == roles
    assert set(default_profile_data()[section]["columns"]) == roles


def test_the_resources_carry_every_mapped_column() -> None:
    integration = {f.name for f in dataclasses.fields(IntegrationConfig)}
    settings = {f.name for f in dataclasses.fields(TechnicianSettings)}
    assert {c.role for c in mapped_columns("integration")} <= integration
    assert {c.role for c in mapped_columns("technician_settings")} <= settings
    assert "auth_code" not in {c.role for c in mapped_columns("technician_settings")}


@pytest.mark.parametrize("col", COLUMNS, ids=lambda c: f"{c.section}.{c.role}")
def test_the_schema_check_names_each_missing_or_mistyped_column(col: Column) -> None:
    path = f"profile.{col.section}.columns.{col.role}"
    complete = _table(col.section, _attributes(col.section))
    assert [p.path for p in _table_names(f"profile.{col.section}", col.section, PROFILE, complete)] == []
    missing = _table(col.section, _attributes(col.section, skip=col.role))
    problems = _table_names(f"profile.{col.section}", col.section, PROFILE, missing)
    assert [p.path for p in problems] == [path]
    name = PROFILE.model_dump()[col.section]["columns"][col.role]
    wrong = dict(_attributes(col.section))
    wrong[name] = AttributeInfo(name, "Integer")
    problems = _table_names(f"profile.{col.section}", col.section, PROFILE, _table(col.section, wrong))
    assert [(p.path, "is Integer" in p.message) for p in problems] == [(path, True)]


@pytest.mark.parametrize("italian", [False, True])
@pytest.mark.parametrize("col", COLUMNS, ids=lambda c: f"{c.section}.{c.role}")
def test_discover_finds_each_column_by_its_label_and_type(col: Column, italian: bool) -> None:
    discovery = Discovery()
    _column(discovery, _table(col.section, _attributes(col.section, italian=italian)), col)
    name = PROFILE.model_dump()[col.section]["columns"][col.role]
    assert [(m.path, m.value) for m in discovery.matches] == [(f"{col.section}.columns.{col.role}", name)]
    assert discovery.problems == []


def test_the_mapping_reads_and_writes_every_integration_column() -> None:
    names = PROFILE.integration.columns
    samples = {
        "choice": (100000001, "beta"),
        "url": ("HTTPS://Example.COM/", "https://example.com"),
        "guid": ("{AA-BB}", "aa-bb"),
        "text": (" 42 ", "42"),
        "boolean": (True, True),
    }
    row = {names[c.role]: samples[c.value][0] for c in mapped_columns("integration") if c.value in samples}
    hasher = SecretHasher()
    values = read_values({**row, names["sso_password"]: "pw"}, PROFILE, "integration", hasher)
    for c in mapped_columns("integration"):
        if c.value in samples:
            assert values[c.role] == samples[c.value][1], c.role
    assert values["sso_password"] == hasher.sensitive("pw")
    written = write_values(values, PROFILE, "integration", secrets={"sso_password": "pw"})
    assert set(written) == {names[c.role] for c in mapped_columns("integration")}
    assert written[names["instance"]] == 100000001 and written[names["sso_password"]] == "pw"
