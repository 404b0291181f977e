"""The contract between the applier and a provider, in the spirit of octoDNS's apply.

A provider names the kinds it writes and applies a group of ready changes at once (so it may
batch them, as Dataverse does for settings rows), returning one outcome per change. IDs it
creates for placeholders (``new:<email>`` -> a Rescue node ID) are shared with the others
through ``created``, a live view over every provider's ``created_ids()``.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import ClassVar, Protocol

from reconciler.errors import OperationRunning, ReconcileError
from reconciler.plan import Change, Outcome


class Provider(Protocol):
    kinds: frozenset[str]

    async def apply_many(self, changes: Sequence[Change], created: Mapping[str, str]) -> list[Outcome]:
        """One outcome per change; a change that fails never stops the others."""
        ...

    def created_ids(self) -> dict[str, str]:
        """Placeholder key -> ID created for it in this run (kept up to date while applying)."""
        ...


def failure_reason(exc: BaseException) -> str:
    """What an outcome says about an exception (errors of the tree carry safe messages)."""
    if isinstance(exc, ReconcileError):
        return exc.message
    return f"{type(exc).__name__}: {exc}"


async def apply_each(
    changes: Sequence[Change], apply_one: Callable[[Change], Awaitable[str]]
) -> list[Outcome]:
    """Apply independent changes concurrently, one call each; an exception fails only its change."""
    results = await asyncio.gather(*(apply_one(c) for c in changes), return_exceptions=True)
    outcomes = []
    for change, result in zip(changes, results, strict=True):
        if isinstance(result, BaseException):
            if not isinstance(result, Exception):
                raise result
            # A wait for a running operation that ran out: the change may still happen.
            unknown = isinstance(result, OperationRunning)
            outcomes.append(Outcome(change.id, "unknown" if unknown else "failed", failure_reason(result)))
        else:
            outcomes.append(Outcome(change.id, "done", result))
    return outcomes


class KindWrites(ABC):
    """One kind's writes in its provider (the Create/Update/Delete of a Terraform resource).

    ``kind`` names the kind it writes; a provider is a table of these (``KindTable``).
    """

    kind: ClassVar[str]


class WritesEach(KindWrites):
    """A kind whose API takes one change per call: the provider runs them concurrently."""

    @abstractmethod
    async def apply_one(self, change: Change) -> str:
        """Apply one change; what was done, or an exception (it fails only this change)."""


class WritesTogether(KindWrites):
    """A kind whose changes go together (a ``$batch``): the provider hands it all of a wave's."""

    @abstractmethod
    async def apply_group(self, changes: Sequence[Change], created: Mapping[str, str]) -> list[Outcome]:
        """One outcome per change; ``created`` maps placeholders to IDs created in this run."""


class KindTable:
    """A provider's apply, built from its table of kind modules (one entry per kind).

    The changes of the kinds written one call each run concurrently, then each kind whose
    changes go together gets its share at once; a change of a kind the table lacks fails.
    """

    def __init__(self, writes: Sequence[KindWrites]) -> None:
        self.by_kind: dict[str, KindWrites] = {}
        for entry in writes:
            if entry.kind in self.by_kind:
                raise ValueError(f"two write modules for kind {entry.kind!r}")
            self.by_kind[entry.kind] = entry

    async def apply_many(self, changes: Sequence[Change], created: Mapping[str, str]) -> list[Outcome]:
        each = [c for c in changes if isinstance(self.by_kind.get(c.kind), WritesEach)]
        outcomes = await apply_each(each, self._one)
        for entry in self.by_kind.values():
            group = [c for c in changes if c.kind == entry.kind]
            if group and isinstance(entry, WritesTogether):
                try:
                    outcomes += await entry.apply_group(group, created)
                except ReconcileError as exc:
                    outcomes += [Outcome(c.id, "failed", failure_reason(exc)) for c in group]
        for change in changes:
            if change.kind not in self.by_kind:
                outcomes.append(Outcome(change.id, "failed", f"no way to apply {change.op} of {change.kind}"))
        return outcomes

    async def _one(self, change: Change) -> str:
        entry = self.by_kind[change.kind]
        assert isinstance(entry, WritesEach)
        return await entry.apply_one(change)
