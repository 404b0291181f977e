"""The fleet: separate axes, the worst-of state, history (trends, drift and manual step ages),
and the same counts in the summary, the rows, the JSON and the CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import pytest
from report_factory import KINDS, NOW, T0, generate

from reconciler.report.fleet import STATES, Fleet, build_fleet
from reconciler.report.reader import read_results
from reconciler.report.runs import GroupPoint, Run, TenantRecord
from reconciler.report.table import fleet_csv, fleet_data, safe_cell


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> tuple[Fleet, dict[str, str]]:
    generated = generate(tmp_path_factory.mktemp("results"), 60)
    runs, errors = read_results(generated.files)
    assert not errors
    return build_fleet(runs, now=NOW), generated.kinds


def test_each_tenant_gets_the_state_its_results_give(fleet: tuple[Fleet, dict[str, str]]) -> None:
    built, kinds = fleet
    assert {r.tenant: r.state for r in built.rows} == {t: KINDS[k] for t, k in kinds.items()}
    assert built.summary.states == {"failed": 20, "unknown": 10, "drifted": 10, "in_sync": 20}
    assert [r.state for r in built.rows] == sorted((r.state for r in built.rows), key=STATES.index)


def test_summary_json_and_csv_say_the_same_counts(fleet: tuple[Fleet, dict[str, str]]) -> None:
    built, kinds = fleet
    data = fleet_data(built)
    for state in STATES:
        assert data["summary"][state] == sum(1 for t in data["tenants"] if t["state"] == state)
    assert data["summary"]["groups_losing_sessions"] == sum(1 for k in kinds.values() if k == "losing")
    assert data["summary"]["manual_steps_open"] == sum(
        1 for k in kinds.values() if k in ("drifted", "losing")
    )
    assert data["summary"]["credentials_expiring_30_days"] == 6  # every 10th tenant's secret
    rows = list(csv.DictReader(io.StringIO(fleet_csv(built))))
    assert [(r["tenant"], r["state"]) for r in rows] == [(t["tenant"], t["state"]) for t in data["tenants"]]


def test_a_recovered_group_s_trend_shows_the_loss_then_the_recovery(
    fleet: tuple[Fleet, dict[str, str]],
) -> None:
    built, kinds = fleet
    row = next(r for r in built.rows if kinds[r.tenant] == "recovered")
    tier2 = next(g for g in row.groups if g.path == "Support/Tier 2")
    assert [(p.verdict, p.ratio) for p in tier2.trend] == [
        ("failing", 0.0),
        ("recovered", 0.8),
        ("recovered", 5 / 6),
    ]


def test_drift_age_and_manual_step_age_come_from_the_history(fleet: tuple[Fleet, dict[str, str]]) -> None:
    built, kinds = fleet
    drifted = next(r for r in built.rows if kinds[r.tenant] == "drifted")
    late = T0 + dt.timedelta(days=30)
    assert drifted.drift_since == late  # the first plan was in sync
    # Open in the apply run already (day 1), still in the plans, drift and manual run since.
    assert [(s.title[:10], s.since) for s in drifted.manual] == [
        ("Set 'Post ", T0 + dt.timedelta(days=1, minutes=3))
    ]
    assert drifted.operation == "ok" and drifted.sync_at == late + dt.timedelta(minutes=1)


def test_history_keeps_the_last_n_runs_of_each_command_per_tenant(tmp_path: Path) -> None:
    runs, _ = read_results(generate(tmp_path, 6).files)
    built = build_fleet(runs, history=2, now=NOW)
    assert all(len(g.trend) == 2 for r in built.rows for g in r.groups)
    assert len(built.runs) == len(runs)  # every run read is listed; each tenant keeps its last 2


def test_one_file_per_shard_still_gives_each_tenant_its_history() -> None:
    # Two shards a minute apart, three days: history 3 is three runs for each tenant, not 3 files.
    runs = [
        Run(f"h{day}-{shard}.json", "health", T0 + dt.timedelta(days=day, minutes=shard), {tenant: record})
        for day in range(3)
        for shard, tenant in enumerate(("a", "b"))
        for record in [TenantRecord(health="healthy", groups=(GroupPoint("G", "healthy", 2, 2, 1.0),))]
    ]
    runs += [
        Run("p.json", "plan", T0, {"a": TenantRecord(sync="in_sync"), "b": TenantRecord(sync="in_sync")})
    ]
    built = build_fleet(runs, history=3, now=NOW)
    assert [len(r.groups[0].trend) for r in built.rows] == [3, 3]


def _run(command: str, day: int, **record: object) -> Run:
    return Run(f"{command}{day}.json", command, T0 + dt.timedelta(days=day), {"t": TenantRecord(**record)})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("runs", "state"),
    [
        ([_run("plan", 1, sync="in_sync")], "in_sync"),
        ([_run("health", 1, health="healthy")], "unknown"),  # never planned: not known to be in sync
        ([_run("plan", 1, sync="in_sync"), _run("health", 2, health="unknown")], "unknown"),
        (
            [_run("plan", 1, sync="drifted"), _run("health", 2, health="not_visible", health_blocked=True)],
            "failed",
        ),
        (
            [_run("plan", 1, sync="in_sync"), _run("health", 2, health="healthy", health_unread=True)],
            "unknown",
        ),
        ([_run("plan", 1, sync="in_sync"), _run("health", 2, health="not_visible")], "in_sync"),
        ([_run("plan", 1, sync="drifted"), _run("apply", 2, operation="incomplete")], "unknown"),
        ([_run("plan", 1, sync="in_sync"), _run("doctor", 2, doctor_failed=("token: refused",))], "failed"),
        ([_run("plan", 1, sync="drifted"), _run("plan", 2, sync="in_sync")], "in_sync"),  # the latest counts
    ],
)
def test_the_state_is_the_worst_of_the_latest_run_of_each_axis(runs: list[Run], state: str) -> None:
    assert build_fleet(runs, now=NOW).rows[0].state == state


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_csv_cells_that_a_spreadsheet_would_run_are_defused(start: str) -> None:
    assert safe_cell(start + 'HYPERLINK("http://x")') == "'" + start + 'HYPERLINK("http://x")'
    assert safe_cell("contoso") == "contoso" and safe_cell(None) == ""


def test_a_hostile_tenant_name_is_a_safe_csv_cell(tmp_path: Path) -> None:
    runs, _ = read_results([_hostile_plan(tmp_path)])
    rows = list(csv.reader(io.StringIO(fleet_csv(build_fleet(runs, now=NOW)))))
    assert rows[1][0] == "'=cmd|' /C calc'!A0"


def _hostile_plan(tmp_path: Path) -> Path:
    import json

    from reconciler.plan import Plan
    from reconciler.plan.model import TenantPlan
    from reconciler.plan.serialize import encode_plan

    path = tmp_path / "plan.json"
    plan = Plan((TenantPlan(tenant="=cmd|' /C calc'!A0", desired_digest="d"),), created_at=T0.isoformat())
    path.write_text(json.dumps(encode_plan(plan)))
    return path
