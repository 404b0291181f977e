"""Rescue as a provider: groups and technicians, one call each (the API has no batch)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from reconciler.errors import ChangeFailed
from reconciler.plan import Change, Outcome, Update
from reconciler.providers.contract import apply_each
from reconciler.providers.rescue.writer import RescueWriter


class RescueProvider:
    kinds = frozenset({"rescue_group", "rescue_technician"})

    def __init__(self, writer: RescueWriter) -> None:
        self.writer = writer

    async def apply_many(self, changes: Sequence[Change], created: Mapping[str, str]) -> list[Outcome]:
        return await apply_each(changes, self._one)

    def created_ids(self) -> dict[str, str]:
        return self.writer.technician_ids

    async def _one(self, change: Change) -> str:
        if change.kind == "rescue_group":
            if isinstance(change, Update):
                return await self.writer.group_permissions(change)
            return await self.writer.create_group(change)
        if change.kind == "rescue_technician":
            return await self.writer.technician(change)
        raise ChangeFailed(f"no way to apply {change.op} of {change.kind}")
