"""Plan as a GitHub PR comment: summary table, a collapsible section per tenant, manual steps as
a checklist. Kept under GitHub's comment limit; what is cut is said.

Values are never markup: in prose they are plain words or code spans (``escape.md_text``), changes sit in a
fence no value can close, and the tenant name in the HTML summary is HTML-escaped."""

from __future__ import annotations

from reconciler.kinds import kind_title
from reconciler.plan import Manual, Plan, TenantPlan
from reconciler.render.collapse import shared_error_lines, shared_errors
from reconciler.render.common import (
    details,
    finding_parts,
    headline,
    requests_line,
    summary_line,
    tenant_status,
)
from reconciler.render.escape import html_text, md_fence, md_prose, md_prose_lines, md_text

MAX_CHARS = 60_000
MARKER = "<!-- reconcile-plan -->"


def _tenant_section(tenant: TenantPlan) -> str:
    status = tenant_status(tenant)
    open_attr = " open" if tenant.has_drift or tenant.error or tenant.incomplete else ""
    out = [f"<details{open_attr}><summary><b>{html_text(tenant.tenant)}</b>: {status}</summary>", ""]
    if tenant.error:
        said = md_prose_lines(tenant.error)
        if len(said) == 1:
            out += [f"> **Error:** {said[0]}", ""]
        else:  # a fenced block starts a line of its own
            out += ["> **Error:**", ">", *(f"> {line}" for line in said), ""]
    for problem in tenant.problems:
        out.append(f"- :x: {md_prose(problem)}")
    changes = [c for c in tenant.changes if not isinstance(c, Manual)]
    if changes:
        lines = []
        for change in changes:
            sign = {"create": "+", "update": "!", "delete": "-", "action": "!", "unknown": "#"}[change.op]
            lines.append(f"{sign} {headline(change)}")
            lines += [f"{sign}     {d}" for d in details(change)]
        out += [*md_fence(lines, "diff"), ""]
    manual = tenant.manual
    if manual:
        out += ["**Manual steps** (only a person can do these):", ""]
        for step in manual:
            out.append(f"- [ ] **{md_prose(step.title)}** — {md_prose(step.reason)}")
            out += [f"  {i}. {md_prose(s)}" for i, s in enumerate(step.steps, 1)]
        out.append("")
    if tenant.unmanaged:
        out += ["Unmanaged (reported, not changed):", ""]
        out += [
            f"- {md_text(kind_title(u.kind))} {md_text(u.key)}: {md_prose(u.note)}" for u in tenant.unmanaged
        ]
        out.append("")
    for note in tenant.notes:
        out.append(f"- note: {md_prose(note)}")
    for label, finding in map(finding_parts, tenant.findings):
        out.append(f"- :warning: {label}: {md_prose(finding)}")
    for violation in tenant.violations():
        out.append(f"- :warning: needs `--force`: {md_prose(violation.reason)}")
    if tenant.requests:
        out += ["", f"<sub>requests: {md_text(requests_line(tenant.requests))}</sub>"]
    out += ["", "</details>", ""]
    return "\n".join(out)


def render_markdown(plan: Plan, *, title: str = "reconcile plan", limit: int = MAX_CHARS) -> str:
    head = [MARKER, f"### {title}", "", f"**{summary_line(plan)}**", ""]
    head += [
        "| tenant | status | create | update | delete | repair | manual | unknown |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for t in plan.tenants:
        ops = {
            op: sum(1 for c in t.changes if c.op == op)
            for op in ("create", "update", "delete", "action", "manual", "unknown")
        }
        head.append(
            f"| {md_text(t.tenant, table=True)} | {tenant_status(t)} | {ops['create']} | {ops['update']} | {ops['delete']} "
            f"| {ops['action']} | {ops['manual']} | {ops['unknown']} |"
        )
    head.append("")
    # An error many tenants share (credentials expired together) is said once, not per section.
    shared = shared_errors((t.tenant, t.error) for t in plan.tenants)
    head += shared_error_lines(shared, markdown=True)
    text = "\n".join(head)
    stamp = " · ".join(
        md_text(part)
        for part in (f"plan format {plan.format_version}", f"reconcile {plan.tool_version}", plan.created_at)
    )
    footer = f"\n<sub>{stamp}</sub>\n"
    # Tenants with something to say first, so a cut drops the quiet ones.
    ordered = sorted(
        plan.tenants, key=lambda t: (not (t.error or t.has_changes or t.incomplete), not t.manual)
    )
    omitted: list[str] = []
    for tenant in ordered:
        if tenant.error in shared:
            continue
        section = _tenant_section(tenant)
        if len(text) + len(section) + len(footer) + 400 > limit:
            omitted.append(tenant.tenant)
            continue
        text += "\n" + section
    if omitted:
        text += (
            f"\n> :scissors: {len(omitted)} tenant section(s) cut to stay under {limit:,} characters: "
            + ", ".join(md_text(n) for n in omitted[:50])
            + (" …" if len(omitted) > 50 else "")
            + ". The full plan is in the workflow's plan artifacts.\n"
        )
    return text + footer
