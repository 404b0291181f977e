"""`reconcile apply`: re-plan (or read a saved plan, and apply its recomputation when it is
identical to it: engine/saved_plan.py), show it, confirm, apply, summarise. Safety rails need
--force; without a TTY, --auto-approve is required."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import click

from reconciler.cli.common import (
    concurrency_option,
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
)
from reconciler.cli.exit_help import APPLY, APPLY_CODES, exit_codes
from reconciler.cli.lock_options import lock_options, say_waiting
from reconciler.cli.progress import ApplyProgress, ReadProgress, status_line
from reconciler.cli.verbosity import verbose
from reconciler.config.shard import Shard
from reconciler.engine.applier import ApplyOptions, run_apply
from reconciler.engine.lock import apply_locks
from reconciler.engine.planner import RunOptions, make_plan, run_plan
from reconciler.engine.saved_plan import recheck
from reconciler.errors import ApplyCancelled, InputError
from reconciler.plan import ApplyResult, Plan, TenantApplyResult, TenantPlan, read_plan_file
from reconciler.plan.target import Target, select_targets
from reconciler.render import apply_json_chunks, render_apply_json, render_apply_text


def _saved_plan(path: Path, tenants: tuple[str, ...], shard: Shard | None) -> Plan:
    """The saved plan's tenants this run selects (``--tenant``, ``--shard``), read strictly."""
    saved = read_plan_file(path)
    if not tenants and shard is None:
        return saved
    chosen = [
        t
        for t in saved.tenants
        if (not tenants or t.tenant in tenants) and (shard is None or shard.holds(t.tenant))
    ]
    return Plan(tuple(chosen), saved.created_at, saved.tool_version)


@click.command(epilog=exit_codes(APPLY, APPLY_CODES))
@paths_argument
@tenant_option
@shard_option
@target_option
@click.option(
    "--plan",
    "plan_file",
    type=click.Path(path_type=Path),
    help="Apply this saved plan (plan --out) if the tenant files and live state still give exactly it.",
)
@click.option("--auto-approve", is_flag=True, help="Do not ask for confirmation.")
@click.option("--force", is_flag=True, help="Allow changes the safety rails hold back.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Output format: text shows the plan first and asks; json prints only the result (with --auto-approve).",
)
@click.option(
    "--import-wait",
    type=click.FloatRange(min=0, max=24 * 3600),
    default=3600.0,
    show_default=True,
    help="Seconds a solution import may take, waiting for one already running included (Dataverse runs one "
    "at a time); past it the import is reported unknown (exit 3).",
)
@result_out_option
@concurrency_option
@sandbox_option
@lock_options
@click.pass_context
def apply(
    ctx: click.Context,
    paths: tuple[Path, ...],
    tenants: tuple[str, ...],
    shard: Shard | None,
    targets: tuple[Target, ...],
    plan_file: Path | None,
    auto_approve: bool,
    force: bool,
    fmt: str,
    import_wait: float,
    concurrency: int,
    sandbox: str | None,
    lock_timeout: float,
    lock_dir: Path | None,
) -> None:
    """Make live state match the tenant files."""
    loaded = load(paths, tenants, shard)
    # Before live state is read, until the command ends: one apply per tenant (docs/concurrency.md).
    ctx.with_resource(apply_locks(loaded, timeout=lock_timeout, lock_dir=lock_dir, on_wait=say_waiting))
    with status_line() as line:
        options = RunOptions(
            sandbox=sandbox_info(sandbox),
            tenant_concurrency=concurrency,
            listener=ReadProgress(line, len(loaded)) if line else None,
        )
        if plan_file is not None:
            # What runs is the recomputation (identical to the saved plan, or refused), never
            # the file's changes, rails or counts (engine/saved_plan.py).
            saved = _saved_plan(plan_file, tenants, shard)
            pairs = recheck(saved, loaded, options)
            plan = Plan(tuple(p for _, p in pairs), saved.created_at, saved.tool_version)
        else:
            # The applier reads nothing from this reading but the plan: let live state go per
            # tenant instead of holding every tenant's until the end (peak memory at 100 x 1,000).
            _, readings = run_plan(loaded, dataclasses.replace(options, keep_live=False))
            plan = make_plan(readings)
            pairs = list(zip(loaded, plan.tenants, strict=True))
    if targets:
        plan = select_targets(plan, targets)
        pairs = [(tenant, narrowed) for (tenant, _), narrowed in zip(pairs, plan.tenants, strict=True)]
    if fmt == "text":
        # The manual steps are listed once, after the apply (what is left to do).
        click.echo(render(plan, "text", forced=force, list_manual=False))
    plan.raise_if_unsafe(force=force)
    if not plan.has_changes:
        result = ApplyResult(tuple(_nothing(p) for _, p in pairs))
        _finish(ctx, plan, result, fmt)
        return
    if not auto_approve:
        if not sys.stdin.isatty():
            raise InputError("apply needs confirmation: run it in a terminal, or pass --auto-approve")
        answer = click.prompt("Apply these changes? Only 'yes' is accepted", default="", show_default=False)
        if answer.strip() != "yes":
            raise ApplyCancelled("Apply cancelled; nothing was written.")
    with status_line() as line:
        changes = sum(len(p.actionable) for _, p in pairs)
        progress = ApplyProgress(line, changes) if line else None
        result = run_apply(pairs, options, ApplyOptions(progress=progress, import_wait_seconds=import_wait))
    _finish(ctx, plan, result, fmt)


def _nothing(plan: TenantPlan) -> TenantApplyResult:
    return TenantApplyResult(plan.tenant, manual=plan.manual, error=plan.error)


def _finish(ctx: click.Context, plan: Plan, result: ApplyResult, fmt: str) -> None:
    if fmt == "json":
        for chunk in apply_json_chunks(result):  # written as made: the whole text was the peak
            click.echo(chunk, nl=False)
    else:
        click.echo(render_apply_text(result, verbose=verbose()), nl=False)
    save_result(ctx, render_apply_json(result), [t.tenant for t in result.tenants])
    ctx.exit(result.exit_code(plan))
