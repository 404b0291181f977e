"""The permission names each setGroup method takes, read from ``permissions.yaml``.

The file holds the lists as the Rescue API reference's pages give them; a name the called
version does not list is refused (the docs are silent on what Rescue does then: the stricter
reading). The sandbox keeps this knowledge apart from the product's: a name both got wrong the
same way would pass every test.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from typing import Any

import yaml

METHODS = ("setGroup", "setGroup_v2")


def parse_permissions(data: Any, source: str) -> dict[str, tuple[str, ...]]:
    """Each setGroup method's permission names; ValueError names what in ``source`` is wrong."""
    if not isinstance(data, Mapping) or sorted(data) != sorted(METHODS):
        raise ValueError(f"{source}: a mapping with exactly the keys {', '.join(METHODS)}")
    lists: dict[str, tuple[str, ...]] = {}
    for method in METHODS:
        names = data[method]
        if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
            raise ValueError(f"{source}: {method}: a non-empty list of permission names")
        if len(set(names)) != len(names):
            raise ValueError(f"{source}: {method}: a name is listed twice")
        lists[method] = tuple(names)
    return lists


def _load() -> dict[str, tuple[str, ...]]:
    text = resources.files(__package__).joinpath("permissions.yaml").read_text("utf-8")
    return parse_permissions(yaml.safe_load(text), "permissions.yaml")


SET_GROUP_PERMISSIONS: Mapping[str, tuple[str, ...]] = _load()
