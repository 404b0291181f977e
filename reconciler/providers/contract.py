"""The contract between the applier and a provider, in the spirit of octoDNS's apply.

A provider names the kinds it writes and applies a group of ready changes at once (so it may
batch them, as Dataverse does for settings rows), returning one outcome per change. IDs it
creates for placeholders (``new:<email>`` -> a Rescue node ID) are shared with the others
through ``created``, a live view over every provider's ``created_ids()``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Protocol

from reconciler.errors import ReconcileError
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
            outcomes.append(Outcome(change.id, "failed", failure_reason(result)))
        else:
            outcomes.append(Outcome(change.id, "done", result))
    return outcomes
