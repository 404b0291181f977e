"""`reconcile show PLAN...`: a saved plan (plan --out) as text or markdown, without a request.

Like `terraform show`: review what a plan file holds before `apply --plan`, or read a shard's
artifact. The file is read by the one strict reader (``plan/reader.py``): a file that is not a plan,
or that contradicts itself, is refused with one line and exit 1 (or 4), never shown half-believed.
"""

from __future__ import annotations

from pathlib import Path

import click

from reconciler import gitops
from reconciler.cli.common import use_colour
from reconciler.cli.verbosity import verbose
from reconciler.render import render_json, render_markdown, render_text
from reconciler.render.escape import value_text


@click.command()
@click.argument("plan_files", nargs=-1, required=True, type=click.Path(path_type=Path), metavar="PLAN...")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "markdown", "json"]),
    default="text",
    show_default=True,
    help="text for a terminal, markdown for a pull request or an issue, json as `plan --out` writes it.",
)
def show(plan_files: tuple[Path, ...], fmt: str) -> None:
    """Show a saved plan (plan --out), or the shard plans in a folder, without any request.

    Exit 0 when the plan was shown; 1 when a file is not a readable plan; 4 when it contradicts
    itself (its digest or counts do not match its changes).
    """
    plan = gitops.read_saved_plans(plan_files)
    if fmt == "json":
        click.echo(render_json(plan), nl=False)
        return
    if fmt == "markdown":
        click.echo(render_markdown(plan, title="reconcile show"), nl=False)
        return
    made = f"Saved plan: made {value_text(plan.created_at or 'at an unknown time')}"
    made += f" by reconcile {value_text(plan.tool_version)}." if plan.tool_version else "."
    click.echo(made)
    click.echo(render_text(plan, colour=use_colour(), verbose=verbose()), nl=False)
