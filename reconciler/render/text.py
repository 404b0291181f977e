"""Plan as terminal text: summary first, then per tenant and kind. Colour only when asked
(the CLI asks on a TTY without NO_COLOR)."""

from __future__ import annotations

from collections.abc import Callable

from reconciler.plan import Plan, TenantPlan
from reconciler.render.common import SYMBOLS, details, headline, requests_line, summary_line, tenant_status

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


def render_text(plan: Plan, *, colour: bool = False, drift_only: bool = False) -> str:
    def paint(text: str, style: str) -> str:
        return f"\x1b[{_COLOURS[style]}m{text}\x1b[0m" if colour else text

    lines = [paint(summary_line(plan), "bold"), ""]
    for tenant in plan.tenants:
        if drift_only and not (tenant.has_drift or tenant.incomplete or tenant.error):
            continue
        lines.extend(_tenant(tenant, paint, drift_only))
    return "\n".join(lines).rstrip() + "\n"


def _tenant(tenant: TenantPlan, p: Callable[[str, str], str], drift_only: bool) -> list[str]:
    status = tenant_status(tenant)
    lines = [p(f"Tenant {tenant.tenant}: {status}", "bold")]
    if tenant.error:
        lines.append("  " + p(f"error: {tenant.error}", "unknown"))
        lines.append("")
        return lines
    for problem in tenant.problems:
        lines.append("  " + p(f"problem: {problem}", "unknown"))
    for change in tenant.changes:
        if change.op == "manual" and drift_only:
            continue
        symbol = SYMBOLS[change.op]
        lines.append(f"  {p(symbol, change.op)} {headline(change)}")
        for detail in details(change):
            lines.append(f"      {detail}")
        if change.depends_on:
            lines.append("      " + p(f"after: {', '.join(change.depends_on)}", "dim"))
    if not drift_only:
        for item in tenant.unmanaged:
            lines.append("  " + p(f"unmanaged {item.kind} {item.key}: {item.note}", "dim"))
        for note in tenant.notes:
            lines.append("  " + p(f"note: {note}", "dim"))
    for finding in tenant.findings:
        lines.append("  " + p(f"! health: {finding}", "delete"))
    for violation in tenant.violations():
        lines.append("  " + p(f"needs --force: {violation.reason}", "delete"))
    if tenant.requests:
        lines.append("  " + p(f"requests: {requests_line(tenant.requests)}", "dim"))
    lines.append("")
    return lines
