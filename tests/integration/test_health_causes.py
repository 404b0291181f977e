"""Each likely cause of `reconcile health`, end to end: the sandbox's integration stops
delivering for one reason at a time (a person breaks it through the controls), and health names
that reason, its own verdict and cause, in its JSON output.

One sandbox for the module: every prerequisite is put in place first, each test breaks one and
puts it back. Blocker tests run sessions in Support/Tier 1 only, so Support/Tier 2 (no export
setting in the demo seed) keeps sessions from the export test alone. Rescue serves one report
per minute: the Rescue clock moves 61 s before each run.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from rescue_sandbox import SandboxHandle, running_sandbox

from .conftest import control
from .test_health import _group, _health

pytestmark = pytest.mark.integration
T = "/tenants/contoso"
LOGMEIN_APP = "1e2716f5-fee6-4370-a121-baea6d360668"
ROLE = "LogMeIn%20Integration%20User"
TIER1, TIER2 = "Support/Tier 1", "Support/Tier 2"


def prerequisites_in_place(handle: SandboxHandle) -> None:
    """Consent, the role and every technician's settings row, as a person puts them in place."""
    control(handle, "POST", f"{T}/identity/service-principals", {})
    control(handle, "POST", f"{T}/dynamics/application-user/roles", {})
    for user, node in (("dave@contoso.com", "41004"), ("erin@contoso.com", "41005")):
        control(handle, "PATCH", f"{T}/dynamics/settings/{user}", {"technician_id": node})


@pytest.fixture(scope="module")
def ready() -> Iterator[SandboxHandle]:
    """The demo sandbox with consent, the role and every technician's settings row in place."""
    with running_sandbox(index_job_seconds=0.05) as handle:
        prerequisites_in_place(handle)
        yield handle


def _health_after_sessions(handle: SandboxHandle, group: str) -> tuple[int, dict[str, Any], dict[str, Any]]:
    """Sessions of ``group`` end half an hour ago; then `reconcile health --format json`."""
    control(handle, "POST", f"{T}/rescue/sessions", {"group": group, "count": 1, "ended_minutes_ago": 30})
    control(handle, "POST", f"{T}/rescue/clock", {"seconds": 61})
    code, tenant = _health(handle)
    return code, tenant, _group(tenant, group)


@pytest.mark.parametrize(
    ("break_it", "restore", "cause"),
    [
        (
            ("DELETE", f"{T}/identity/service-principals/{LOGMEIN_APP}", None),
            ("POST", f"{T}/identity/service-principals", {}),
            "consent_missing",
        ),
        (
            ("DELETE", f"{T}/dynamics/application-user/roles/{ROLE}", None),
            ("POST", f"{T}/dynamics/application-user/roles", {}),
            "role_missing",
        ),
        (
            ("POST", f"{T}/dynamics/session-key", {"status": "Failed", "error": "SQL timeout"}),
            ("POST", f"{T}/dynamics/session-key", {"status": "Active"}),
            "session_key_not_active",
        ),
    ],
    ids=["consent", "role", "session-key"],
)
def test_a_prerequisite_taken_away_is_the_cause_of_the_lost_sessions(
    ready: SandboxHandle,
    break_it: tuple[str, str, Any],
    restore: tuple[str, str, Any],
    cause: str,
) -> None:
    control(ready, *break_it)
    try:
        code, tenant, tier1 = _health_after_sessions(ready, TIER1)
    finally:
        control(ready, *restore)
    assert code == 2 and tenant["verdict"] == "failing", tenant
    assert [b["code"] for b in tenant["blockers"]] == [cause]
    assert tier1["verdict"] in ("failing", "degraded") and tier1["delivered"] < tier1["sessions"]
    assert [c["code"] for c in tier1["causes"]] == [cause]


def test_a_broken_technician_mapping_names_those_technicians(ready: SandboxHandle) -> None:
    control(ready, "DELETE", f"{T}/dynamics/settings/alice@contoso.com")
    control(ready, "PATCH", f"{T}/dynamics/settings/bob@contoso.com", {"technician_id": "49999"})
    try:
        code, tenant, tier1 = _health_after_sessions(ready, TIER1)
    finally:
        control(ready, "PATCH", f"{T}/dynamics/settings/alice@contoso.com", {"technician_id": "41001"})
        control(ready, "PATCH", f"{T}/dynamics/settings/bob@contoso.com", {"technician_id": "41002"})
    # Sessions lost earlier (other tests) and arriving again do not hide the two broken ones.
    assert code == 2 and tenant["blockers"] == [] and tier1["verdict"] == "degraded"
    (mapping,) = (c["text"] for c in tier1["causes"] if c["code"] == "technician_mapping")
    assert mapping.startswith("technician mapping broken for Alice Adams (41001), Bob Baker (41002):")


def test_a_group_whose_sessions_never_arrive_lacks_its_export_setting(ready: SandboxHandle) -> None:
    code, tenant, tier2 = _health_after_sessions(ready, TIER2)
    assert code == 2 and tenant["blockers"] == []
    assert (tier2["verdict"], tier2["delivered"], tier2["sessions"]) == ("failing", 0, 2)
    assert [c["code"] for c in tier2["causes"]] == ["export_missing"]


def test_without_the_application_user_no_session_arrives() -> None:
    # A sandbox of its own: the application user is not put back (nobody re-creates one by hand).
    with running_sandbox(index_job_seconds=0.05) as handle:
        control(handle, "POST", f"{T}/identity/service-principals", {})
        control(handle, "DELETE", f"{T}/dynamics/application-user")
        code, tenant, tier1 = _health_after_sessions(handle, TIER1)
    assert code == 2 and [b["code"] for b in tenant["blockers"]] == ["application_user_missing"]
    assert (tier1["verdict"], tier1["delivered"]) == ("failing", 0)
    assert [c["code"] for c in tier1["causes"]] == ["application_user_missing"]
