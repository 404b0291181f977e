"""`reconcile doctor`: read-only preflight checklist per tenant (exit 0 all pass, 1 a check failed, 3
unknown), and `--least-privilege`: what the tenants need, with no request."""

from __future__ import annotations

import json
from pathlib import Path

import click

from reconciler.cli.common import (
    concurrency_option,
    load,
    paths_argument,
    result_out_option,
    sandbox_info,
    sandbox_option,
    save_result,
    tenant_option,
)
from reconciler.config import LoadedTenant
from reconciler.engine.doctor import FAIL, TenantReport, run_doctor
from reconciler.engine.needs import tenant_needs
from reconciler.engine.planner import RunOptions
from reconciler.profile import effective_profile
from reconciler.render.escape import md_text
from reconciler.render.least_privilege import as_json as least_as_json
from reconciler.render.least_privilege import need_sections
from reconciler.render.least_privilege import render_json as least_json
from reconciler.render.least_privilege import render_markdown as least_markdown
from reconciler.render.least_privilege import render_text as least_text

_MARKS = {"pass": "PASS", "warn": "WARN", "fail": "FAIL", "unknown": "????"}


def shown(text: str) -> str:
    """Live and tenant values are data: control characters are shown escaped, never obeyed."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)


def render_text(reports: list[TenantReport]) -> str:
    lines: list[str] = []
    for report in reports:
        verdict = (
            "ready"
            if report.ok
            else "NOT ready"
            if report.failed
            else "unknown (not every check could be made)"
        )
        lines.append(f"tenant {shown(report.tenant)}: {verdict}")
        width = max((len(c.name) for c in report.checks), default=0)
        for check in report.checks:
            lines.append(f"  {_MARKS[check.status]}  {shown(check.name).ljust(width)}  {shown(check.detail)}")
            if check.fix:
                lines.append(f"        {' ' * width}  fix: {shown(check.fix)}")
    failed = sum(1 for r in reports if not r.ok)
    lines.append(f"{len(reports) - failed} of {len(reports)} tenant(s) ready")
    return "\n".join(lines) + "\n"


def render_json(reports: list[TenantReport]) -> str:
    data = {
        "tenants": [
            {
                "tenant": r.tenant,
                "ok": r.ok,
                "checks": [
                    {
                        "name": c.name,
                        "status": c.status,
                        "detail": c.detail,
                        **({"fix": c.fix} if c.fix else {}),
                    }
                    for c in r.checks
                ],
                "credentials": r.credentials,
            }
            for r in reports
        ],
        "failed": sum(1 for r in reports for c in r.checks if c.status == FAIL),
    }
    return json.dumps(data, indent=2, ensure_ascii=True) + "\n"


def render_least_privilege(tenants: list[LoadedTenant], fmt: str) -> str:
    """Each tenant's least-privilege list (``render/least_privilege.py``), from its needs."""
    listed = [
        (t.name, need_sections(tenant_needs(t.model, profile), profile))
        for t in tenants
        for profile in (effective_profile(t.model.profile),)
    ]
    if fmt == "json":
        return least_json([least_as_json(name, sections) for name, sections in listed])
    if fmt == "markdown":
        return "\n".join(f"### {md_text(name)}\n\n{least_markdown(sections)}" for name, sections in listed)
    return "".join(least_text(name, sections) for name, sections in listed)


@click.command()
@paths_argument
@tenant_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
    help="Output format (markdown: with --least-privilege only).",
)
@click.option(
    "--least-privilege",
    is_flag=True,
    help="Print what each tenant's declared kinds need (Dataverse privileges by table and access "
    "level, Graph application permissions, the report sign-in...) and exit; no request is made.",
)
@result_out_option
@concurrency_option
@sandbox_option
@click.pass_context
def doctor(
    ctx: click.Context,
    paths: tuple[Path, ...],
    tenants: tuple[str, ...],
    fmt: str,
    least_privilege: bool,
    concurrency: int,
    sandbox: str | None,
) -> None:
    """Check each tenant's setup before a first run (only reads; exit 1 when a check fails).

    Exit 3 when no check failed but one could not be made for a temporary reason (an identity
    outage, throttling).

    Every privilege, table and Graph permission the tenant file's declared state needs is
    checked (technician rules included), admin consent (unless `consent: {check: false}`) and
    what `reconcile health` checks first; a refused read or a blocker is never "ready".
    `--least-privilege` prints those needs as an admin grants them, with no request.
    """
    if least_privilege:
        click.echo(render_least_privilege(load(paths, tenants), fmt), nl=False)
        return
    if fmt == "markdown":
        raise click.UsageError("--format markdown is for --least-privilege")
    options = RunOptions(sandbox=sandbox_info(sandbox), tenant_concurrency=concurrency, keep_live=False)
    result = run_doctor(load(paths, tenants), options)
    reports = list(result.reports)
    click.echo(render_json(reports) if fmt == "json" else render_text(reports), nl=False)
    save_result(ctx, render_json(reports), [r.tenant for r in reports])
    ctx.exit(result.exit_code)
