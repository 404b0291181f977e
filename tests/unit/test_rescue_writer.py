"""RescueWriter after a lost create reply: adopt the one node it made, re-create when none, stop when unclear."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from reconciler.errors import ChangeFailed
from reconciler.kinds.rescue_group import RescueGroup
from reconciler.plan import Create
from reconciler.providers.rescue.groups import GroupWrites
from reconciler.providers.rescue.records import HierarchyResponse
from reconciler.providers.rescue.writer import RescueWriter
from reconciler.providers.retry import ClientTransportError

ROOT = {"NODEID": "1", "PARENTID": "0", "NAME": "Technicians", "TYPE": "Technicians"}


class FakeRescue:
    """Hierarchy reads and group calls; the first createGroup 'loses its reply' after making `made` nodes."""

    def __init__(self, made: int) -> None:
        self.nodes: list[dict[str, str]] = [ROOT]
        self.made = made
        self.creates = 0
        self.named: dict[str, str] = {}

    async def get_hierarchy(self) -> HierarchyResponse:
        return HierarchyResponse("OK", list(self.nodes))

    def _new(self, parent: str) -> str:
        node = str(100 + len(self.nodes))
        self.nodes.append(
            {"NODEID": node, "PARENTID": parent, "NAME": "New Group", "TYPE": "TechnicianGroup"}
        )
        return node

    async def create_group(self, parent: str) -> str:
        self.creates += 1
        if self.creates == 1:
            for _ in range(self.made):
                self._new(parent)
            raise ClientTransportError(
                "POST createGroup: connection lost before the reply", maybe_applied=True
            )
        return self._new(parent)

    async def set_group(self, node: str, name: str, **_: Any) -> None:
        self.named[node] = name


def run(made: int) -> tuple[str, FakeRescue]:
    fake = FakeRescue(made)
    writer = RescueWriter(fake)  # type: ignore[arg-type]
    change = Create("rescue_group", "Support", (), desired=RescueGroup(path="Support"))
    return asyncio.run(GroupWrites(writer).apply_one(change)), fake


def test_the_node_a_lost_reply_made_is_adopted_not_made_twice() -> None:
    message, fake = run(made=1)
    assert fake.creates == 1 and fake.named == {"101": "Support"}
    assert message.startswith("created (node 101)")


def test_a_create_that_never_arrived_is_sent_again() -> None:
    _, fake = run(made=0)
    assert fake.creates == 2 and list(fake.named.values()) == ["Support"]


def test_several_new_unnamed_nodes_are_not_guessed_between() -> None:
    with pytest.raises(ChangeFailed, match="several new unnamed nodes under 1"):
        run(made=2)
