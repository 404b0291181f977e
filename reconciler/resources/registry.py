"""The resource types by kind name, for the layers below the kind modules (octoDNS's
``Record.register_type``).

Each resource type lives in its kind module (``reconciler/kinds/<kind>.py``) and registers itself
here when that module is imported (``@register``); ``reconciler.kinds`` then closes the registry
in its display and apply order (``complete``). The saved-plan reader and schema (``plan/``) and
the plan's per-kind summaries sit below the kind modules and look a type up here by its name at
run time, so they never import a kind module (import-linter's layers).

Whatever decodes or orders kinds runs after ``reconciler.kinds`` was imported (the CLI, the
engine and the test suite import it first); before that every lookup raises
``KindsNotLoaded``: a plan is never decoded against part of the kinds.
"""

from __future__ import annotations

from typing import TypeVar

from reconciler.resources.base import Kind, Resource

R = TypeVar("R", bound=type[Resource])

_TYPES: dict[str, type[Resource]] = {}
_ORDER: list[Kind] = []


class KindsNotLoaded(RuntimeError):
    """A lookup ran before ``reconciler.kinds`` registered every kind (a programming error)."""

    def __init__(self) -> None:
        super().__init__(
            "the resource kinds are not loaded: import reconciler.kinds before decoding or ordering kinds"
        )


def register(cls: R) -> R:
    """Class decorator of a resource type: its kind name -> the type (once per name)."""
    if _ORDER:
        raise TypeError(f"resource type {cls.__name__} registered after the registry was completed")
    known = _TYPES.get(cls.kind)
    if known is not None and known is not cls:
        raise TypeError(f"kind {cls.kind!r} is registered twice ({known.__name__}, {cls.__name__})")
    _TYPES[cls.kind] = cls
    return cls


def complete(order: tuple[Kind, ...]) -> None:
    """Close the registry in ``order`` (``reconciler.kinds.REGISTRY``'s): every registered type
    is in it and every kind in it is registered, else ``TypeError`` (the import fails)."""
    if tuple(_ORDER) == order:
        return
    if _ORDER or len(set(order)) != len(order) or set(order) != set(_TYPES):
        raise TypeError(
            f"the kind modules {order} and the registered resource types {tuple(_TYPES)} disagree"
        )
    _ORDER.extend(order)


def kinds() -> tuple[Kind, ...]:
    """Every kind name, in display and apply order."""
    if not _ORDER:
        raise KindsNotLoaded
    return tuple(_ORDER)


def resource_types() -> tuple[type[Resource], ...]:
    """Every resource type, in display and apply order."""
    return tuple(_TYPES[kind] for kind in kinds())


def resource_type(kind: str) -> type[Resource] | None:
    """The resource type of ``kind`` (None when no such kind exists)."""
    kinds()
    return _TYPES.get(kind)
