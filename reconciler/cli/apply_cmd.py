"""`reconcile apply`: re-plan (or load a saved plan and check it still holds), show it, confirm,
apply, summarise. Safety rails need --force; without a TTY, --auto-approve is required."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import click

from reconciler.cli.common import (
    concurrency_option,
    load,
    paths_argument,
    render,
    sandbox_info,
    sandbox_option,
    shard_option,
    target_option,
    tenant_option,
)
from reconciler.cli.lock_options import lock_options, say_waiting
from reconciler.cli.progress import ApplyProgress, ReadProgress, status_line
from reconciler.config import LoadedTenant
from reconciler.config.shard import Shard
from reconciler.engine.applier import ApplyOptions, run_apply
from reconciler.engine.lock import apply_locks
from reconciler.engine.planner import RunOptions, make_plan, run_plan
from reconciler.engine.staleness import stale_reasons
from reconciler.errors import ApplyCancelled, InputError, StalePlanError
from reconciler.plan import ApplyResult, Plan, TenantApplyResult, TenantPlan, decode_plan
from reconciler.plan.target import Target, select_targets
from reconciler.render import apply_json_chunks, render_apply_text


def _saved_plan(path: Path) -> Plan:
    try:
        return decode_plan(json.loads(path.read_text("utf-8")))
    except FileNotFoundError:
        raise InputError(f"plan file {path} does not exist") from None
    except ValueError as exc:
        raise InputError(f"plan file {path} is not JSON: {exc}") from None


def _check_saved(
    saved: Plan, loaded: list[LoadedTenant], options: RunOptions
) -> list[tuple[LoadedTenant, TenantPlan]]:
    by_name = {t.name: t for t in loaded}
    missing = [t.tenant for t in saved.tenants if t.tenant not in by_name]
    if missing:
        raise InputError(f"the plan names tenants not found in the tenant files: {', '.join(missing)}")
    chosen = [by_name[t.tenant] for t in saved.tenants]
    _, readings = run_plan(chosen, options)
    problems: list[str] = []
    for saved_tenant, loaded_tenant, reading in zip(saved.tenants, chosen, readings, strict=True):
        if reading.plan.error:
            problems.append(f"{saved_tenant.tenant}: cannot re-read live state: {reading.plan.error}")
            continue
        for reason in stale_reasons(saved_tenant, loaded_tenant.digest, reading.live):
            problems.append(f"{saved_tenant.tenant}: {reason}")
    if problems:
        raise StalePlanError(
            "the saved plan is stale; nothing was written:\n  "
            + "\n  ".join(problems)
            + "\nRun reconcile plan again."
        )
    return list(zip(chosen, saved.tenants, strict=True))


@click.command()
@paths_argument
@tenant_option
@shard_option
@target_option
@click.option("--plan", "plan_file", type=click.Path(path_type=Path), help="Apply exactly this saved plan.")
@click.option("--auto-approve", is_flag=True, help="Do not ask for confirmation.")
@click.option("--force", is_flag=True, help="Allow changes the safety rails hold back.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
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
            saved = _saved_plan(plan_file)
            if tenants or shard is not None:
                chosen = {t.name for t in loaded}
                saved = Plan(
                    tuple(t for t in saved.tenants if t.tenant in chosen),
                    saved.created_at,
                    saved.tool_version,
                )
            pairs = _check_saved(saved, loaded, options)
            plan = saved
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
        click.echo(render(plan, "text", forced=force), nl=False)
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
        result = run_apply(pairs, options, ApplyOptions(progress=progress))
    _finish(ctx, plan, result, fmt)


def _nothing(plan: TenantPlan) -> TenantApplyResult:
    return TenantApplyResult(plan.tenant, manual=plan.manual, error=plan.error)


def _finish(ctx: click.Context, plan: Plan, result: ApplyResult, fmt: str) -> None:
    if fmt == "json":
        for chunk in apply_json_chunks(result):  # written as made: the whole text was the peak
            click.echo(chunk, nl=False)
    else:
        click.echo(render_apply_text(result), nl=False)
    ctx.exit(result.exit_code(plan))
