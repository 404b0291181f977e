"""Dynamics as a provider: settings rows together in ``$batch`` requests, every other change
one at a time (concurrently), before the batch."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from reconciler.errors import ChangeFailed, ReconcileError
from reconciler.plan import Action, Change, Outcome
from reconciler.providers.contract import apply_each, failure_reason
from reconciler.providers.dynamics.writer import DynamicsWriter

_BATCHED = "technician"  # settings rows: one $batch for all of them


class DynamicsProvider:
    kinds = frozenset({"solution", "integration", "application_user", "session_key", _BATCHED})

    def __init__(self, writer: DynamicsWriter, *, session_key_wait: float) -> None:
        self.writer = writer
        self.session_key_wait = session_key_wait

    async def apply_many(self, changes: Sequence[Change], created: Mapping[str, str]) -> list[Outcome]:
        outcomes = await apply_each([c for c in changes if c.kind != _BATCHED], self._one)
        rows = [c for c in changes if c.kind == _BATCHED]
        if rows:
            try:
                outcomes += await self.writer.settings(rows, created)
            except ReconcileError as exc:
                outcomes += [Outcome(c.id, "failed", failure_reason(exc)) for c in rows]
        return outcomes

    def created_ids(self) -> dict[str, str]:
        return {}

    async def _one(self, change: Change) -> str:
        if change.kind == "solution" and isinstance(change, Action):
            return await self.writer.import_solution(change)
        if change.kind == "session_key" and isinstance(change, Action):
            return await self.writer.repair_session_key(change, self.session_key_wait)
        if change.kind == "integration":
            return await self.writer.integration(change)
        if change.kind == "application_user":
            return await self.writer.application_user(change, None)
        raise ChangeFailed(f"no way to apply {change.op} of {change.kind}")
