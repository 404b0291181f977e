"""Options and helpers shared by the commands."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from reconciler.config import LoadedTenant, load_tenants
from reconciler.engine.connection import SandboxInfo
from reconciler.errors import EXIT_CHANGES, EXIT_ERROR, EXIT_INCOMPLETE, EXIT_OK
from reconciler.plan import Plan
from reconciler.render import render_json, render_markdown, render_text

F = TypeVar("F", bound=Callable[..., Any])


def paths_argument(func: F) -> F:
    return click.argument("paths", nargs=-1, type=click.Path(path_type=Path))(func)


def tenant_option(func: F) -> F:
    return click.option(
        "--tenant", "tenants", multiple=True, metavar="NAME", help="Only this tenant (repeatable)."
    )(func)


def sandbox_option(func: F) -> F:
    return click.option(
        "--sandbox",
        "sandbox",
        envvar="RECONCILE_SANDBOX",
        metavar="DIR",
        help="Send all traffic to a running sandbox (its --state-dir, or its sandbox.json).",
    )(func)


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


def load(paths: Sequence[Path], tenants: Sequence[str]) -> list[LoadedTenant]:
    return load_tenants(list(paths) or [Path("tenants")], only=list(tenants))


def sandbox_info(location: str | None) -> SandboxInfo | None:
    return SandboxInfo.load(location) if location else None


def use_colour() -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


def render(plan: Plan, fmt: str, *, drift_only: bool = False) -> str:
    if fmt == "json":
        return render_json(plan)
    if fmt == "markdown":
        return render_markdown(plan, title="reconcile drift" if drift_only else "reconcile plan")
    return render_text(plan, colour=use_colour(), drift_only=drift_only)


def write_private(path: Path, text: str) -> None:
    """Write a file readable by its owner only (plan files: no secrets, but still private)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(path, 0o600)


def plan_exit_code(plan: Plan, *, changes_exit: bool) -> int:
    if plan.failed:
        return EXIT_ERROR
    if plan.incomplete:
        return EXIT_INCOMPLETE
    if changes_exit and plan.has_drift:
        return EXIT_CHANGES
    return EXIT_OK
