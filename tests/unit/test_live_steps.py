"""engine/live.py: the live read in steps. Each step takes values and returns a new reading,
leaving the one it was given as it was; none calls back into its caller; a failed part of a
step cancels the others. (The request counts of the whole read: tests/integration/test_plan_requests.py.)"""

from __future__ import annotations

import ast
import asyncio
import dataclasses
import inspect
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import reconciler.engine
from reconciler.engine import live
from reconciler.engine.live import (
    DetailQuery,
    LiveQuery,
    LiveReading,
    read_details,
    read_directories,
    read_users,
)
from reconciler.errors import AuthError, ProviderError
from reconciler.kinds.rescue_group import RescueGroup
from reconciler.kinds.rescue_technician import RescueTechnician
from reconciler.profile import default_profile
from reconciler.providers.rescue.records import HierarchyResponse
from reconciler.resources import SecretHasher

PROFILE = default_profile()
USERS = {"alice@contoso.com": "a1", "bob@contoso.com": "b2"}


def _node(node: str, parent: str, name: str, type_: str, email: str = "") -> dict[str, str]:
    return {"NODEID": node, "PARENTID": parent, "NAME": name, "TYPE": type_, "EMAIL": email}


class FakeRescue:
    def __init__(self, hierarchy_error: ProviderError | None = None) -> None:
        self.calls: list[str] = []
        self.hierarchy_error = hierarchy_error

    async def get_hierarchy(self) -> HierarchyResponse:
        self.calls.append("getHierarchy_v2")
        await asyncio.sleep(0.01)  # the other parts of the step start meanwhile
        if self.hierarchy_error is not None:
            raise self.hierarchy_error
        blocks = [
            _node("1", "0", "Technicians", "Technicians"),
            _node("2", "1", "Support", "TechnicianGroup"),
            _node("10", "2", "Alice", "Technician", "alice@contoso.com"),
        ]
        return HierarchyResponse(status="OK", blocks=blocks)

    async def get_user(self, *, node: str | None = None, email: str | None = None) -> dict[str, str]:
        self.calls.append(f"getUser_v3 {node}")
        return {"NODEID": str(node), "EMAIL": "alice@contoso.com", "SSOID": "alice.a"}

    async def get_group(self, node: str) -> dict[str, str]:
        self.calls.append(f"getGroup_v2 {node}")
        return {"NODEID": node, "PERMISSIONS": "Chat"}


class FakeDataverse:
    """Every table empty but the users; ``delay`` keeps each listing pending for a while."""

    def __init__(self, delay: float = 0.0) -> None:
        self.calls: list[str] = []
        self.delay = delay
        self.cancelled = 0

    async def list_all(self, path: str, *, filter: str | None = None, **_: Any) -> list[dict[str, Any]]:
        self.calls.append(path)
        try:
            await asyncio.sleep(self.delay)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        if path != "systemusers" or filter is None:
            return []
        upns = re.findall(r"domainname eq '([^']*)'", filter)
        return [{"systemuserid": USERS[u], "domainname": u, "isdisabled": False} for u in upns if u in USERS]


def _session(rescue: FakeRescue | None = None, dataverse: FakeDataverse | None = None) -> Any:
    return SimpleNamespace(rescue=rescue or FakeRescue(), dataverse=dataverse or FakeDataverse(), graph=None)


QUERY = LiveQuery(users=("alice@contoso.com",), rescue_groups=("Support",))
DETAILS = DetailQuery({"rescue_technician": ("10",), "rescue_group": ("Support",)})


def _steps(session: Any) -> tuple[LiveReading, LiveReading, LiveReading]:
    async def run() -> tuple[LiveReading, LiveReading, LiveReading]:
        first = await read_directories(session, PROFILE, SecretHasher(), QUERY)
        more = await read_users(session, first, ["bob@contoso.com"])
        return first, more, await read_details(session, more, DETAILS)

    return asyncio.run(run())


def test_each_step_returns_a_new_reading_and_leaves_the_one_it_was_given() -> None:
    session = _session()
    first, more, full = _steps(session)
    # Step 2 found bob; step 1's reading still does not know him.
    assert first.directories.user("bob@contoso.com").none
    bob = more.directories.user("bob@contoso.com").one
    assert bob is not None and bob.id == "b2"
    assert full.directories.user("alice@contoso.com").one is not None
    # Step 4 read the SSO ID and the permissions; the readings before it did not change.
    technician = full.state().get("rescue_technician", "10")
    assert isinstance(technician, RescueTechnician) and technician.sso_id == "alice.a"
    group = full.state().get("rescue_group", "Support")
    assert isinstance(group, RescueGroup) and group.permissions == ("Chat",)
    for earlier in (first, more):
        assert earlier.state().get("rescue_technician", "10") is None
        assert "rescue_technician" not in earlier.state().listed
        before = earlier.state().get("rescue_group", "Support")
        assert isinstance(before, RescueGroup) and before.permissions is None
    assert session.rescue.calls == ["getHierarchy_v2", "getUser_v3 10", "getGroup_v2 2"]
    assert session.dataverse.calls.count("systemusers") == 2  # alice with the rows, bob after


def test_a_reading_is_a_value() -> None:
    first, _, _ = _steps(_session())
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.consent = first.consent  # type: ignore[misc]


def test_steps_with_nothing_to_read_send_nothing() -> None:
    session = _session(FakeRescue(hierarchy_error=ProviderError("503", service="rescue")))

    async def run() -> tuple[LiveReading, LiveReading, LiveReading]:
        first = await read_directories(session, PROFILE, SecretHasher(), QUERY)
        sent = len(session.dataverse.calls)
        same = await read_users(session, first, [])
        assert len(session.dataverse.calls) == sent
        return first, same, await read_details(session, first, DETAILS)

    first, same, details = asyncio.run(run())
    assert same is first
    assert details is first  # no hierarchy: no technician or group can be named
    assert first.directories.rescue is None and "503" in first.directories.rescue_error
    assert session.rescue.calls == ["getHierarchy_v2"]


def test_a_failed_part_of_a_step_cancels_the_others() -> None:
    dataverse = FakeDataverse(delay=30)  # still pending when the hierarchy is refused
    session = _session(FakeRescue(hierarchy_error=AuthError("refused", service="rescue")), dataverse)

    async def run() -> int:
        with pytest.raises(AuthError):
            await read_directories(session, PROFILE, SecretHasher(), QUERY)
        return dataverse.cancelled  # counted when the step gave up, not when the loop closed

    assert asyncio.run(run()) == len(dataverse.calls) > 0


def test_no_step_calls_back_into_its_caller() -> None:
    """The steps take values (no callable parameter) and the engine edits no state through
    ``nonlocal`` (the planner used to resolve inside the read, by a callback)."""
    for step in (read_directories, read_users, read_details):
        for parameter in inspect.signature(step).parameters.values():
            assert "Callable" not in str(parameter.annotation), (step.__name__, parameter.name)
    assert not [name for name in vars(live) if name.endswith("Picker")]
    engine = Path(reconciler.engine.__file__).parent
    edits = [
        f"{path.name}:{node.lineno}"
        for path in sorted(engine.rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text("utf-8")))
        if isinstance(node, ast.Nonlocal)
    ]
    assert edits == []
