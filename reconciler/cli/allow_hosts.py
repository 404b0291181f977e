"""`--allow-host`: the operator's allowance for service hosts outside the allow-list.

Kept apart from ``cli/common.py`` so that `validate` (which imports only the config layer,
to start fast) can take it too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from reconciler.config.hosts import ALLOW_HOSTS_ENV, NO_ALLOWANCE, HostAllowance

F = TypeVar("F", bound=Callable[..., Any])

_ALLOW_HOSTS_KEY = "reconcile.allow_hosts"


def _allow_hosts(ctx: click.Context, _param: click.Parameter, value: tuple[str, ...]) -> None:
    ctx.meta[_ALLOW_HOSTS_KEY] = HostAllowance.parse(value)


def allow_host_option(func: F) -> F:
    """``--allow-host HOST`` (repeatable; or ``RECONCILE_ALLOW_HOSTS``): the operator's allowance
    for a service host outside the allow-list. It lives outside the tenant files on purpose: a
    pull request can edit those, not the workflow's variables or the command line of `main`."""
    return click.option(
        "--allow-host",
        "allow_hosts",
        multiple=True,
        envvar=ALLOW_HOSTS_ENV,
        metavar="HOST[:PORT]",
        expose_value=False,
        callback=_allow_hosts,
        help="Allow a service host the tenant files name outside the known Dataverse, Entra ID and "
        f"Rescue hosts (repeatable; or {ALLOW_HOSTS_ENV}, comma-separated).",
    )(func)


def allowed_hosts() -> HostAllowance:
    """The allowance ``allow_host_option`` parsed for the running command (none without it)."""
    ctx = click.get_current_context(silent=True)
    found = ctx.meta.get(_ALLOW_HOSTS_KEY) if ctx is not None else None
    return found if isinstance(found, HostAllowance) else NO_ALLOWANCE
