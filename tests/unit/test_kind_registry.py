"""The registry of kinds is the one list: it matches the Kind names and orders dependencies first."""

from typing import get_args

from reconciler.resources import KINDS, REGISTRY, Kind, kind_title, resource_type
from reconciler.resources.base import Resource


def test_registry_lists_every_kind_once() -> None:
    assert sorted(KINDS) == sorted(get_args(Kind))
    assert len(set(KINDS)) == len(KINDS)


def test_every_kind_comes_after_what_it_depends_on() -> None:
    position = {kind: i for i, kind in enumerate(KINDS)}
    for info in REGISTRY:
        assert all(position[dep] < position[info.name] for dep in info.depends_on), info.name


def test_lookup_by_kind_name() -> None:
    assert kind_title("technician") == "technician settings"
    assert kind_title("nonsense") == "nonsense"
    found = resource_type("rescue_group")
    assert found is not None and issubclass(found, Resource) and found.kind == "rescue_group"
    assert resource_type("nonsense") is None
