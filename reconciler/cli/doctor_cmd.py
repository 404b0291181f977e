"""`reconcile doctor`: read-only preflight checklist per tenant (exit 0 all pass, 1 otherwise)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from reconciler.cli.common import (
    concurrency_option,
    load,
    paths_argument,
    sandbox_info,
    sandbox_option,
    tenant_option,
)
from reconciler.engine.doctor import FAIL, TenantReport, run_doctor
from reconciler.engine.planner import RunOptions

_MARKS = {"pass": "PASS", "warn": "WARN", "fail": "FAIL"}


def shown(text: str) -> str:
    """Live and tenant values are data: control characters are shown escaped, never obeyed."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)


def render_text(reports: list[TenantReport]) -> str:
    lines: list[str] = []
    for report in reports:
        lines.append(f"tenant {shown(report.tenant)}: {'ready' if report.ok else 'NOT ready'}")
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


@click.command()
@paths_argument
@tenant_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Output format.",
)
@concurrency_option
@sandbox_option
@click.pass_context
def doctor(
    ctx: click.Context,
    paths: tuple[Path, ...],
    tenants: tuple[str, ...],
    fmt: str,
    concurrency: int,
    sandbox: str | None,
) -> None:
    """Check each tenant's setup before a first run (only reads; exit 1 when a check fails).

    Every privilege, table and Graph permission the tenant file's declared state needs is
    checked (technician rules included); a refused read is a failed check, never "ready".
    """
    options = RunOptions(sandbox=sandbox_info(sandbox), tenant_concurrency=concurrency, keep_live=False)
    result = run_doctor(load(paths, tenants), options)
    reports = list(result.reports)
    click.echo(render_json(reports) if fmt == "json" else render_text(reports), nl=False)
    ctx.exit(result.exit_code)
