"""Issue 4 / DESIGN §4: reads cost O(pages), not O(objects), counted from the sandbox's request log.

One tenant with 5,000 technicians (a generated seed, 20 % of them drifted so that more than a
few users lack a settings row and must be looked up). Dataverse: each table costs at most
⌈rows / 5,000⌉ pages (plus the empty page that follows an exactly full one), plus a constant
for the singleton reads. Rescue: one hierarchy call, then one ``getUser_v3`` per mapped
technician (the API has no bulk read of SSO IDs), and nothing else.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from reconciler.profile import default_profile
from rescue_sandbox import SandboxHandle, generate, running_sandbox

from .conftest import invoke

pytestmark = pytest.mark.integration

TECHNICIANS = 5_000
PAGE = 5_000
TENANT = "tenant001"
# Reads whose number does not grow with the tables: solution, configuration row, business units,
# application user, its roles, the key's metadata, its index job (7), plus either up to 5 lookups
# of users by name (40 per `or` filter, below 200 users) or the empty page after a full one.
CONSTANT = 12


@dataclass
class Scale:
    handle: SandboxHandle
    tenants: Path
    drift: dict[str, int]
    plan: dict[str, Any]
    log: dict[str, Any]


@pytest.fixture(scope="module")
def scale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scale]:
    out = tmp_path_factory.mktemp("scale")
    drift = generate(out, tenants=1, technicians=TECHNICIANS, drift=0.2, rng_seed=4)["drift"]
    with running_sandbox(out / "seed.yaml") as handle:
        run = invoke("plan", str(out / "tenants"), "--sandbox", str(handle.state_dir), "--format", "json")
        assert run.code == 0, run.stderr
        log = handle.sandbox.requests.summary(tenant=TENANT)
        yield Scale(handle, out / "tenants", drift, json.loads(run.stdout), log)


def _counts(log: dict[str, Any], service: str) -> dict[tuple[str, str], int]:
    return {(c["method"], c["template"]): c["count"] for c in log["counts"] if c["service"] == service}


def _pages(rows: int) -> int:
    return math.ceil(rows / PAGE) + (1 if rows and rows % PAGE == 0 else 0)


def test_the_plan_is_complete_and_shows_exactly_the_generated_drift(scale: Scale) -> None:
    tenant = scale.plan["tenants"][0]
    assert not tenant["error"] and not tenant["incomplete"], tenant["error"] or tenant["problems"]
    totals = scale.plan["totals"]
    drift = scale.drift
    assert totals["create"] == drift.get("missing_row", 0)
    assert totals["update"] == (
        drift.get("dynamics_sso_id", 0)
        + drift.get("technician_id", 0)
        + drift.get("rescue_sso_id", 0)
        + (1 if drift.get("option") else 0)
    )
    assert totals["delete"] == 0 and totals["unknown"] == 0
    assert drift.get("missing_row", 0) > 200  # so the users are listed in pages, not looked up by name


def test_dataverse_reads_cost_pages_not_rows(scale: Scale) -> None:
    profile = default_profile()
    settings_rows = TECHNICIANS - scale.drift.get("missing_row", 0)
    user_rows = TECHNICIANS  # interactive users; the application user is read by its own filter
    counts = _counts(scale.log, "dataverse")
    assert {method for method, _ in counts} == {"GET"}  # a plan never writes
    tables = {template: n for (_, template), n in counts.items()}
    assert tables[f"/{profile.technician_settings.entity_set}"] <= _pages(settings_rows)
    assert tables["/systemusers"] <= 1 + _pages(user_rows)
    assert not any(t.startswith("/systemusers({") and "association" not in t for t in tables)
    total = sum(counts.values())
    assert total <= math.ceil(settings_rows / PAGE) + math.ceil(user_rows / PAGE) + CONSTANT, tables


def test_rescue_reads_are_one_hierarchy_and_one_read_per_mapped_technician(scale: Scale) -> None:
    mapped = TECHNICIANS  # every generated technician is mapped and has an SSO ID
    assert _counts(scale.log, "rescue") == {
        ("POST", "getHierarchy_v2.aspx"): 1,
        ("POST", "getUser_v3.aspx"): mapped,
    }


def test_the_plan_reports_the_requests_the_sandbox_saw(scale: Scale) -> None:
    requests = scale.plan["tenants"][0]["requests"]
    for service in ("dataverse", "rescue"):
        assert requests[service]["requests"] == sum(_counts(scale.log, service).values())
        assert requests[service]["retries"] == 0
