"""The resource types by kind, for the layers below the kind modules.

The registry of kinds (titles, dependencies, comparison, export) is ``reconciler/kinds/``, one
module per kind. The saved-plan reader (``plan/``) sits below it and needs only each kind's
resource type, in the same order (``resources/kinds.py:RESOURCE_TYPES``); ``reconciler.kinds``
refuses to import when the two disagree.
"""

from __future__ import annotations

from reconciler.resources.base import Kind, Resource
from reconciler.resources.kinds import RESOURCE_TYPES

KINDS: tuple[Kind, ...] = tuple(t.kind for t in RESOURCE_TYPES)
_BY_KIND: dict[str, type[Resource]] = {t.kind: t for t in RESOURCE_TYPES}


def resource_type(kind: str) -> type[Resource] | None:
    """The resource type of ``kind`` (None when no such kind exists)."""
    return _BY_KIND.get(kind)
