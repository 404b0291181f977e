"""`reconcile health` and Rescue's report limits (issue 18, point 3): one report per technician,
sessions of every type counted, and a throttled account (the report slot taken by another job,
or too many sign-ins) makes the tenant Unknown naming the limit, never a verdict."""

from __future__ import annotations

import json
from typing import Any

import pytest

from rescue_sandbox import SandboxHandle, running_sandbox

from .conftest import EXAMPLE_TENANTS, control, invoke
from .test_health_causes import prerequisites_in_place

pytestmark = pytest.mark.integration
T = "/tenants/contoso"


def _health(handle: SandboxHandle) -> tuple[int, dict[str, Any]]:
    args = ("--tenant", "contoso", "--sandbox", str(handle.state_dir), "--format", "json")
    run = invoke("health", str(EXAMPLE_TENANTS), *args)
    return run.code, json.loads(run.stdout)["tenants"][0]


def _rescue_counts(handle: SandboxHandle) -> dict[str, int]:
    log = control(handle, "GET", "/requests?tenant=contoso")
    return {c["template"]: c["count"] for c in log["counts"] if c["service"] == "rescue"}


def test_sessions_of_every_type_are_counted_technician_by_technician(demo_sandbox: SandboxHandle) -> None:
    prerequisites_in_place(demo_sandbox)
    control(demo_sandbox, "POST", f"{T}/rescue/sessions", {"group": "Support/Tier 1", "count": 4})
    listed = control(demo_sandbox, "GET", f"{T}/rescue/sessions")["sessions"]
    company = demo_sandbox.sandbox.tenants["contoso"].rescue
    assert len({s.session_type for s in company.book.sessions}) == 5
    control(demo_sandbox, "DELETE", "/requests")
    code, tenant = _health(demo_sandbox)
    tier1 = next(g for g in tenant["groups"] if g["path"] == "Support/Tier 1")
    assert code == 0 and tier1["verdict"] == "healthy" and tier1["sessions"] == len(listed) == 12
    counts = _rescue_counts(demo_sandbox)
    assert counts["getReport_v2.aspx"] == 5 and counts["login.aspx"] == 1


def test_a_report_slot_held_by_another_job_is_waited_out_then_unknown(demo_sandbox: SandboxHandle) -> None:
    prerequisites_in_place(demo_sandbox)
    company = demo_sandbox.sandbox.tenants["contoso"].rescue
    with company.lock:  # another job of the account keeps taking the report slot
        company.book.last_report = company.now() + 3600
    control(demo_sandbox, "DELETE", "/requests")
    code, tenant = _health(demo_sandbox)
    assert code == 3 and tenant["verdict"] == "unknown" and tenant["groups"] == []
    assert "POLLRATEEXCEEDED" in tenant["error"] and "does another job use this account" in tenant["error"]
    assert _rescue_counts(demo_sandbox)["getReport_v2.aspx"] == 3  # REPORT_ATTEMPTS, then no more


def test_too_many_sign_ins_of_the_account_make_the_tenant_unknown(demo_sandbox: SandboxHandle) -> None:
    company = demo_sandbox.sandbox.tenants["contoso"].rescue
    with company.lock:  # ten sign-ins of the account by other jobs, just now
        for _ in range(10):
            company.book.count_login("rescue-admin@contoso.com", company.now())
    control(demo_sandbox, "DELETE", "/requests")
    code, tenant = _health(demo_sandbox)
    assert code == 3 and tenant["verdict"] == "unknown"
    assert "LIMITREACHED: more than 10 sign-ins of this account in 3 minutes" in tenant["error"]
    counts = _rescue_counts(demo_sandbox)
    assert counts["login.aspx"] == 1 and "getReport_v2.aspx" not in counts


def test_a_tenant_waiting_for_its_reports_gives_its_place_to_the_next_tenant() -> None:
    """With one place (--concurrency 1), fabrikam is read while contoso's reports wait for their
    interval (0.5 s here, 60 s on Rescue): the place bounds the reads, not the waits."""
    with running_sandbox(index_job_seconds=0.05, report_interval=0.5) as handle:
        args = ("--tenant", "contoso", "--tenant", "fabrikam", "--sandbox", str(handle.state_dir))
        run = invoke("health", str(EXAMPLE_TENANTS), *args, "--concurrency", "1", "--format", "json")
        assert run.code in (2, 3), run.output
        entries = control(handle, "GET", "/requests")["entries"]
    reports = [
        e["time"] for e in entries if e["tenant"] == "contoso" and e["template"] == "getReport_v2.aspx"
    ]
    fabrikam = [
        e["time"] for e in entries if e["tenant"] == "fabrikam" and e["template"] == "getHierarchy_v2.aspx"
    ]
    assert len(reports) == 5 and len(fabrikam) == 1
    assert fabrikam[0] < reports[-1]
