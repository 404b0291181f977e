"""`reconcile health` over reads that fail (issue 16, case 10), end to end against the sandbox:
with the LogMeIn settings rows unreadable (403: the privilege taken away, or 503), a group whose
sessions do not arrive is Unknown (exit 3) naming the read, never blamed on its export setting;
other failed reads likewise. Health only reads (the request log shows it).

One sandbox for the module, with every prerequisite in place (as in test_health_causes.py);
each test breaks one read and puts it back. Rescue serves one report per minute: the Rescue
clock moves 61 s before each run.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from reconciler.cli import health_cmd
from reconciler.engine.planner import RunOptions
from rescue_sandbox import SandboxHandle, running_sandbox

from .conftest import EXAMPLE_TENANTS, control, invoke
from .test_apply_support import FAST
from .test_health import _group, _health
from .test_health_causes import prerequisites_in_place

pytestmark = pytest.mark.integration
T = "/tenants/contoso"
TIER2 = "Support/Tier 2"  # no export setting in the demo seed: health blamed it by elimination
SETTINGS_READ = "could not read the technicians' LogMeIn settings rows"
# The report's cookie session is set up by set* calls of the report API (they change no data).
REPORT_SETUP = {
    "login.aspx",
    "setReportArea_v8.aspx",
    "setTimezone.aspx",
    "setReportDate_v2.aspx",
    "setReportTime.aspx",
    "setOutput.aspx",
    "setDelimiter.aspx",
}


@pytest.fixture(scope="module")
def ready() -> Iterator[SandboxHandle]:
    with running_sandbox(index_job_seconds=0.05) as handle:
        prerequisites_in_place(handle)
        yield handle


@pytest.fixture(autouse=True)
def _fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries of the 503s without the real backoff (the CLI has no flag for it)."""
    monkeypatch.setattr(health_cmd, "RunOptions", lambda **kwargs: RunOptions(settings=FAST, **kwargs))


def _only_reads(handle: SandboxHandle) -> None:
    entries = control(handle, "GET", "/requests")["entries"]
    assert entries
    for entry in entries:
        if entry["service"] in ("dataverse", "graph"):
            assert entry["method"] == "GET", entry
        elif entry["service"] == "rescue":
            assert entry["template"].startswith("get") or entry["template"] in REPORT_SETUP, entry


def _health_of_tier2(handle: SandboxHandle) -> tuple[int, dict[str, Any], dict[str, Any]]:
    control(handle, "POST", f"{T}/rescue/sessions", {"group": TIER2, "count": 1, "ended_minutes_ago": 30})
    control(handle, "POST", f"{T}/rescue/clock", {"seconds": 61})
    control(handle, "DELETE", "/requests")
    code, tenant = _health(handle)
    _only_reads(handle)
    return code, tenant, _group(tenant, TIER2)


def _unread_texts(group: dict[str, Any]) -> list[str]:
    return [f"could not read {u['what']}: {u['reason']}" for u in group["unread"]]


@pytest.mark.parametrize(
    ("break_it", "restore", "reason"),
    [
        (
            ("DELETE", f"{T}/dynamics/privileges/prvReadlmi_logmeinsettings", None),
            ("POST", f"{T}/dynamics/privileges", {"privilege": "prvReadlmi_logmeinsettings"}),
            "lacks privilege prvReadlmi_logmeinsettings",
        ),
        (
            ("POST", "/faults", {"spec": "dataverse:403=1,path=*lmi_logmeinsettings*"}),
            ("DELETE", "/faults", None),
            "permission denied",
        ),
        (
            ("POST", "/faults", {"spec": "dataverse:503=1,path=*lmi_logmeinsettings*"}),
            ("DELETE", "/faults", None),
            "HTTP 503",
        ),
    ],
    ids=["privilege-403", "fault-403", "fault-503"],
)
def test_unreadable_settings_rows_make_a_losing_group_unknown_not_its_export(
    ready: SandboxHandle, break_it: tuple[str, str, Any], restore: tuple[str, str, Any], reason: str
) -> None:
    control(ready, *break_it)
    try:
        code, tenant, tier2 = _health_of_tier2(ready)
    finally:
        control(ready, *restore)
    assert code == 3 and tenant["verdict"] == "unknown", tenant
    assert tier2["verdict"] == "unknown" and tier2["delivered"] == 0 and tier2["sessions"] >= 2
    assert [c["code"] for c in tier2["causes"]] == []
    (text,) = _unread_texts(tier2)
    assert text.startswith(SETTINGS_READ) and reason in text
    assert not any(c["code"] == "export_missing" for g in tenant["groups"] for c in g["causes"])
    # Read again, the same group is blamed on its export setting: the read was all that was missing.
    control(ready, "POST", f"{T}/rescue/clock", {"seconds": 61})
    code, tenant = _health(ready)
    assert code == 2 and [c["code"] for c in _group(tenant, TIER2)["causes"]] == ["export_missing"]


