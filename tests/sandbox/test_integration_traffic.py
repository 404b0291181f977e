"""The integration's traffic: a session that ends is written into Dynamics only when every
prerequisite is in place; otherwise nothing arrives and the cause shows only in the controls."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest

from reconciler.errors import InputError
from rescue_sandbox import load_seed
from rescue_sandbox.integration import traffic
from rescue_sandbox.seed import build_tenant, demo_seed_path
from rescue_sandbox.tenant import SandboxTenant

LOGMEIN_APP = "1e2716f5-fee6-4370-a121-baea6d360668"


def _contoso(**changes: Any) -> SandboxTenant:
    """Contoso with every prerequisite in place (role, consent), then ``changes`` applied."""
    raw = copy.deepcopy(load_seed(demo_seed_path())["tenants"]["contoso"])
    raw["dataverse"]["application_user"]["roles"] = ["LogMeIn Integration User"]
    raw["identity"]["service_principals"] = [{"app_id": LOGMEIN_APP}]
    for setting in changes.get("settings_drop", ()):
        raw["dataverse"]["settings"] = [s for s in raw["dataverse"]["settings"] if s["user"] != setting]
    if "session_key" in changes:
        raw["dataverse"]["session_key"] = changes["session_key"]
    if changes.get("no_consent"):
        raw["identity"]["service_principals"] = []
    if changes.get("no_role"):
        raw["dataverse"]["application_user"]["roles"] = []
    if changes.get("no_app_user"):
        del raw["dataverse"]["application_user"]
    raw["rescue"]["sessions"] = changes.get("sessions", [])
    return build_tenant("contoso", raw)


def _rows(tenant: SandboxTenant) -> list[str]:
    names = traffic.solution_names(tenant)
    return [r[names.session_key_column] for r in tenant.org.rows(names.session_table)]


def test_seeded_sessions_of_an_exporting_group_arrive_with_their_session_key() -> None:
    tenant = _contoso(sessions=[{"technician": "alice@contoso.com", "count": 3, "every_minutes": 120}])
    sessions = tenant.rescue.book.sessions
    assert [s.delivery for s in sessions] == ["delivered"] * 3
    assert sorted(_rows(tenant)) == sorted(str(s.session_id) for s in sessions)
    assert sessions[0].end < sessions[1].end < sessions[2].end <= tenant.rescue.now()
    # The row carries what the post carries: the technician's ID and the session's times.
    sess = tenant.org.schema.session
    row = next(
        r for r in tenant.org.rows(sess.table) if r[sess.key_columns[0]] == str(sessions[0].session_id)
    )
    assert row[sess.columns["technician_id"]] == str(sessions[0].technician_id)
    started = dt.datetime.fromisoformat(str(row[sess.columns["start_time"]]).replace("Z", "+00:00"))
    ended = dt.datetime.fromisoformat(str(row[sess.columns["end_time"]]).replace("Z", "+00:00"))
    assert (started.timestamp(), ended.timestamp()) == (int(sessions[0].start), int(sessions[0].end))
    assert row[f"_{sess.case_lookup}_value"] is None  # not started from a case's PIN


@pytest.mark.parametrize(
    ("changes", "email", "cause"),
    [
        ({}, "erin@contoso.com", "no_export"),  # Tier 2 has no export settings
        ({"no_consent": True}, "alice@contoso.com", "consent_missing"),
        ({"no_app_user": True}, "alice@contoso.com", "application_user_missing"),
        ({"no_role": True}, "alice@contoso.com", "role_missing"),
        ({"settings_drop": ["alice@contoso.com"]}, "alice@contoso.com", "technician_unmapped"),
        ({"session_key": {"status": "Failed", "error": "x"}}, "alice@contoso.com", "session_key_not_active"),
    ],
)
def test_each_missing_prerequisite_stops_delivery_with_its_own_cause(
    changes: dict[str, Any], email: str, cause: str
) -> None:
    tenant = _contoso(**changes)
    technician = traffic.technicians_of(tenant, email=email, group=None)
    (session,) = traffic.run_sessions(tenant, technician, count=1)
    assert session.delivery == cause
    assert _rows(tenant) == []


def test_the_export_set_by_hand_makes_later_sessions_arrive() -> None:
    tenant = _contoso()
    tier2 = traffic.technicians_of(tenant, email=None, group="Support/Tier 2")
    assert [t.email for t in tier2] == ["dave@contoso.com", "erin@contoso.com"]
    before = traffic.run_sessions(tenant, tier2, count=1)
    group = tenant.rescue.group_by_path("Support/Tier 2")
    assert group is not None
    group.export = {"url": traffic.INTEGRATION_URLS[0], "at_session_end": True, "format": "form"}
    # Erin's first PIN request creates her settings row; dave has none, so his still do not arrive.
    assert tenant.org.record_pin_request("erin@contoso.com", "41005") is not None
    after = traffic.run_sessions(tenant, tier2, count=1)
    assert [s.delivery for s in before] == ["no_export", "no_export"]
    assert [s.delivery for s in after] == ["technician_unmapped", "delivered"]


def test_a_bad_session_entry_is_refused_with_its_place() -> None:
    with pytest.raises(InputError, match=r"rescue.sessions\[0\]: no Rescue technician"):
        _contoso(sessions=[{"technician": "nobody@contoso.com"}])
    with pytest.raises(InputError, match="unknown keys colour"):
        _contoso(sessions=[{"group": "Support/Tier 1", "colour": "red"}])


def test_sessions_survive_a_snapshot_and_restore() -> None:
    tenant = _contoso(sessions=[{"group": "Support/Tier 1", "count": 2}])
    restored = SandboxTenant.restore(tenant.snapshot())
    assert [(s.session_id, s.delivery) for s in restored.rescue.book.sessions] == [
        (s.session_id, s.delivery) for s in tenant.rescue.book.sessions
    ]
