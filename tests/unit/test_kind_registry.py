"""The registry of kinds is the one list: it matches the Kind names and orders dependencies first."""

from typing import get_args

from reconciler.config.models import Tenant
from reconciler.kinds import BY_NAME, MANUAL_STEP_KINDS, REGISTRY, kind_of, kind_title
from reconciler.resources import KINDS, RESOURCE_TYPES, Kind, resource_type
from reconciler.resources.base import Resource


def test_registry_lists_every_kind_once() -> None:
    assert sorted(KINDS) == sorted(get_args(Kind))
    assert len(set(KINDS)) == len(KINDS)
    assert tuple(kind.name for kind in REGISTRY) == KINDS
    assert tuple(kind.type for kind in REGISTRY) == RESOURCE_TYPES


def test_every_kind_comes_after_what_it_depends_on() -> None:
    position = {kind: i for i, kind in enumerate(KINDS)}
    for kind in REGISTRY:
        assert all(position[dep] < position[kind.name] for dep in kind.depends_on), kind.name


def test_lookup_by_kind_name() -> None:
    assert kind_title("technician") == "technician settings"
    assert kind_title("nonsense") == "nonsense"
    assert kind_of("consent") is BY_NAME["consent"]
    found = resource_type("rescue_group")
    assert found is not None and issubclass(found, Resource) and found.kind == "rescue_group"
    assert resource_type("nonsense") is None


def test_sections_are_tenant_file_keys() -> None:
    sections = [kind.section for kind in REGISTRY if kind.section is not None]
    assert len(set(sections)) == len(sections)
    assert set(sections) <= set(Tenant.model_fields)


def test_manual_step_kinds_come_from_the_kind_modules() -> None:
    assert {"rescue_group", "consent", "solution", "session_key"} == MANUAL_STEP_KINDS