def test_the_text_output_names_the_read_and_no_export_blame(ready: SandboxHandle) -> None:
    control(ready, "POST", "/faults", {"spec": "dataverse:503=1,path=*lmi_logmeinsettings*"})
    try:
        control(ready, "POST", f"{T}/rescue/clock", {"seconds": 61})
        run = invoke("health", str(EXAMPLE_TENANTS), "--tenant", "contoso", "--sandbox", str(ready.state_dir))
    finally:
        control(ready, "DELETE", "/faults")
    assert run.code == 3, run.output
    assert f"group {TIER2}: UNKNOWN (a read failed)" in run.stdout
    assert f"cause not checked: {SETTINGS_READ}" in run.stdout and "export setting" not in run.stdout


@pytest.mark.parametrize(
    ("spec", "read"),
    [
        ("dataverse:503=1,path=*EntityDefinitions*", "the Session Key status"),
        ("graph:403=1,path=*servicePrincipals*", "admin consent"),
        ("dataverse:503=1,path=*systemuserroles_association*", "the application user"),
    ],
    ids=["session-key", "consent", "application-user"],
)
def test_each_unreadable_prerequisite_is_named_and_blames_nothing(
    ready: SandboxHandle, spec: str, read: str
) -> None:
    control(ready, "POST", "/faults", {"spec": spec})
    try:
        code, _tenant, tier2 = _health_of_tier2(ready)
    finally:
        control(ready, "DELETE", "/faults")
    assert code == 3 and tier2["verdict"] == "unknown" and tier2["causes"] == []
    assert any(u["what"].startswith(read) for u in tier2["unread"]), tier2


def test_an_unreadable_session_row_listing_is_named(ready: SandboxHandle) -> None:
    control(ready, "POST", "/faults", {"spec": "dataverse:503=1,path=*lmi_logmeinsessions*"})
    try:
        control(ready, "POST", f"{T}/rescue/clock", {"seconds": 61})
        code, tenant = _health(ready)
    finally:
        control(ready, "DELETE", "/faults")
    assert code == 3 and tenant["groups"] == []
    assert tenant["error"].startswith("could not read the LogMeIn Session rows of the window: ")


def test_lost_sessions_the_partial_hierarchy_cannot_place_make_the_tenant_unknown(
    demo_sandbox: SandboxHandle,
) -> None:
    """Erin's record (Support/Tier 2) has a line break in her name and cannot be read, and so
    has Support/Tier 1's: her lost sessions belong to a group no verdict can be given for, and
    the declared Tier 1 may be the unreadable record (not "does not exist")."""
    prerequisites_in_place(demo_sandbox)
    control(
        demo_sandbox, "POST", f"{T}/rescue/sessions", {"group": TIER2, "count": 1, "ended_minutes_ago": 30}
    )
    company = demo_sandbox.sandbox.tenants["contoso"].rescue
    with company.lock:
        company.nodes[41005].name = "Erin\nEvans"
        company.nodes[41110].description = "first line\nsecond line"
    code, tenant = _health(demo_sandbox)
    assert code == 3 and tenant["verdict"] == "unknown" and tenant["error"] is None
    whats = [u["what"] for u in tenant["unread"]]
    assert any("(41005)" in w and "did not arrive" in w for w in whats), whats
    tier1 = _group(tenant, "Support/Tier 1")
    assert tier1["verdict"] == "unknown" and "Rescue node 41110" in tier1["unread"][0]["reason"]
    assert not any("does not exist in Rescue" in n for n in tenant["notes"])
    # Dave's lost sessions are placed (Tier 2, every prerequisite read): that verdict stands.
    tier2 = _group(tenant, TIER2)
    assert tier2["verdict"] == "failing" and [c["code"] for c in tier2["causes"]] == ["export_missing"]


def test_an_unreadable_hierarchy_makes_the_tenant_unknown_naming_it(ready: SandboxHandle) -> None:
    control(ready, "POST", "/faults", {"spec": "rescue:503=1,path=getHierarchy_v2.aspx"})
    try:
        control(ready, "POST", f"{T}/rescue/clock", {"seconds": 61})
        code, tenant = _health(ready)
    finally:
        control(ready, "DELETE", "/faults")
    assert code == 3 and tenant["groups"] == [] and tenant["verdict"] == "unknown"
    assert tenant["error"].startswith("could not read the Rescue hierarchy: [contoso] rescue: ")
