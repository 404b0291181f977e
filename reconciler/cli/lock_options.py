"""`reconcile apply`'s options for the per-tenant apply lock (reconciler/engine/lock.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click

from reconciler.engine.lock import DEFAULT_TIMEOUT

F = TypeVar("F", bound=Callable[..., object])


def lock_options(func: F) -> F:
    func = click.option(
        "--lock-dir",
        type=click.Path(path_type=Path, file_okay=False),
        envvar="RECONCILE_LOCK_DIR",
        help="Keep the per-tenant apply locks here instead of in each tenant's folder "
        "(a read-only checkout; all applies on this machine must use the same folder).",
    )(func)
    return click.option(
        "--lock-timeout",
        type=click.FloatRange(min=0),
        default=DEFAULT_TIMEOUT,
        show_default=True,
        metavar="SECONDS",
        help="How long to wait for another apply of the same tenant to end; 0: do not wait.",
    )(func)


def say_waiting(tenant: str, holder: str) -> None:
    click.echo(f"waiting for another apply of tenant {tenant} to end ({holder})", err=True)
