"""How many `-v` a run has (before or after the command), for renderers that say less by default."""

from __future__ import annotations

import click

VERBOSITY = "reconcile.verbosity"  # the key in click's context meta, shared by every sub-context


def verbose() -> bool:
    """At least one `-v`: every tenant's section and its request counts are shown."""
    ctx = click.get_current_context(silent=True)
    return bool(ctx and ctx.meta.get(VERBOSITY, 0))
