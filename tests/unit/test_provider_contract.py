"""The provider contract's shared part: one failing change never stops the others."""

from __future__ import annotations

import asyncio

from reconciler.errors import ChangeFailed
from reconciler.plan import Change, Create
from reconciler.providers.contract import apply_each
from reconciler.providers.dynamics.provider import DynamicsProvider
from reconciler.providers.rescue.provider import RescueProvider
from reconciler.resources import KINDS, RescueGroup


def _create(path: str) -> Create:
    return Create("rescue_group", path, (), desired=RescueGroup(path=path))


def test_apply_each_records_one_outcome_per_change() -> None:
    async def apply_one(change: Change) -> str:
        if change.key == "bad":
            raise ChangeFailed("refused")
        if change.key == "odd":
            raise ValueError("surprise")
        return "created"

    outcomes = asyncio.run(apply_each([_create("ok"), _create("bad"), _create("odd")], apply_one))
    assert [(o.change_id, o.status, o.message) for o in outcomes] == [
        ("rescue_group:ok", "done", "created"),
        ("rescue_group:bad", "failed", "refused"),
        ("rescue_group:odd", "failed", "ValueError: surprise"),
    ]


def test_every_written_kind_has_exactly_one_provider() -> None:
    dynamics, rescue = DynamicsProvider.kinds, RescueProvider.kinds
    assert not dynamics & rescue
    assert dynamics | rescue | {"consent"} == set(KINDS)  # consent is a manual step, never written
