"""The closed set of immutable changes a plan is made of (STYLE 3).

``Create`` / ``Update`` / ``Delete`` act on one resource; ``Action`` is a remediation (import a
solution, repair the session key); ``Manual`` is a step only a person can do (Admin Center
settings, admin consent); ``UnknownChange`` marks an object whose live state could not be
read: it blocks apply of that object and is never turned into a create or a delete.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from reconciler.resources import Kind, Resource

Op = Literal["create", "update", "delete", "action", "manual", "unknown"]
OPS: tuple[Op, ...] = ("create", "update", "delete", "action", "manual", "unknown")


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One field-level difference: ``path`` within the resource, old (live) and new (desired)."""

    path: str
    old: Any
    new: Any
    sensitive: bool = False


@dataclass(frozen=True, slots=True)
class Change:
    """Base of every change. ``depends_on`` holds the ids of changes that must succeed first."""

    op: ClassVar[Op]
    kind: Kind
    key: str
    depends_on: tuple[str, ...]

    @property
    def id(self) -> str:
        return f"{self.kind}:{self.key}"

    @property
    def is_change(self) -> bool:
        """True for changes that apply would carry out (manual and unknown are not)."""
        return self.op in ("create", "update", "delete", "action")

    def planned_version(self) -> str:
        """The live object's ETag or content hash as read at plan time ('' when absent)."""
        return ""


@dataclass(frozen=True, slots=True)
class Create(Change):
    op: ClassVar[Op] = "create"
    desired: Resource


@dataclass(frozen=True, slots=True)
class Update(Change):
    op: ClassVar[Op] = "update"
    desired: Resource
    live: Resource
    items: tuple[FieldChange, ...]

    def planned_version(self) -> str:
        return self.live.live_version()


@dataclass(frozen=True, slots=True)
class Delete(Change):
    op: ClassVar[Op] = "delete"
    live: Resource

    def planned_version(self) -> str:
        return self.live.live_version()


ActionName = Literal["import_solution", "repair_session_key"]


@dataclass(frozen=True, slots=True)
class Action(Change):
    op: ClassVar[Op] = "action"
    name: ActionName
    desired: Resource
    live: Resource | None
    reason: str
    steps: tuple[str, ...]

    def planned_version(self) -> str:
        if self.live is None:
            return ""
        return self.live.live_version()


@dataclass(frozen=True, slots=True)
class Manual(Change):
    """A step only a person can do; listed as a checklist, never by itself a "change"."""

    op: ClassVar[Op] = "manual"
    title: str
    reason: str
    steps: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class UnknownChange(Change):
    op: ClassVar[Op] = "unknown"
    reason: str
