"""Apply summary: per tenant what was done, what failed (why), what was skipped (on what), and
the manual steps left, as text or JSON."""

from __future__ import annotations

import dataclasses
import json

from reconciler.plan import ApplyResult
from reconciler.render.collapse import shared_error_lines, shared_errors
from reconciler.render.common import requests_line


def render_apply_text(result: ApplyResult) -> str:
    totals = result.totals()
    lines = [f"Apply: {totals['done']} done, {totals['failed']} failed, {totals['skipped']} skipped.", ""]
    manual_total = 0
    shared = shared_errors((t.tenant, t.error) for t in result.tenants)
    for tenant in result.tenants:
        manual_total += len(tenant.manual)
        if tenant.error in shared:
            continue
        head = f"Tenant {tenant.tenant}: "
        if tenant.error:
            lines.append(head + f"failed: {tenant.error}")
        else:
            lines.append(
                head
                + f"{tenant.count('done')} done, {tenant.count('failed')} failed, {tenant.count('skipped')} skipped"
            )
        for outcome in tenant.outcomes:
            mark = {"done": "ok", "failed": "FAILED", "skipped": "skipped"}[outcome.status]
            lines.append(
                f"  {mark:7} {outcome.change_id}" + (f": {outcome.message}" if outcome.message else "")
            )
        if tenant.requests:
            lines.append(f"  requests: {requests_line(tenant.requests)}")
        lines.append("")
    lines.extend(shared_error_lines(shared))
    if manual_total:
        lines.append(f"Manual steps left ({manual_total}): only a person can do these")
        for tenant in result.tenants:
            for step in tenant.manual:
                lines.append(f"  [ ] {tenant.tenant}: {step.title}")
                lines.extend(f"      {i}. {s}" for i, s in enumerate(step.steps, 1))
        lines.append("")
    return "\n".join(lines)


def render_apply_json(result: ApplyResult) -> str:
    data = {
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
    return json.dumps(data, indent=2) + "\n"
