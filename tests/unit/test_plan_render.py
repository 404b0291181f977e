"""Plan value: JSON round trip, renderers, and that secrets never show."""

from __future__ import annotations

import json

from reconciler.kinds.application_user import ApplicationUser
from reconciler.kinds.integration import IntegrationConfig
from reconciler.kinds.session_key import SessionKey
from reconciler.kinds.technician_settings import TechnicianSettings
from reconciler.plan import (
    Action,
    Create,
    FieldChange,
    Manual,
    Plan,
    SafetySettings,
    TenantPlan,
    UnknownChange,
    Update,
    decode_plan,
    encode_plan,
)
from reconciler.render import render_json, render_markdown, render_text
from reconciler.resources import LiveMeta, SecretHasher, Unmanaged

SECRET = "s3cr3t-Value-never-shown"


def sample_plan() -> Plan:
    hasher = SecretHasher()
    want = IntegrationConfig(
        sso_password=hasher.sensitive(SECRET, "env:X"), close_ticket_on_session_end=False
    )
    have = IntegrationConfig(
        sso_password=hasher.sensitive("other"),
        close_ticket_on_session_end=True,
        meta=LiveMeta(id="i", etag='W/"3"'),
    )
    changes = (
        Update(
            "integration",
            "configuration",
            (),
            want,
            have,
            (
                FieldChange("sso_password", None, None, sensitive=True),
                FieldChange("close_ticket_on_session_end", True, False),
            ),
        ),
        Create(
            "technician",
            "dave@contoso.com",
            (),
            desired=TechnicianSettings(user="dave@contoso.com", technician_id="104", sso_id="dave"),
        ),
        Update(
            "application_user",
            "app",
            (),
            ApplicationUser(app_id="app", roles=frozenset({"LogMeIn Integration User"})),
            ApplicationUser(app_id="app", roles=frozenset()),
            (FieldChange("roles", [], ["LogMeIn Integration User"]),),
        ),
        Action(
            "session_key",
            "t/k",
            (),
            "repair_session_key",
            SessionKey(table="t", key_name="k", status="Active"),
            SessionKey(table="t", key_name="k", status="Failed"),
            "Session Key is Failed",
            ("delete job", "reactivate", "wait"),
        ),
        Manual("rescue_group", "Support/Tier 2", (), title="Set export", reason="no API", steps=("a", "b")),
        UnknownChange("consent", "app", (), reason="graph 503"),
    )
    tenant = TenantPlan(
        tenant="contoso",
        desired_digest="abc",
        changes=changes,
        unmanaged=(Unmanaged("technician", "z@x.com", "not listed"),),
        live_counts={"technician": 3},
        safety=SafetySettings(),
        requests={"dataverse": {"requests": 7, "retries": 1}, "rescue": {"requests": 4, "retries": 0}},
    )
    return Plan(tenants=(tenant,), created_at="2026-11-24T00:00:00+00:00", tool_version="0.1.0")


def test_json_round_trip_keeps_changes_and_never_the_secret() -> None:
    plan = sample_plan()
    text = render_json(plan)
    assert SECRET not in text and "other" not in text
    data = json.loads(text)
    assert data["format_version"] == 2
    item = data["tenants"][0]["changes"][0]["items"][0]
    assert item == {
        "path": "sso_password",
        "before": "(sensitive)",
        "after": "(sensitive)",
        "sensitive": True,
    }
    again = decode_plan(data)
    assert [c.id for c in again.tenants[0].changes] == [c.id for c in plan.tenants[0].changes]
    assert again.tenants[0].changes[0].planned_version() == 'W/"3"'
    assert encode_plan(again)["tenants"][0]["changes"] == data["tenants"][0]["changes"]


def test_text_rendering_shows_summary_first_and_sensitive() -> None:
    text = render_text(sample_plan())
    first = text.splitlines()[0]
    assert first.startswith("Plan: 1 to create, 2 to update, 0 to delete, 1 repair(s).")
    assert "sso_password: (sensitive) -> (sensitive)" in text
    assert "close_ticket_on_session_end: true -> false" in text
    assert "needs --force" in text  # the role change
    assert "\x1b[" not in text
    assert "\x1b[" in render_text(sample_plan(), colour=True)
    assert SECRET not in text


def test_drift_rendering_leaves_out_manual_steps() -> None:
    text = render_text(sample_plan(), drift_only=True)
    assert "Set export" not in text and "close_ticket" in text


def test_markdown_has_table_checklist_and_fits_the_limit() -> None:
    md = render_markdown(sample_plan())
    assert md.startswith("<!-- reconcile-plan -->")
    assert "| contoso | incomplete | 1 | 2 | 0 | 1 | 1 | 1 |" in md
    assert "- [ ] **Set export**" in md
    assert SECRET not in md
    big = Plan(
        tenants=tuple(
            TenantPlan(tenant=f"t{i:03}", desired_digest="d", changes=sample_plan().tenants[0].changes)
            for i in range(300)
        )
    )
    cut = render_markdown(big)
    assert len(cut) <= 60_000
    assert "tenant section(s) cut" in cut
