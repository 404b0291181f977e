"""Options and helpers shared by the commands."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click
from click.shell_completion import CompletionItem

from reconciler.atomicfile import write_atomic
from reconciler.cli.allow_hosts import allow_host_option, allowed_hosts
from reconciler.cli.verbosity import verbose
from reconciler.config import LoadedTenant, load_tenants
from reconciler.config.shard import Shard, parse_shard
from reconciler.engine.connection import SandboxInfo
from reconciler.plan import Plan
from reconciler.plan.target import Target, parse_targets
from reconciler.render import render_json, render_markdown, render_text
from reconciler.report.envelope import envelope, utc_now

F = TypeVar("F", bound=Callable[..., Any])


def paths_argument(func: F) -> F:
    return click.argument("paths", nargs=-1, type=click.Path(path_type=Path))(func)


def _tenant_names(ctx: click.Context, _param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Shell completion of --tenant: the tenant folders under the PATHs given so far (default
    tenants/), by name only: nothing is parsed while the shell waits."""
    roots = ctx.params.get("paths") or (Path("tenants"),)
    names: set[str] = set()
    for root in roots:
        try:
            names.update(
                p.name for p in Path(root).iterdir() if p.is_dir() and not p.name.startswith((".", "_"))
            )
        except OSError:
            continue
    return [CompletionItem(name) for name in sorted(names) if name.startswith(incomplete)]


def tenant_option(func: F) -> F:
    return click.option(
        "--tenant",
        "tenants",
        multiple=True,
        metavar="NAME",
        shell_complete=_tenant_names,
        help="Only this tenant (repeatable).",
    )(func)


def _shard(_ctx: click.Context, _param: click.Parameter, value: str | None) -> Shard | None:
    return None if value is None else parse_shard(value)


def shard_option(func: F) -> F:
    return click.option(
        "--shard",
        metavar="K/N",
        envvar="RECONCILE_SHARD",
        callback=_shard,
        help="Only the tenants of shard K of N (K from 0), by a hash of the tenant name: "
        "a tenant keeps its shard when others are added.",
    )(func)


def _targets(_ctx: click.Context, _param: click.Parameter, value: tuple[str, ...]) -> tuple[Target, ...]:
    return parse_targets(value)


def target_option(func: F) -> F:
    return click.option(
        "--target",
        "targets",
        multiple=True,
        metavar="KIND:KEY",
        callback=_targets,
        help="Only the change to this object, and the changes it depends on (repeatable); "
        "e.g. technician:alice@contoso.com.",
    )(func)


def sandbox_option(func: F) -> F:
    """The options of every command that connects: ``--sandbox`` and ``--allow-host``."""
    return allow_host_option(
        click.option(
            "--sandbox",
            "sandbox",
            envvar="RECONCILE_SANDBOX",
            metavar="DIR",
            help="Send all traffic to a running sandbox (its --state-dir, or its sandbox.json).",
        )(func)
    )


def format_option(func: F) -> F:
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(["text", "markdown", "json"]),
        default="text",
        show_default=True,
        help="Output format.",
    )(func)


def concurrency_option(func: F) -> F:
    return click.option(
        "--concurrency", type=click.IntRange(1, 64), default=4, show_default=True, help="Tenants at once."
    )(func)


def load(paths: Sequence[Path], tenants: Sequence[str], shard: Shard | None = None) -> list[LoadedTenant]:
    loaded = load_tenants(
        list(paths) or [Path("tenants")], only=list(tenants), shard=shard, allow_hosts=allowed_hosts()
    )
    if shard is not None:
        click.echo(f"shard {shard}: {len(loaded)} tenant(s)", err=True)
    return loaded


def sandbox_info(location: str | None) -> SandboxInfo | None:
    return SandboxInfo.load(location) if location else None


def use_colour() -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


def render(
    plan: Plan, fmt: str, *, drift_only: bool = False, forced: bool = False, list_manual: bool = True
) -> str:
    if fmt == "json":
        return render_json(plan)
    if fmt == "markdown":
        return render_markdown(plan, title="reconcile drift" if drift_only else "reconcile plan")
    return render_text(
        plan,
        colour=use_colour(),
        drift_only=drift_only,
        forced=forced,
        verbose=verbose(),
        list_manual=list_manual and not drift_only,
    )


def _note_start(ctx: click.Context, _param: click.Parameter, value: Path | None) -> None:
    ctx.meta["result_out"] = value
    ctx.meta["result_started_at"] = utc_now()


def result_out_option(func: F) -> F:
    """``--out PATH`` of drift, apply, doctor and manual: also save the run's JSON result, with
    the command, its start and end (UTC) and its tenants (``reconciler/report/envelope.py``),
    for `reconcile report`. The command calls ``save_result`` once, where it knows its result."""
    return click.option(
        "--out",
        "result_out",
        type=click.Path(path_type=Path, dir_okay=False),
        expose_value=False,
        is_eager=True,
        callback=_note_start,
        help="Also save the result as JSON, with the command, its start and end (UTC) and its "
        "tenants: what `reconcile report` reads.",
    )(func)


def save_result(ctx: click.Context, result_json: str, tenants: Sequence[str]) -> None:
    """Write the envelope of ``result_json`` (the command's --format json text) to ``--out``."""
    out = ctx.meta.get("result_out")
    if out is None:
        return
    command = ctx.command.name or ""
    document = envelope(command, ctx.meta["result_started_at"], utc_now(), tenants, json.loads(result_json))
    write_private(out, json.dumps(document, indent=2) + "\n")
    click.echo(f"Result saved to {out}", err=True)


def write_private(path: Path, text: str) -> None:
    """Write a file readable by its owner only (plan files: no secrets, but still private),
    atomically: a kill leaves the previous file or the new one."""
    write_atomic(path, text, private=True)
