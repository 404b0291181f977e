"""Live state as the providers read it: resources, what could not be read, and facts."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from reconciler.resources.base import Kind, Resource, Unknown


@dataclass
class LiveState:
    """Everything read from one tenant's live services.

    ``listed`` names the kinds whose complete listing succeeded: only for those does absence
    mean "does not exist". Anything in ``unknown`` is never turned into a create or delete.
    """

    resources: dict[tuple[str, str], Resource] = field(default_factory=dict)
    unknown: list[Unknown] = field(default_factory=list)
    listed: set[Kind] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)
    # Drift apply cannot repair (e.g. a nameless Rescue technician a failed create left): shown
    # by plan and drift, each text with its own label ("health: ...", "Rescue: ...").
    findings: list[str] = field(default_factory=list)
    facts: dict[str, str] = field(default_factory=dict)
    # Live objects of which one key names several (the settings rows of Dynamics users sharing a
    # UPN): none of them is *the* object of that key; a kind's comparison picks one by identity
    # (its owner), never by order, and none is ever unmanaged-deleted by guess.
    shared: dict[tuple[str, str], tuple[Resource, ...]] = field(default_factory=dict)

    def add(self, resource: Resource) -> None:
        self.resources[resource.ident] = resource

    def get(self, kind: Kind, key: str) -> Resource | None:
        return self.resources.get((kind, key))

    def current(self, kind: Kind, key: str, read: Resource | None) -> Resource | None:
        """The object of ``(kind, key)`` now: the one of the key, else, when the key names
        several (``shared``), the one with the ID of ``read`` (the object as read before)."""
        found = self.get(kind, key)
        if found is None and read is not None and read.meta.id:
            found = next((r for r in self.shared.get((kind, key), ()) if r.meta.id == read.meta.id), None)
        return found

    def of_kind(self, kind: Kind) -> list[Resource]:
        return [r for (k, _), r in self.resources.items() if k == kind]

    def every(self, kind: Kind) -> list[Resource]:
        """Every live object of ``kind``, those whose key names several (``shared``) too: what
        is there, whoever it belongs to (health's mapped technicians), not what a key names."""
        return self.of_kind(kind) + [r for (k, _), rows in self.shared.items() if k == kind for r in rows]

    def unknown_for(self, kind: Kind, key: str) -> Unknown | None:
        """Why (kind, key) is unknown, or None when its live state is known."""
        for item in self.unknown:
            if item.kind == kind and item.key in ("*", key):
                return item
        if kind not in self.listed and (kind, key) not in self.resources:
            return Unknown(kind, key, f"{kind} was not read")
        return None

    def counts(self) -> dict[str, int]:
        return dict(Counter(k for k, _ in self.resources))

    def merge(self, other: LiveState) -> None:
        self.resources.update(other.resources)
        self.unknown.extend(other.unknown)
        self.listed |= other.listed
        self.notes.extend(other.notes)
        self.findings.extend(other.findings)
        self.facts.update(other.facts)
        self.shared.update(other.shared)
