"""Plan as terminal text: summary first, then per tenant and kind. Colour only when asked
(the CLI asks on a TTY without NO_COLOR).

No raw control character reaches the terminal: values come escaped and shortened from
``common``, and every other line passes ``escape.line_text`` before it is painted."""

from __future__ import annotations

from collections.abc import Callable

from reconciler.plan import Plan, TenantPlan
from reconciler.render.collapse import shared_error_lines, shared_errors
from reconciler.render.common import (
    SYMBOLS,
    details,
    finding_parts,
    headline,
    requests_line,
    summary_line,
    tenant_status,
)
from reconciler.render.escape import PROSE_CHARS, line_text, value_text

_COLOURS = {
    "create": "32",
    "update": "33",
    "delete": "31",
    "action": "35",
    "manual": "36",
    "unknown": "31;1",
    "bold": "1",
    "dim": "2",
}


def render_text(plan: Plan, *, colour: bool = False, drift_only: bool = False, forced: bool = False) -> str:
    """``forced``: the run has --force, so what the rails hold back is shown as allowed."""

    def paint(text: str, style: str) -> str:
        text = line_text(text)
        return f"\x1b[{_COLOURS[style]}m{text}\x1b[0m" if colour else text

    lines = [paint(summary_line(plan), "bold"), ""]
    shared = shared_errors((t.tenant, t.error) for t in plan.tenants)
    for tenant in plan.tenants:
        if drift_only and not (tenant.has_drift or tenant.incomplete or tenant.error):
            continue
        if tenant.error not in shared:
            lines.extend(_tenant(tenant, paint, drift_only, forced))
    lines.extend(
        paint(line, "unknown") if line and not line.startswith(" ") else line
        for line in shared_error_lines(shared)
    )
    return "\n".join(lines).rstrip() + "\n"


def _tenant(tenant: TenantPlan, p: Callable[[str, str], str], drift_only: bool, forced: bool) -> list[str]:
    status = tenant_status(tenant)
    lines = [p(f"Tenant {value_text(tenant.tenant)}: {status}", "bold")]
    if tenant.error:
        lines.append("  " + p(f"error: {value_text(tenant.error, PROSE_CHARS)}", "unknown"))
        lines.append("")
        return lines
    for problem in tenant.problems:
        lines.append("  " + p(f"problem: {value_text(problem, PROSE_CHARS)}", "unknown"))
    for change in tenant.changes:
        if change.op == "manual" and drift_only:
            continue
        symbol = SYMBOLS[change.op]
        lines.append(f"  {p(symbol, change.op)} {headline(change)}")
        for detail in details(change):
            lines.append(f"      {detail}")
        if change.depends_on:
            lines.append("      " + p(f"after: {', '.join(value_text(d) for d in change.depends_on)}", "dim"))
    if not drift_only:
        for item in tenant.unmanaged:
            text = f"unmanaged {value_text(item.kind)} {value_text(item.key)}: {value_text(item.note, PROSE_CHARS)}"
            lines.append("  " + p(text, "dim"))
        for note in tenant.notes:
            lines.append("  " + p(f"note: {value_text(note, PROSE_CHARS)}", "dim"))
    for label, finding in map(finding_parts, tenant.findings):
        lines.append("  " + p(f"! {label}: {value_text(finding, PROSE_CHARS)}", "delete"))
    for violation in tenant.violations():
        rail = "allowed by --force" if forced else "needs --force"
        lines.append("  " + p(f"{rail}: {value_text(violation.reason, PROSE_CHARS)}", "delete"))
    if tenant.requests:
        lines.append("  " + p(f"requests: {requests_line(tenant.requests)}", "dim"))
    lines.append("")
    return lines
