"""`reconcile plan` and `reconcile drift`: read live state, diff, show. Never writes."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from reconciler.cli.common import (
    concurrency_option,
    format_option,
    load,
    paths_argument,
    render,
    result_out_option,
    sandbox_info,
    sandbox_option,
    save_result,
    shard_option,
    target_option,
    tenant_option,
    write_private,
)
from reconciler.cli.exit_help import DRIFT, PLAN, PLAN_CODES, exit_codes
from reconciler.cli.progress import ReadProgress, status_line
from reconciler.config.shard import Shard
from reconciler.engine.health import run_health
from reconciler.engine.planner import RunOptions, run_plan
from reconciler.plan import Plan
from reconciler.plan.evidence import with_health
from reconciler.plan.target import Target, select_targets
from reconciler.render import render_json

F = TypeVar("F", bound=Callable[..., Any])


def _read(
    paths: tuple[Path, ...],
    tenants: tuple[str, ...],
    shard: Shard | None,
    concurrency: int,
    sandbox: str | None,
    health_days: int = 0,
) -> Plan:
    """Load the tenant files, read live state, plan; the live state is not kept. With
    ``health_days``, the manual export steps and findings learn from session-flow health."""
    loaded = load(paths, tenants, shard)
    with status_line() as line:
        options = RunOptions(
            sandbox=sandbox_info(sandbox),
            tenant_concurrency=concurrency,
            keep_live=False,
            listener=ReadProgress(line, len(loaded)) if line else None,
        )
        plan, _ = run_plan(loaded, options)
    if health_days:
        healths = run_health(loaded, dataclasses.replace(options, listener=None), days=health_days)
        plan = dataclasses.replace(
            plan, tenants=tuple(with_health(t, h) for t, h in zip(plan.tenants, healths, strict=True))
        )
    return plan


def health_option(func: F) -> F:
    func = click.option(
        "--health-days",
        type=click.IntRange(1, 90),
        default=7,
        show_default=True,
        help="The window of --health.",
    )(func)
    return click.option(
        "--health",
        is_flag=True,
        help="Also check whether Rescue sessions reach Dynamics: manual export steps show what is "
        "observed, confirmed groups that lose sessions are drift.",
    )(func)


@click.command(epilog=exit_codes(PLAN, PLAN_CODES))
@paths_argument
@tenant_option
@shard_option
@target_option
@format_option
@click.option("--out", type=click.Path(path_type=Path), help="Also save the plan as JSON (for apply --plan).")
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when there are changes.")
@concurrency_option
@sandbox_option
@health_option
@click.pass_context
def plan(
    ctx: click.Context,
    paths: tuple[Path, ...],
    tenants: tuple[str, ...],
    shard: Shard | None,
    targets: tuple[Target, ...],
    fmt: str,
    out: Path | None,
    detailed_exitcode: bool,
    concurrency: int,
    sandbox: str | None,
    health: bool,
    health_days: int,
) -> None:
    """Show what apply would change (never writes)."""
    result = select_targets(
        _read(paths, tenants, shard, concurrency, sandbox, health_days if health else 0), targets
    )
    click.echo(render(result, fmt), nl=False)
    if out is not None:
        write_private(out, render_json(result))
        click.echo(f"Plan saved to {out}", err=True)
    ctx.exit(result.exit_code(changes_exit=detailed_exitcode))


@click.command(epilog=exit_codes(DRIFT, PLAN_CODES))
@paths_argument
@tenant_option
@shard_option
@format_option
@result_out_option
@concurrency_option
@sandbox_option
@health_option
@click.pass_context
def drift(
    ctx: click.Context,
    paths: tuple[Path, ...],
    tenants: tuple[str, ...],
    shard: Shard | None,
    fmt: str,
    concurrency: int,
    sandbox: str | None,
    health: bool,
    health_days: int,
) -> None:
    """Report drift between the tenant files and live state; exit 2 when there is any."""
    result = _read(paths, tenants, shard, concurrency, sandbox, health_days if health else 0)
    click.echo(render(result, fmt, drift_only=True), nl=False)
    save_result(ctx, render_json(result), [t.tenant for t in result.tenants])
    ctx.exit(result.exit_code(changes_exit=True))
