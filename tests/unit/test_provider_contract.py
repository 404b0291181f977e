"""The provider contract's shared part: one failing change never stops the others."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

import pytest

from reconciler.errors import ChangeFailed
from reconciler.kinds import KINDS
from reconciler.kinds.consent import Consent
from reconciler.kinds.rescue_group import RescueGroup
from reconciler.kinds.rescue_technician import RescueTechnician
from reconciler.plan import Change, Create, Outcome
from reconciler.providers.contract import KindTable, WritesEach, WritesTogether, apply_each
from reconciler.providers.dynamics.provider import DynamicsProvider
from reconciler.providers.rescue.provider import RescueProvider


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


class _Each(WritesEach):
    kind = "rescue_group"

    async def apply_one(self, change: Change) -> str:
        if change.key == "bad":
            raise ChangeFailed("refused")
        return "created"


class _Together(WritesTogether):
    kind = "rescue_technician"

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.groups: list[list[str]] = []

    async def apply_group(self, changes: Sequence[Change], created: Mapping[str, str]) -> list[Outcome]:
        self.groups.append([c.key for c in changes])
        if self.fail:
            raise ChangeFailed("the batch was refused")
        return [Outcome(c.id, "done", f"batched with {created['new:x']}") for c in changes]


def _technician(node: str) -> Create:
    return Create("rescue_technician", node, (), desired=RescueTechnician(technician_id=node))


def test_a_kind_table_hands_each_kind_its_changes_and_fails_what_no_module_writes() -> None:
    together = _Together()
    table = KindTable([_Each(), together])
    changes = [_create("ok"), _technician("7"), _create("bad"), _technician("8"), _consent()]
    outcomes = asyncio.run(table.apply_many(changes, {"new:x": "9"}))
    assert [(o.change_id, o.status, o.message) for o in outcomes] == [
        ("rescue_group:ok", "done", "created"),
        ("rescue_group:bad", "failed", "refused"),
        ("rescue_technician:7", "done", "batched with 9"),
        ("rescue_technician:8", "done", "batched with 9"),
        ("consent:app", "failed", "no way to apply create of consent"),
    ]
    assert together.groups == [["7", "8"]]  # one group for the whole wave


def test_a_refused_group_fails_each_of_its_changes_and_no_other() -> None:
    table = KindTable([_Each(), _Together(fail=True)])
    outcomes = asyncio.run(table.apply_many([_technician("7"), _create("ok"), _technician("8")], {}))
    assert {(o.change_id, o.status, o.message) for o in outcomes} == {
        ("rescue_group:ok", "done", "created"),
        ("rescue_technician:7", "failed", "the batch was refused"),
        ("rescue_technician:8", "failed", "the batch was refused"),
    }


def test_a_kind_table_refuses_two_modules_for_one_kind() -> None:
    with pytest.raises(ValueError, match="two write modules for kind 'rescue_group'"):
        KindTable([_Each(), _Each()])


def _consent() -> Create:
    return Create("consent", "app", (), desired=Consent(app_id="app", granted=True))
