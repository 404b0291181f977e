"""Plan as a GitHub PR comment: summary table, a collapsible section per tenant, manual steps as
a checklist. Kept under GitHub's comment limit; what is cut is said."""

from __future__ import annotations

from reconciler.plan import Manual, Plan, TenantPlan
from reconciler.render.common import (
    KIND_TITLES,
    details,
    headline,
    requests_line,
    summary_line,
    tenant_status,
)

MAX_CHARS = 60_000
MARKER = "<!-- reconcile-plan -->"


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def _tenant_section(tenant: TenantPlan) -> str:
    status = tenant_status(tenant)
    open_attr = " open" if tenant.has_drift or tenant.error or tenant.incomplete else ""
    out = [f"<details{open_attr}><summary><b>{_escape(tenant.tenant)}</b>: {status}</summary>", ""]
    if tenant.error:
        out += [f"> **Error:** {_escape(tenant.error)}", ""]
    for problem in tenant.problems:
        out.append(f"- :x: {_escape(problem)}")
    changes = [c for c in tenant.changes if not isinstance(c, Manual)]
    if changes:
        out += ["```diff"]
        for change in changes:
            sign = {"create": "+", "update": "!", "delete": "-", "action": "!", "unknown": "#"}[change.op]
            out.append(f"{sign} {headline(change)}")
            out += [f"{sign}     {d}" for d in details(change)]
        out += ["```", ""]
    manual = tenant.manual
    if manual:
        out += ["**Manual steps** (only a person can do these):", ""]
        for step in manual:
            out.append(f"- [ ] **{_escape(step.title)}** — {_escape(step.reason)}")
            out += [f"  {i}. {_escape(s)}" for i, s in enumerate(step.steps, 1)]
        out.append("")
    if tenant.unmanaged:
        out += ["Unmanaged (reported, not changed):", ""]
        out += [
            f"- {KIND_TITLES.get(u.kind, u.kind)} `{_escape(u.key)}`: {_escape(u.note)}"
            for u in tenant.unmanaged
        ]
        out.append("")
    for note in tenant.notes:
        out.append(f"- note: {_escape(note)}")
    for finding in tenant.findings:
        out.append(f"- :warning: health: {_escape(finding)}")
    for violation in tenant.violations():
        out.append(f"- :warning: needs `--force`: {_escape(violation.reason)}")
    if tenant.requests:
        out += ["", f"<sub>requests: {requests_line(tenant.requests)}</sub>"]
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
            f"| {_escape(t.tenant)} | {tenant_status(t)} | {ops['create']} | {ops['update']} | {ops['delete']} "
            f"| {ops['action']} | {ops['manual']} | {ops['unknown']} |"
        )
    head.append("")
    text = "\n".join(head)
    footer = f"\n<sub>plan format {plan.format_version} · reconcile {plan.tool_version} · {plan.created_at}</sub>\n"
    # Tenants with something to say first, so a cut drops the quiet ones.
    ordered = sorted(
        plan.tenants, key=lambda t: (not (t.error or t.has_changes or t.incomplete), not t.manual)
    )
    omitted: list[str] = []
    for tenant in ordered:
        section = _tenant_section(tenant)
        if len(text) + len(section) + len(footer) + 400 > limit:
            omitted.append(tenant.tenant)
            continue
        text += "\n" + section
    if omitted:
        text += (
            f"\n> :scissors: {len(omitted)} tenant section(s) cut to stay under {limit:,} characters: "
            + ", ".join(_escape(n) for n in omitted[:50])
            + (" …" if len(omitted) > 50 else "")
            + ". The full plan is in the workflow's plan artifacts.\n"
        )
    return text + footer
