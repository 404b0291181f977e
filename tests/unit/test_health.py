"""Session-flow health, pure: each cause gives its own verdict; renderers escape every value."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace

import httpx
import pytest
from client_harness import FakeTokens, recorder, run_client
from markdown_checks import CONTROL, assert_inert

from reconciler.errors import ProtocolError
from reconciler.gitops.drift import drift_fingerprint, issue_body
from reconciler.kinds.rescue_group import ExportSettings, RescueGroup, export_step
from reconciler.plan import TenantPlan, decode_plan, encode_plan
from reconciler.plan.evidence import with_health
from reconciler.plan.health import (
    DeclaredGroup,
    DynamicsSession,
    HealthInputs,
    HealthResult,
    ObservedSession,
    Prerequisites,
    TenantHealth,
    evaluate,
    unknown_health,
)
from reconciler.plan.model import Plan
from reconciler.profile import default_profile
from reconciler.providers.base import ClientOptions
from reconciler.providers.dynamics.client import DataverseClient
from reconciler.providers.dynamics.sessions import delivered_sessions
from reconciler.providers.rescue.reports import parse_report_time, parse_session_report, report_date
from reconciler.render.health import render_health_json, render_health_markdown, render_health_text
from reconciler.render.markdown import render_markdown

NOW = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)
SINCE = NOW - dt.timedelta(days=7)
GOOD = Prerequisites("Active", True, "LogMeIn Integration User", True, True, frozenset({"1", "2", "3"}))


def _session(sid: str, tech: str, name: str, hours_ago: int) -> ObservedSession:
    start = NOW - dt.timedelta(hours=hours_ago)
    return ObservedSession(sid, tech, name, start, start + dt.timedelta(minutes=20))


REPORT = (
    _session("s1", "1", "Alice", 30),
    _session("s2", "2", "Bob", 20),
    _session("s3", "3", "Carol", 10),
    _session("s4", "3", "Carol", 5),
)


def _rows(arrived: dict[str, dt.datetime]) -> tuple[DynamicsSession, ...]:
    """Rows written with their Session Key (technician and times are not needed to match)."""
    return tuple(DynamicsSession(key, None, None, None, when) for key, when in arrived.items())


def _inputs(**changes: object) -> HealthInputs:
    base = HealthInputs(
        tenant="contoso",
        since=SINCE,
        until=NOW,
        declared=(DeclaredGroup("Tier 1", "2026-10-01"), DeclaredGroup("Tier 2", None)),
        group_paths={"g1": "Tier 1", "g2": "Tier 2"},
        technician_groups={"1": "g1", "2": "g1", "3": "g2"},
        report=REPORT,
        delivered=_rows({"s1": NOW - dt.timedelta(hours=29), "s2": NOW - dt.timedelta(hours=19)}),
        prerequisites=GOOD,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def _codes(health: TenantHealth, path: str) -> list[str]:
    group = health.group(path)
    assert group is not None
    return [c.code for c in group.causes]


def test_a_group_whose_sessions_never_arrive_is_failing_for_its_export_setting() -> None:
    health = evaluate(_inputs())
    tier1, tier2 = health.group("Tier 1"), health.group("Tier 2")
    assert tier1 is not None and tier2 is not None
    assert (tier1.verdict, tier1.delivered, tier1.sessions, tier1.causes) == ("healthy", 2, 2, ())
    assert (tier2.verdict, tier2.delivered, tier2.sessions) == ("failing", 0, 2)
    assert _codes(health, "Tier 2") == ["export_missing"]
    assert health.verdict == "failing" and HealthResult((health,)).exit_code == 2
    assert tier1.last_delivered == (REPORT[1].end.isoformat() if REPORT[1].end else None)


@pytest.mark.parametrize(
    ("prerequisites", "cause"),
    [
        (replace(GOOD, session_key_status="Failed"), "session_key_not_active"),
        (replace(GOOD, application_user=False, has_role=None), "application_user_missing"),
        (replace(GOOD, has_role=False), "role_missing"),
        (replace(GOOD, consent=False), "consent_missing"),
    ],
)
def test_a_blocking_prerequisite_is_the_cause_instead_of_the_export(
    prerequisites: Prerequisites, cause: str
) -> None:
    health = evaluate(_inputs(prerequisites=prerequisites, delivered=_rows({})))
    assert _codes(health, "Tier 1") == [cause] and _codes(health, "Tier 2") == [cause]
    assert [c.code for c in health.blockers] == [cause]


def test_unmapped_technicians_are_named() -> None:
    health = evaluate(_inputs(prerequisites=replace(GOOD, mapped_technician_ids=frozenset({"1", "2"}))))
    group = health.group("Tier 2")
    assert group is not None and _codes(health, "Tier 2") == ["technician_mapping"]
    assert "Carol (3)" in group.causes[0].text


def test_a_session_that_just_ended_is_not_yet_lost() -> None:
    just_now = ObservedSession(
        "s5", "3", "Carol", NOW - dt.timedelta(minutes=22), NOW - dt.timedelta(minutes=2)
    )
    health = evaluate(
        _inputs(report=(*REPORT, just_now), delivered=_rows({"s1": NOW, "s2": NOW, "s3": NOW, "s4": NOW}))
    )
    group = health.group("Tier 2")
    assert group is not None and (group.verdict, group.sessions, group.delivered) == ("healthy", 2, 2)
    assert "1 session(s) ended in the last 5 minutes" in health.notes[0]


def test_a_partial_loss_is_degraded() -> None:
    health = evaluate(_inputs(delivered=_rows({"s1": NOW, "s2": NOW, "s3": NOW})))
    group = health.group("Tier 2")
    assert group is not None and group.verdict == "degraded" and _codes(health, "Tier 2") == ["partial_loss"]


def test_a_group_whose_losses_all_precede_its_first_delivery_has_recovered() -> None:
    health = evaluate(_inputs(delivered=_rows({"s1": NOW, "s2": NOW, "s4": NOW})))
    group = health.group("Tier 2")
    assert group is not None and group.verdict == "recovered" and _codes(health, "Tier 2") == ["recovered"]
    assert HealthResult((health,)).exit_code == 0


def test_the_manual_step_learns_from_evidence() -> None:
    working = evaluate(_inputs(delivered=_rows({"s3": NOW - dt.timedelta(hours=9)})))
    tier2 = working.group("Tier 2")
    assert tier2 is not None and tier2.evidence == "observed_working"  # no confirmed:, sessions arrive
    broken = evaluate(_inputs(delivered=_rows({"s3": NOW})))
    tier1 = broken.group("Tier 1")
    assert tier1 is not None and tier1.evidence == "confirmed_not_arriving"  # confirmed:, nothing arrives
    assert "observed working (last session" in render_health_text([working])
    assert "confirmed 2026-10-01, but sessions do not arrive" in render_health_text([broken])


def test_without_a_report_the_view_is_dynamics_only_and_says_what_it_cannot_see() -> None:
    health = evaluate(_inputs(report=None))
    assert health.verdict == "not_visible" and not health.rescue_visible
    assert all(g.verdict == "not_visible" and g.sessions is None for g in health.groups)
    assert health.dynamics_sessions == 2 and "cannot be seen" in health.notes[0]
    assert HealthResult((health,)).exit_code == 0


def test_an_unknown_tenant_is_never_healthy() -> None:
    unknown = unknown_health("fabrikam", SINCE, NOW, "getReport_v2: HTTP 500")
    assert unknown.verdict == "unknown" and HealthResult((evaluate(_inputs()), unknown)).exit_code == 3
    assert "UNKNOWN" in render_health_text([unknown])


def test_values_are_data_in_every_format() -> None:
    hostile = "evil `2` | <img src=x> [a](http://e) ## h \x1b[31m\u202e"
    health = evaluate(_inputs(group_paths={"g1": "Tier 1", "g2": hostile}, declared=()))
    assert_inert(render_health_markdown([health]), own_headings=1)
    text = render_health_text([health])
    assert not CONTROL.search(text) and "\\x1b[31m" in text
    assert hostile in {g["path"] for g in json.loads(render_health_json([health]))["tenants"][0]["groups"]}


REPORT_XML = (
    '<report><header><field id="0">Start Time</field><field id="1">End Time</field>'
    '<field id="2">Technician Name</field><field id="3">Technician ID</field><field id="4">Session ID</field>'
    '</header><data><row><field id="0">2/16/2026 9:00:05 PM</field><field id="1">2/16/2026 9:20:05 PM</field>'
    '<field id="2">Alice &amp; co</field><field id="3">41001</field><field id="4">7001</field></row></data></report>'
)


def test_the_xml_session_report_is_read_by_header_ids() -> None:
    (session,) = parse_session_report(REPORT_XML)
    assert session == ObservedSession(
        "7001",
        "41001",
        "Alice & co",
        dt.datetime(2026, 2, 16, 21, 0, 5, tzinfo=dt.UTC),
        dt.datetime(2026, 2, 16, 21, 20, 5, tzinfo=dt.UTC),
    )
    assert report_date(dt.datetime(2026, 2, 6, 7, 5, 9, tzinfo=dt.UTC)) == "2/6/2026 7:05:09"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ('<!DOCTYPE r [<!ENTITY a "b">]><report/>', "DTD"),
        ("Start Time|End Time", "not XML"),
        ('<report><header><field id="0">Start Time</field></header></report>', "lacks Session ID"),
    ],
)
def test_a_report_that_cannot_be_trusted_is_refused(payload: str, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        parse_session_report(payload)


def test_the_plan_learns_from_health_and_keeps_it_through_json() -> None:
    export = ExportSettings("https://dynamics.logmeinrescue.com/api/integration", False, True, "form")
    step = export_step(RescueGroup(path="Tier 2", export=export), created=False)
    plan = TenantPlan(tenant="contoso", desired_digest="d", changes=(step,))
    # Tier 2 (no confirmed:) delivers; Tier 1 (confirmed) loses everything.
    health = evaluate(_inputs(delivered=_rows({"s3": NOW - dt.timedelta(hours=9)})))
    learned = with_health(plan, health)
    assert learned.manual[0].reason.startswith("observed working (last session ")
    assert learned.findings and "'Tier 1' is confirmed (2026-10-01)" in learned.findings[0]
    assert learned.has_drift and not learned.has_changes and drift_fingerprint(learned)
    assert drift_fingerprint(plan) == ""
    again = decode_plan(json.loads(json.dumps(encode_plan(Plan(tenants=(learned,))))))
    assert again.tenants[0].findings == learned.findings
    markdown = render_markdown(again)
    assert ":warning: health: " in markdown and "Rescue group 'Tier 1' is confirmed" in markdown
    body = issue_body(again, again.tenants[0], drift_fingerprint(learned))
    assert "**Health findings**" in body and "Rescue group 'Tier 1' is confirmed" in body
    unknown = with_health(plan, unknown_health("contoso", SINCE, NOW, "boom"))
    assert unknown.notes == ("session-flow health unknown: boom",) and not unknown.findings


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2/16/2026 9:00:05 PM", dt.datetime(2026, 2, 16, 21, 0, 5, tzinfo=dt.UTC)),
        ("2/16/2026 12:00:05 AM", dt.datetime(2026, 2, 16, 0, 0, 5, tzinfo=dt.UTC)),
        ("2/16/2026 12:30 PM", dt.datetime(2026, 2, 16, 12, 30, tzinfo=dt.UTC)),
        ("2/16/2026 21:00:05", dt.datetime(2026, 2, 16, 21, 0, 5, tzinfo=dt.UTC)),
        ("", None),
    ],
)
def test_report_times_are_read_in_both_clocks(text: str, expected: dt.datetime | None) -> None:
    assert parse_report_time(text) == expected
    if text:
        with pytest.raises(ProtocolError, match="unreadable time"):
            parse_report_time(text.replace("2/16", "13/40"))


def _row(
    key: str | None, tech: str | None, hours_ago: int, shift: dt.timedelta = dt.timedelta()
) -> DynamicsSession:
    start = NOW - dt.timedelta(hours=hours_ago) + shift
    return DynamicsSession(
        key, tech, start, start + dt.timedelta(minutes=20), start + dt.timedelta(minutes=21)
    )


def test_a_row_without_its_key_is_matched_by_technician_and_start_time() -> None:
    rows = (
        _row("s1", "1", 30),
        _row(None, "2", 20, dt.timedelta(seconds=50)),  # Bob's session, its key column empty
        _row(None, "3", 10, dt.timedelta(minutes=3)),  # Carol, but too far from her s3
        _row(None, "1", 5),  # Alice had no session then: matches nothing
    )
    health = evaluate(_inputs(delivered=rows))
    tier1, tier2 = health.group("Tier 1"), health.group("Tier 2")
    assert tier1 is not None and (tier1.verdict, tier1.delivered, tier1.sessions) == ("healthy", 2, 2)
    assert tier2 is not None and (tier2.verdict, tier2.delivered) == ("failing", 0)
    # One row stands for one session: Carol's two sessions 5 h apart, one keyless row near s4.
    one = evaluate(_inputs(delivered=(_row(None, "3", 5),)))
    carol = one.group("Tier 2")
    assert carol is not None and (carol.delivered, carol.sessions) == (1, 2)


def test_the_dynamics_only_view_counts_rows_per_group_and_technician_and_flags_empty_groups() -> None:
    rows = (
        _row("s1", "1", 30),
        _row("s2", "2", 20),
        _row("s9", "1", 3),
        _row("s8", "99", 2),
        _row("s7", None, 1),
    )
    names = {"1": "Alice", "2": "Bob", "3": "Carol"}
    health = evaluate(_inputs(report=None, delivered=rows, technician_names=names))
    tier1, tier2 = health.group("Tier 1"), health.group("Tier 2")
    assert tier1 is not None and tier2 is not None
    assert (tier1.verdict, tier1.sessions, tier1.in_dynamics) == ("not_visible", None, 3)
    assert [(t.name, t.sessions) for t in tier1.technicians] == [("Alice", 2), ("Bob", 1)]
    assert tier1.last_delivered == rows[2].end.isoformat() if rows[2].end else False
    assert (tier2.in_dynamics, tier2.technicians) == (0, ())
    assert health.dynamics_sessions == 5 and HealthResult((health,)).exit_code == 0
    assert "sessions that never reached Dynamics" in health.notes[0]
    assert health.notes[1] == "1 group(s) with no LogMeIn Session row in the window: Tier 2"
    assert health.notes[2].startswith("2 LogMeIn Session row(s) name no technician of a technician group")
    text = render_health_text([health])
    assert "group Tier 2: not visible (Dynamics-only view), NONE in Dynamics" in text
    assert "technician Alice (1): 2 in Dynamics, last " in text
    markdown = render_health_markdown([health])
    assert (
        "| Tier 1 | not visible (Dynamics-only view) | 3 in Dynamics (sessions in Rescue not visible) |"
        in markdown
    )
    assert "- Tier 1: technician Alice (1): 2 in Dynamics, last `" in markdown
    raw = json.loads(render_health_json([health]))["tenants"][0]["groups"][0]
    assert raw["in_dynamics"] == 3 and raw["technicians"][0]["name"] == "Alice"


def test_technician_names_are_data_in_the_dynamics_only_view() -> None:
    hostile = "evil `2` | <img src=x> [a](http://e) ## h \x1b[31m\u202e"
    health = evaluate(_inputs(report=None, delivered=(_row("s1", "1", 3),), technician_names={"1": hostile}))
    assert_inert(render_health_markdown([health]), own_headings=1)
    text = render_health_text([health])
    assert not CONTROL.search(text) and "\\x1b[31m" in text


def _dataverse(options: ClientOptions) -> DataverseClient:
    return DataverseClient("https://contoso.crm.dynamics.com", FakeTokens(), **options)


def test_session_rows_are_read_in_one_listing_of_only_the_needed_columns() -> None:
    rows = [
        {
            "lmi_sessionid": "7001",
            "lmi_technicianid": "41001",
            "lmi_starttime": "2026-11-29T10:00:00Z",
            "lmi_endtime": "2026-11-29T10:20:00Z",
            "createdon": "2026-11-29T10:20:03Z",
        },
        {
            "lmi_sessionid": None,
            "lmi_technicianid": "41002",
            "lmi_starttime": None,
            "lmi_endtime": "",
            "createdon": "2026-11-29T11:00:00Z",
        },
    ]
    handler, seen = recorder(httpx.Response(200, json={"value": rows}))
    found = run_client(_dataverse, handler, lambda c: delivered_sessions(c, default_profile(), SINCE))
    assert (
        seen[0].url.params["$select"] == "lmi_sessionid,lmi_technicianid,lmi_starttime,lmi_endtime,createdon"
    )
    assert seen[0].url.params["$filter"] == "createdon ge 2026-11-23T12:00:00Z" and len(seen) == 1
    assert found[0] == DynamicsSession(
        "7001",
        "41001",
        dt.datetime(2026, 11, 29, 10, tzinfo=dt.UTC),
        dt.datetime(2026, 11, 29, 10, 20, tzinfo=dt.UTC),
        dt.datetime(2026, 11, 29, 10, 20, 3, tzinfo=dt.UTC),
    )
    assert (found[1].key, found[1].technician_id, found[1].start, found[1].end) == (None, "41002", None, None)
    bad = [{**rows[0], "lmi_starttime": "yesterday"}]
    handler, _ = recorder(httpx.Response(200, json={"value": bad}))
    with pytest.raises(ProtocolError, match="unreadable lmi_starttime 'yesterday'"):
        run_client(_dataverse, handler, lambda c: delivered_sessions(c, default_profile(), SINCE))
