"""Session-flow health over reads that failed (issue 16, case 10), pure: a group whose cause
depends on a read that failed is Unknown (exit 3) naming that read, never "export setting
missing" by elimination; a cause that was checked is still given."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest
from test_health import GOOD, NOW, REPORT, _inputs, _rows

from reconciler.kinds.rescue_group import ExportSettings, RescueGroup, export_step
from reconciler.plan import TenantPlan
from reconciler.plan.evidence import with_health
from reconciler.plan.health import (
    APPLICATION_USER_READ,
    CONSENT_READ,
    ROLES_READ,
    SESSION_KEY_READ,
    SETTINGS_READ,
    HealthResult,
    ObservedSession,
    Prerequisites,
    evaluate,
)
from reconciler.render.health import render_health_json, render_health_markdown, render_health_text

REFUSED = "GET lmi_logmeinsettings: HTTP 403 (0x80040220) missing prvReadlmi_logmeinsettings"
NOTHING_ARRIVED = _rows({})


UNREAD = [
    (replace(GOOD, mapped_technician_ids=None, reasons={SETTINGS_READ: REFUSED}), SETTINGS_READ),
    (replace(GOOD, session_key_status=None, reasons={SESSION_KEY_READ: "HTTP 503"}), SESSION_KEY_READ),
    (
        replace(GOOD, application_user=None, has_role=None, reasons={APPLICATION_USER_READ: "HTTP 503"}),
        APPLICATION_USER_READ,
    ),
    (replace(GOOD, has_role=None), ROLES_READ),
    (replace(GOOD, consent=None, reasons={CONSENT_READ: "HTTP 403"}), CONSENT_READ),
]


@pytest.mark.parametrize(("prerequisites", "read"), UNREAD, ids=[r for _, r in UNREAD])
def test_a_group_losing_sessions_over_an_unread_check_is_unknown_and_blames_nothing(
    prerequisites: Prerequisites, read: str
) -> None:
    for delivered in (NOTHING_ARRIVED, _rows({"s1": NOW, "s2": NOW, "s3": NOW})):  # failing, degraded
        health = evaluate(_inputs(prerequisites=prerequisites, delivered=delivered))
        tier2 = health.group("Tier 2")
        assert tier2 is not None and tier2.verdict == "unknown", tier2
        assert tier2.causes == () and [u.what for u in tier2.unread] == [read]
        assert (tier2.sessions, tier2.delivered) == (2, 0 if delivered is NOTHING_ARRIVED else 1)
        assert health.verdict == "unknown" and HealthResult((health,)).exit_code == 3
        text = render_health_text([health])
        assert f"cause not checked: could not read {read}" in text and "export setting" not in text
        assert "export setting" not in render_health_markdown([health])
        assert "export_missing" not in render_health_json([health])


def test_the_reason_of_the_failed_read_is_shown() -> None:
    health = evaluate(_inputs(prerequisites=UNREAD[0][0], delivered=NOTHING_ARRIVED))
    expected = f"could not read {SETTINGS_READ}: {REFUSED}"
    tier2 = health.group("Tier 2")
    assert tier2 is not None and tier2.unread[0].text == expected
    assert expected not in health.notes and [u.text for u in health.unread] == [expected]  # said once


def test_groups_whose_verdict_needs_no_cause_keep_it_over_an_unread_check() -> None:
    """Every session arrived (or none ran): no cause is needed, so the verdict stands, exit 0."""
    everything = _rows({"s1": NOW, "s2": NOW, "s3": NOW, "s4": NOW})
    health = evaluate(_inputs(prerequisites=UNREAD[0][0], delivered=everything))
    assert {g.verdict for g in health.groups} == {"healthy"} and HealthResult((health,)).exit_code == 0
    assert f"could not read {SETTINGS_READ}: {REFUSED}" in health.notes


def test_a_blocker_that_was_checked_is_still_the_cause() -> None:
    """The Session Key is Failed (read), the settings rows unreadable: the key explains the loss."""
    pre = replace(UNREAD[0][0], session_key_status="Failed")
    health = evaluate(_inputs(prerequisites=pre, delivered=NOTHING_ARRIVED))
    tier2 = health.group("Tier 2")
    assert tier2 is not None and tier2.verdict == "failing" and tier2.unread == ()
    assert [c.code for c in tier2.causes] == ["session_key_not_active"]
    assert HealthResult((health,)).exit_code == 2


def test_unmapped_technicians_explain_their_own_sessions_even_when_the_key_is_unread() -> None:
    pre = replace(GOOD, session_key_status=None, mapped_technician_ids=frozenset({"1", "2"}))
    health = evaluate(_inputs(prerequisites=pre))
    tier2 = health.group("Tier 2")
    assert tier2 is not None and tier2.verdict == "failing"
    assert [c.code for c in tier2.causes] == ["technician_mapping"] and tier2.unread == ()


def test_the_dynamics_only_view_is_unknown_when_a_prerequisite_could_not_be_checked() -> None:
    health = evaluate(_inputs(report=None, prerequisites=UNREAD[1][0]))
    assert health.verdict == "unknown" and HealthResult((health,)).exit_code == 3
    blocked = evaluate(_inputs(report=None, prerequisites=replace(UNREAD[0][0], consent=False)))
    assert blocked.verdict == "not_visible" and HealthResult((blocked,)).exit_code == 2


def test_a_partial_hierarchy_leaves_a_missing_group_and_unplaced_lost_sessions_unknown() -> None:
    odd = ("Rescue node 41009",)
    lost = ObservedSession("s9", "41009", "Ivan", NOW - dt.timedelta(hours=3), NOW - dt.timedelta(hours=2))
    everything = _rows({"s1": NOW, "s2": NOW, "s3": NOW, "s4": NOW})
    health = evaluate(
        _inputs(
            report=(*REPORT, lost),
            delivered=everything,
            group_paths={"g1": "Tier 1"},  # Tier 2 (declared) is not in what could be read
            technician_groups={"1": "g1", "2": "g1"},
            unreadable_nodes=odd,
        )
    )
    tier2 = health.group("Tier 2")
    assert tier2 is not None and tier2.verdict == "unknown" and tier2.sessions is None
    assert "Rescue node 41009" in tier2.unread[0].reason
    assert health.verdict == "unknown" and HealthResult((health,)).exit_code == 3
    assert any("Ivan (41009)" in u.what for u in health.unread)
    assert "does not exist in Rescue" not in " ".join(health.notes)
    # Without unreadable records the same sessions are outside every group (counted apart).
    complete = evaluate(_inputs(report=(*REPORT, lost), delivered=everything))
    assert complete.verdict == "healthy" and HealthResult((complete,)).exit_code == 0


def test_a_confirmed_group_losing_sessions_is_a_finding_even_when_its_cause_is_unread() -> None:
    export = ExportSettings("https://dynamics.logmeinrescue.com/api/integration", False, True, "form")
    step = export_step(RescueGroup(path="Tier 1", export=export), created=False)
    plan = TenantPlan(tenant="contoso", desired_digest="d", changes=(step,))
    health = evaluate(_inputs(prerequisites=UNREAD[0][0], delivered=_rows({"s3": NOW})))
    tier1 = health.group("Tier 1")
    assert tier1 is not None and tier1.verdict == "unknown" and tier1.evidence == "confirmed_not_arriving"
    learned = with_health(plan, health)
    assert learned.findings and f"not checked: could not read {SETTINGS_READ}" in learned.findings[0]
    assert f"session-flow health incomplete: could not read {SETTINGS_READ}: {REFUSED}" in learned.notes


def test_a_group_that_delivers_again_needs_only_the_mapping_read() -> None:
    """Carol's early session was lost, her later one arrived: a prerequisite that would stop every
    session works now, so an unread one leaves "recovered" standing; the settings rows do not."""
    arrived_again = _rows({"s1": NOW, "s2": NOW, "s4": NOW})
    consent_unread = evaluate(_inputs(prerequisites=UNREAD[4][0], delivered=arrived_again))
    tier2 = consent_unread.group("Tier 2")
    assert (
        tier2 is not None and tier2.verdict == "recovered" and HealthResult((consent_unread,)).exit_code == 0
    )
    settings_unread = evaluate(_inputs(prerequisites=UNREAD[0][0], delivered=arrived_again))
    tier2 = settings_unread.group("Tier 2")
    assert (
        tier2 is not None and tier2.verdict == "unknown" and [u.what for u in tier2.unread] == [SETTINGS_READ]
    )
