"""Several configuration rows: nobody can tell which one the integration uses, so none is chosen
(issue 16: ambiguity is Unknown, never "the most recently modified")."""

from __future__ import annotations

import asyncio
from typing import Any

from reconciler.config.models import Prune
from reconciler.diff import DesiredState, diff_tenant
from reconciler.kinds.integration import IntegrationConfig
from reconciler.plan import SafetySettings, UnknownChange
from reconciler.profile import default_profile
from reconciler.providers.dynamics.integration import IntegrationRead
from reconciler.providers.dynamics.reading import DynamicsLive, DynamicsQuery, ReadContext
from reconciler.resources import SecretHasher

PROFILE = default_profile()


class Rows:
    """The one call the read makes: the configuration table's rows."""

    def __init__(self, *ids: str) -> None:
        self.rows = [
            {PROFILE.integration.id_column: i, "modifiedon": f"2026-0{n + 1}-01"} for n, i in enumerate(ids)
        ]

    async def list_all(self, entity_set: str, **query: Any) -> list[dict[str, Any]]:
        assert entity_set == PROFILE.integration.entity_set
        return self.rows


def read(*ids: str) -> DynamicsLive:
    live = DynamicsLive()
    context = ReadContext(Rows(*ids), PROFILE, SecretHasher())  # type: ignore[arg-type]
    asyncio.run(IntegrationRead.read(context, live, DynamicsQuery(integration=True)))
    return live


def test_two_configuration_rows_are_unknown_naming_both_and_nothing_is_planned() -> None:
    live = read("row-b", "row-a")
    assert live.state.of_kind("integration") == []
    [unknown] = live.state.unknown
    assert "2 integration configuration rows (row-a, row-b)" in unknown.reason
    plan = diff_tenant(
        "t",
        DesiredState(resources=[IntegrationConfig(company_id="42")]),
        live.state,
        prune=Prune(),
        entra_tenant_id="6c1f4d5e-2a7b-4c1d-9e3f-0a1b2c3d4e5f",
        desired_digest="d",
        safety=SafetySettings(),
    )
    assert [type(c) for c in plan.changes] == [UnknownChange]  # no create, no update of either row


def test_one_configuration_row_is_the_live_configuration() -> None:
    live = read("row-a")
    [config] = live.state.of_kind("integration")
    assert config.meta.id == "row-a" and live.state.unknown == []


def test_no_configuration_row_is_listed_as_missing() -> None:
    live = read()
    assert live.state.of_kind("integration") == [] and live.state.unknown == []
    assert "integration" in live.state.listed
