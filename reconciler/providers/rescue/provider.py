"""Rescue as a provider: a table of its kind modules, one call per change (the API has no batch)."""

from __future__ import annotations

from reconciler.providers.contract import KindTable, KindWrites
from reconciler.providers.rescue.groups import GroupWrites
from reconciler.providers.rescue.technicians import TechnicianWrites
from reconciler.providers.rescue.writer import RescueWriter

# One entry per kind module of Rescue: a new kind is one more line here.
WRITES = (GroupWrites, TechnicianWrites)


class RescueProvider(KindTable):
    kinds = frozenset(w.kind for w in WRITES)

    def __init__(self, writer: RescueWriter) -> None:
        self.writer = writer
        entries: list[KindWrites] = [w(writer) for w in WRITES]
        super().__init__(entries)

    def created_ids(self) -> dict[str, str]:
        return self.writer.technician_ids
