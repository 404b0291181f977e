"""`reconcile health`: do Rescue sessions reach Dynamics, group by group? Never writes."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from pathlib import Path

import click

from reconciler.cli.common import (
    concurrency_option,
    format_option,
    load,
    paths_argument,
    sandbox_info,
    sandbox_option,
    shard_option,
    tenant_option,
    write_private,
)
from reconciler.cli.verbosity import verbose
from reconciler.config.shard import Shard
from reconciler.engine.health import run_health
from reconciler.engine.planner import RunOptions
from reconciler.plan.health import HealthResult, TenantHealth
from reconciler.render.health import render_health_json, render_health_markdown, render_health_text


@click.command()
@paths_argument
@tenant_option
@shard_option
@click.option(
    "--days", type=click.IntRange(1, 90), default=7, show_default=True, help="The window: the last N days."
)
@format_option
@click.option("--out", type=click.Path(path_type=Path), help="Also save the result as JSON.")
@concurrency_option
@sandbox_option
@click.pass_context
def health(
    ctx: click.Context,
    paths: tuple[Path, ...],
    tenants: tuple[str, ...],
    shard: Shard | None,
    days: int,
    fmt: str,
    out: Path | None,
    concurrency: int,
    sandbox: str | None,
) -> None:
    """Show, per tenant and technician group, whether Rescue sessions reach Dynamics, and why not.

    Exit 0 when every group delivers (or had no sessions), 2 when a group loses sessions or a
    prerequisite blocks every session, 3 when a read a verdict or its cause depends on failed
    (that tenant or group is Unknown, naming the read: never healthy, never a guessed cause).
    """
    options = RunOptions(sandbox=sandbox_info(sandbox), tenant_concurrency=concurrency, keep_live=False)
    result = HealthResult(tuple(run_health(load(paths, tenants, shard), options, days=days)))
    renderers: dict[str, Callable[[Sequence[TenantHealth]], str]] = {
        "json": render_health_json,
        "markdown": render_health_markdown,
        "text": functools.partial(render_health_text, verbose=verbose()),
    }
    click.echo(renderers[fmt](result.tenants), nl=False)
    if out is not None:
        write_private(out, render_health_json(result.tenants))
    ctx.exit(result.exit_code)
