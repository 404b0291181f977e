"""Plan as terminal text: summary first, then per tenant and kind. Colour only when asked
(the CLI asks on a TTY without NO_COLOR).

No raw control character reaches the terminal: values come escaped and shortened from
``common``, and every other line passes ``escape.line_text`` before it is painted."""

from __future__ import annotations

from collections.abc import Callable

from reconciler.plan import Plan, TenantPlan
from reconciler.plan.checklist import group_steps
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
from reconciler.render.escape import PROSE_CHARS, line_text, prose_lines, value_text
from reconciler.render.fleet import manual_lines, shared_note_lines, shared_notes, tally_line, tenants_phrase

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


def render_text(
    plan: Plan,
    *,
    colour: bool = False,
    drift_only: bool = False,
    forced: bool = False,
    verbose: bool = True,
    list_manual: bool = True,
) -> str:
    """``forced``: the run has --force, so what the rails hold back is shown as allowed.
    ``list_manual=False``: one line says how many manual steps are open (drift, whose head does not
    count them; apply, which lists what is left after it ran) instead of the steps.

    What many tenants share is said once, after the tenant sections: an error, a note, a manual
    step (with its tenants). Without ``verbose`` a tenant with nothing more to say has no section
    and its request counts are left out; the last line counts tenants by status.
    """

    def paint(text: str, style: str) -> str:
        text = line_text(text)
        return f"\x1b[{_COLOURS[style]}m{text}\x1b[0m" if colour else text

    list_manual = list_manual and not drift_only
    lines = [paint(summary_line(plan, manual=list_manual), "bold"), ""]
    shared = shared_errors((t.tenant, t.error) for t in plan.tenants)
    notes = shared_notes((t.tenant, t.notes) for t in plan.tenants if not drift_only)
    hidden = 0
    for tenant in plan.tenants:
        if drift_only and not (tenant.has_drift or tenant.incomplete or tenant.error):
            continue
        if tenant.error in shared:
            continue
        body = _tenant(tenant, paint, drift_only, forced, verbose, notes)
        if verbose or len(body) > 2:  # more than the tenant's head line and its blank line
            lines.extend(body)
        else:
            hidden += 1
    lines.extend(
        paint(line, "unknown") if line and not line.startswith(" ") else line
        for line in shared_error_lines(shared)
    )
    items = group_steps((t.tenant, t.manual) for t in plan.tenants)
    if not list_manual:
        if items:
            tenants = tenants_phrase([t.tenant for t in plan.tenants if t.manual])
            said = (
                f"Manual steps open: {len(items)} distinct for {tenants}; `reconcile manual` lists them."
                if drift_only
                else f"Manual steps: {len(items)} distinct for {tenants}; listed after the apply."
            )
            lines += [paint(said, "manual"), ""]
    else:
        lines.extend(
            paint(line, "manual") if line and not line.startswith(" ") else line
            for line in manual_lines(items, "Manual steps")
        )
    lines.extend(shared_note_lines(notes))
    lines.append(paint(tally_line([tenant_status(t) for t in plan.tenants], hidden), "dim"))
    return "\n".join(lines).rstrip() + "\n"


def _tenant(
    tenant: TenantPlan,
    p: Callable[[str, str], str],
    drift_only: bool,
    forced: bool,
    verbose: bool,
    shared_notes: dict[str, list[str]],
) -> list[str]:
    status = tenant_status(tenant)
    lines = [p(f"Tenant {value_text(tenant.tenant)}: {status}", "bold")]
    if tenant.error:
        first, *more = prose_lines(tenant.error)
        lines.append("  " + p(f"error: {first}", "unknown"))
        lines.extend("  " + p(line, "unknown") for line in more)
        lines.append("")
        return lines
    for problem in tenant.problems:
        lines.append("  " + p(f"problem: {value_text(problem, PROSE_CHARS)}", "unknown"))
    for change in tenant.changes:
        if change.op == "manual":  # said once for the fleet, after the tenants
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
            if note not in shared_notes:
                lines.append("  " + p(f"note: {value_text(note, PROSE_CHARS)}", "dim"))
    for label, finding in map(finding_parts, tenant.findings):
        lines.append("  " + p(f"! {label}: {value_text(finding, PROSE_CHARS)}", "delete"))
    for violation in tenant.violations():
        rail = "allowed by --force" if forced else "needs --force"
        lines.append("  " + p(f"{rail}: {value_text(violation.reason, PROSE_CHARS)}", "delete"))
    if tenant.requests and verbose:
        lines.append("  " + p(f"requests: {requests_line(tenant.requests)}", "dim"))
    lines.append("")
    return lines
