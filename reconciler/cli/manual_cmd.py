"""`reconcile manual`: one checklist of the manual steps across the fleet.

Either reads live state like `plan` (PATH..., --tenant, --shard), or merges saved plans
(--from-plan: the JSON files of `plan --out`, e.g. every shard's artifact) without a request.
"""

from __future__ import annotations

from pathlib import Path

import click

from reconciler import gitops
from reconciler.cli.common import (
    concurrency_option,
    load,
    paths_argument,
    result_out_option,
    sandbox_info,
    sandbox_option,
    save_result,
    shard_option,
    tenant_option,
)
from reconciler.config.shard import Shard
from reconciler.engine.planner import RunOptions, run_plan
from reconciler.errors import InputError
from reconciler.kinds import MANUAL_STEP_KINDS
from reconciler.plan.checklist import fleet_checklist
from reconciler.render.checklist import (
    render_checklist_json,
    render_checklist_markdown,
    render_checklist_text,
)

_RENDERERS = {
    "text": render_checklist_text,
    "markdown": render_checklist_markdown,
    "json": render_checklist_json,
}


@click.command()
@paths_argument
@tenant_option
@shard_option
@click.option(
    "--from-plan",
    "from_plan",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Saved plan JSON files (plan --out), or folders of them, instead of reading live state.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(sorted(_RENDERERS)),
    default="text",
    show_default=True,
    help="Output format.",
)
@result_out_option
@concurrency_option
@sandbox_option
@click.pass_context
def manual(
    ctx: click.Context,
    paths: tuple[Path, ...],
    tenants: tuple[str, ...],
    shard: Shard | None,
    from_plan: tuple[Path, ...],
    fmt: str,
    concurrency: int,
    sandbox: str | None,
) -> None:
    """One checklist of the manual steps across the fleet (each step once, with its tenants)."""
    if from_plan:
        if paths or tenants or shard is not None:
            raise InputError("--from-plan reads saved plans: give no PATH, --tenant or --shard with it")
        plan = gitops.read_saved_plans(from_plan)
    else:
        options = RunOptions(sandbox=sandbox_info(sandbox), tenant_concurrency=concurrency, keep_live=False)
        plan, _ = run_plan(load(paths, tenants, shard), options)
    checklist = fleet_checklist(plan, manual_step_kinds=MANUAL_STEP_KINDS)
    click.echo(_RENDERERS[fmt](checklist), nl=False)
    save_result(ctx, render_checklist_json(checklist), [t.tenant for t in plan.tenants])
    ctx.exit(plan.exit_code(changes_exit=False))
