"""`reconcile plan` and `reconcile drift`: read live state, diff, show. Never writes."""

from __future__ import annotations

from pathlib import Path

import click

from reconciler.cli.common import (
    concurrency_option,
    format_option,
    load,
    paths_argument,
    plan_exit_code,
    render,
    sandbox_info,
    sandbox_option,
    tenant_option,
    write_private,
)
from reconciler.cli.progress import ReadProgress, status_line
from reconciler.engine.planner import RunOptions, run_plan
from reconciler.plan import Plan
from reconciler.render import render_json


def _read(paths: tuple[Path, ...], tenants: tuple[str, ...], concurrency: int, sandbox: str | None) -> Plan:
    """Load the tenant files, read live state, plan; the live state is not kept."""
    loaded = load(paths, tenants)
    with status_line() as line:
        options = RunOptions(
            sandbox=sandbox_info(sandbox),
            tenant_concurrency=concurrency,
            keep_live=False,
            listener=ReadProgress(line, len(loaded)) if line else None,
        )
        plan, _ = run_plan(loaded, options)
    return plan


@click.command()
@paths_argument
@tenant_option
@format_option
@click.option("--out", type=click.Path(path_type=Path), help="Also save the plan as JSON (for apply --plan).")
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when there are changes.")
@concurrency_option
@sandbox_option
@click.pass_context
def plan(
    ctx: click.Context,
    paths: tuple[Path, ...],
    tenants: tuple[str, ...],
    fmt: str,
    out: Path | None,
    detailed_exitcode: bool,
    concurrency: int,
    sandbox: str | None,
) -> None:
    """Show what apply would change (the default; never writes)."""
    result = _read(paths, tenants, concurrency, sandbox)
    click.echo(render(result, fmt), nl=False)
    if out is not None:
        write_private(out, render_json(result))
        click.echo(f"Plan saved to {out}", err=True)
    ctx.exit(plan_exit_code(result, changes_exit=detailed_exitcode))


@click.command()
@paths_argument
@tenant_option
@format_option
@concurrency_option
@sandbox_option
@click.pass_context
def drift(
    ctx: click.Context,
    paths: tuple[Path, ...],
    tenants: tuple[str, ...],
    fmt: str,
    concurrency: int,
    sandbox: str | None,
) -> None:
    """Report drift between the tenant files and live state; exit 2 when there is any."""
    result = _read(paths, tenants, concurrency, sandbox)
    click.echo(render(result, fmt, drift_only=True), nl=False)
    ctx.exit(plan_exit_code(result, changes_exit=True))
