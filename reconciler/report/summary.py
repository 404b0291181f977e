"""The job summary: the summary band and the tenants that need attention, as GitHub markdown
appended to ``$GITHUB_STEP_SUMMARY`` within its 1 MiB per step (a step that writes more loses
its whole summary). Tenant and error text are values: code spans (``render/escape.py``)."""

from __future__ import annotations

from reconciler.render.escape import md_code
from reconciler.report.fleet import Fleet

STEP_SUMMARY_BYTES = 1024 * 1024
_MARGIN = 1024  # what GitHub counts around the text (and the line saying what was left out)
_REASON_CHARS = 300


def _reason(row_reasons: tuple[str, ...]) -> str:
    return md_code(row_reasons[0], _REASON_CHARS, table=True) if row_reasons else ""


def step_summary(fleet: Fleet, report_name: str, budget: int = STEP_SUMMARY_BYTES) -> str:
    """Markdown of at most ``budget`` bytes (UTF-8): whole tenant rows are left out, and said so,
    rather than the upload failing."""
    s = fleet.summary
    head = [
        "## Fleet report",
        "",
        "| tenants | in sync | drifted | failed | unknown | groups losing sessions | manual steps open "
        "| credentials expiring ≤ 30 days | unreadable result files |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {s.tenants} | {s.states['in_sync']} | {s.states['drifted']} | {s.states['failed']} "
        f"| {s.states['unknown']} | {s.groups_losing} | {s.manual_open} | {s.credentials_expiring} "
        f"| {len(fleet.unreadable)} |",
        "",
    ]
    for file, problems in fleet.unreadable:
        head.append(f"- unreadable: {md_code(file, 300)}: {md_code(problems[0], _REASON_CHARS)}")
    attention = [r for r in fleet.rows if r.state in ("failed", "unknown")]
    if attention:
        head += ["", "| tenant | state | reason |", "|---|---|---|"]
    if budget < _MARGIN * 2:  # no room left in the step's summary: nothing rather than a failed upload
        return ""
    lines = list(head)
    used = len("\n".join(lines).encode())
    tail = f"\nThe whole fleet: {md_code(report_name, 300)} (the report artifact).\n"
    room = budget - _MARGIN - len(tail.encode())
    for index, row in enumerate(attention):
        reasons = row.errors + row.operation_detail + row.doctor_failed + row.health_causes
        reasons += tuple(f"{g.path}: {g.verdict}" for g in row.groups if g.losing)
        reasons += tuple(c for c in row.changes if c.startswith(("unknown ", "problem: ")))
        line = f"| {md_code(row.tenant, 200, table=True)} | {row.state} | {_reason(reasons)} |"
        size = len(line.encode()) + 1
        if used + size > room:
            lines.append(f"\n… and {len(attention) - index} more tenants to look at: see the report.")
            break
        lines.append(line)
        used += size
    return "\n".join(lines) + "\n" + tail
