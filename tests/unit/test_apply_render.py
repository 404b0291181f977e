"""Apply summary: failures that share a cause are one line, with their objects grouped by kind."""

from __future__ import annotations

import dataclasses
import json

import pytest

from reconciler.plan import ApplyResult
from reconciler.plan.changes import Manual
from reconciler.plan.result import Outcome, TenantApplyResult
from reconciler.render import apply_json_chunks, render_apply_text

ETAG = "changed since the plan was made (ETag mismatch); plan again"


def test_a_concurrent_change_is_one_line_per_cause_grouped_by_kind() -> None:
    outcomes = (
        *(Outcome(f"technician:user{i}@contoso.com", "failed", ETAG) for i in range(120)),
        *(Outcome(f"rescue_technician:{41000 + i}", "failed", f"[contoso] rescue: technician {41000 + i} changed since the plan") for i in range(10)),
        *(Outcome(f"rescue_technician:{42000 + i}", "skipped", f"depends on technician:user{i}@contoso.com, which did not succeed") for i in range(5)),
        Outcome("integration:configuration", "done"),
        Outcome("session_key:t/k", "failed", "HTTP 500"),
    )  # fmt: skip
    text = render_apply_text(ApplyResult((TenantApplyResult("contoso", outcomes),)))
    lines = text.splitlines()
    assert len(lines) < 20, text
    assert (
        "  FAILED  another change touched 130 of the objects this apply planned after the plan was made"
        in text
    )
    assert "Plan again, review, and apply the new plan." in text
    assert (
        "          technician settings (120): user0@contoso.com, user1@contoso.com, user2@contoso.com, "
        "user3@contoso.com, user4@contoso.com, user5@contoso.com, user6@contoso.com, user7@contoso.com and "
        "112 more" in lines
    )
    assert (
        "          Rescue technician (10): 41000, 41001, 41002, 41003, 41004, 41005, 41006, 41007 and 2 more"
        in lines
    )
    assert "  skipped 5 changes: depends on a change that did not succeed" in lines
    assert "  FAILED  session_key:t/k: HTTP 500" in lines
    assert "  ok      integration:configuration" in lines
    assert "ETag mismatch; plan again" not in text  # the per-row wording is gone


def test_hostile_values_in_an_apply_summary_are_escaped() -> None:
    outcomes = (Outcome("technician:a\nb", "failed", "boom\x1b[31m\u202e"),)
    text = render_apply_text(ApplyResult((TenantApplyResult("t\r", outcomes, error=""),)))
    assert "\x1b" not in text and "\u202e" not in text and "\r" not in text
    assert "technician:a\\nb: boom\\x1b[31m\\u202e" in text


@pytest.mark.parametrize("tenants", [0, 1, 3])
def test_json_written_per_tenant_is_the_whole_document_indented(tenants: int) -> None:
    step = Manual("consent", "t", (), "Grant consent", "why", ("open\nthe page", 'click \u2028 "yes"'))
    result = ApplyResult(
        tuple(
            TenantApplyResult(
                f"t{n}\u00e9",
                (Outcome(f"technician:u{n}@x", "done"), Outcome("session_key:k", "failed", "a\tb\nc")),
                manual=(step,) if n == 1 else (),
                error="refused" if n == 2 else "",
                requests={"dataverse": {"requests": n, "endpoints": {}}},
            )
            for n in range(tenants)
        )
    )
    whole = {
        "format_version": 1,
        "totals": result.totals(),
        "complete": result.complete,
        "tenants": [
            {
                "tenant": t.tenant,
                "error": t.error,
                "outcomes": [dataclasses.asdict(o) for o in t.outcomes],
                "manual": [{"id": m.id, "title": m.title, "steps": list(m.steps)} for m in t.manual],
                "requests": dict(t.requests),
            }
            for t in result.tenants
        ],
    }
    chunks = list(apply_json_chunks(result))
    assert len(chunks) == (1 if tenants == 0 else tenants + 2)
    assert "".join(chunks) == json.dumps(whole, indent=2) + "\n"


def test_an_unknown_outcome_says_so_in_the_totals_and_its_line() -> None:
    outcomes = (
        Outcome("solution:LogMeInRescueIntegration", "unknown", "another solution import is running (system job 1)"),
        Outcome("integration:configuration", "skipped", "depends on solution:LogMeInRescueIntegration, which did not succeed"),
    )  # fmt: skip
    text = render_apply_text(ApplyResult((TenantApplyResult("contoso", outcomes),)))
    assert text.startswith("Apply: 0 done, 0 failed, 1 skipped, 1 unknown (still running).")
    assert "Tenant contoso: 0 done, 0 failed, 1 skipped, 1 unknown" in text
    assert (
        "  UNKNOWN solution:LogMeInRescueIntegration: another solution import is running (system job 1)"
        in text
    )
