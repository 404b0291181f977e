"""The kinds: one pure module per kind (STYLE 14), and the registry that lists them.

``REGISTRY`` is the one list of what the reconciler manages, in display and apply order (every
kind after the kinds it depends on). Everything that needs "every kind" reads it, or
``reconciler.resources.kinds()`` below this layer, which importing this package completes.
Each kind's resource type lives in its kind module: import it from there
(``from reconciler.kinds.rescue_group import RescueGroup``), so this module names no kind.
"""

from __future__ import annotations

from reconciler.kinds import (
    application_user,
    consent,
    integration,
    rescue_group,
    rescue_technician,
    session_key,
    solution,
    technician_settings,
)
from reconciler.kinds.base import (
    ANY_KEY,
    Comparison,
    DesiredContext,
    ExportContext,
    ResourceKind,
    field_changes,
    field_coverage_problems,
)
from reconciler.resources import Kind, Resource
from reconciler.resources.registry import complete

REGISTRY: tuple[ResourceKind, ...] = (
    solution.KIND,
    integration.KIND,
    application_user.KIND,
    session_key.KIND,
    rescue_group.KIND,
    rescue_technician.KIND,
    technician_settings.KIND,
    consent.KIND,
)

BY_NAME: dict[str, ResourceKind] = {kind.name: kind for kind in REGISTRY}

# Every kind's name, in the registry's order.
KINDS: tuple[Kind, ...] = tuple(BY_NAME)


def _check_registry() -> None:
    """Every dependency comes first, and the resource types registered by the kind modules are
    exactly the registry's, closed in its order (``resources/registry.py``, where the plan layer
    looks them up): a mismatch fails the import."""
    names = tuple(kind.name for kind in REGISTRY)
    for position, kind in enumerate(REGISTRY):
        for dependency in kind.depends_on:
            if dependency not in names[:position]:
                raise TypeError(f"kind {kind.name} depends on {dependency}, which does not come before it")
    complete(names)


_check_registry()


def kind_of(name: str) -> ResourceKind:
    """The kind module of ``name`` (KeyError for a name no kind has)."""
    return BY_NAME[name]


def kind_title(kind: str) -> str:
    """How a kind reads in plans and reports (the kind itself when unknown)."""
    info = BY_NAME.get(kind)
    return info.title if info is not None else kind


def kind_label(kind: str, resource: Resource) -> str | None:
    """What the key alone does not say about ``resource`` (``ResourceKind.label``)."""
    info = BY_NAME.get(kind)
    return info.label(resource) if info is not None else None


# Kinds whose comparison can end in a manual step (the fleet checklist's "steps not known").
MANUAL_STEP_KINDS: frozenset[Kind] = frozenset(kind.name for kind in REGISTRY if kind.manual_steps)

__all__ = [
    "ANY_KEY",
    "BY_NAME",
    "KINDS",
    "MANUAL_STEP_KINDS",
    "REGISTRY",
    "Comparison",
    "DesiredContext",
    "ExportContext",
    "ResourceKind",
    "field_changes",
    "field_coverage_problems",
    "kind_label",
    "kind_of",
    "kind_title",
]
