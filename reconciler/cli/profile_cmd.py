"""`reconcile profile show`: the effective solution profile (defaults + a tenant's overrides);
`reconcile profile discover`: the org's own names for it, optionally written into the tenant file."""

from __future__ import annotations

import json
from pathlib import Path

import click
import yaml

from reconciler.cli.common import load, sandbox_info, sandbox_option
from reconciler.cli.doctor_cmd import shown
from reconciler.cli.profile_write import profile_file, write_profile
from reconciler.engine.discover import run_discover
from reconciler.engine.planner import RunOptions
from reconciler.engine.schema_check import needed_sections
from reconciler.plan.outcomes import ProfileResult
from reconciler.profile import default_profile, effective_profile


@click.group()
def profile() -> None:
    """The solution profile: Dataverse names of the LogMeIn solution."""


@profile.command("show")
@click.option("--tenant", metavar="NAME", help="Apply this tenant's `profile:` overrides.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of YAML.")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
def show(tenant: str | None, as_json: bool, paths: tuple[Path, ...]) -> None:
    """Print the effective profile."""
    if tenant:
        (loaded,) = load(paths, [tenant])
        result = effective_profile(loaded.model.profile)
    else:
        result = default_profile()
    data = result.model_dump(mode="json")
    if as_json:
        click.echo(json.dumps(data, indent=2))
    else:
        click.echo(yaml.safe_dump(data, sort_keys=False), nl=False)


@profile.command("discover")
@click.option("--tenant", "tenant", required=True, metavar="NAME", help="The tenant whose org to read.")
@click.option(
    "--write", is_flag=True, help="Put what differs from the defaults into the tenant's `profile:`."
)
@sandbox_option
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.pass_context
def discover_cmd(
    ctx: click.Context, tenant: str, write: bool, sandbox: str | None, paths: tuple[Path, ...]
) -> None:
    """Find the solution's tables and columns in the org's metadata (only reads the org)."""
    (loaded,) = load(paths, [tenant])
    options = RunOptions(sandbox=sandbox_info(sandbox), keep_live=False)
    found = run_discover(loaded, options)
    for match in found.matches:
        click.echo(
            f"  {shown(match.path)} = {shown(json.dumps(match.value, ensure_ascii=False))}  ({shown(match.why)})"
        )
    needed = set(needed_sections(loaded.model))
    result = ProfileResult(blocking=tuple(p for p in found.problems if p.split(".", 1)[0] in needed))
    for text in found.problems:
        click.echo(f"  {'PROBLEM' if text in result.blocking else 'note'}: {shown(text)}")
    overrides = found.overrides()
    if not overrides:
        click.echo("The org matches the default profile: no `profile:` overrides needed.")
    else:
        click.echo("Differs from the defaults:")
        click.echo(yaml.safe_dump({"profile": overrides}, sort_keys=False, allow_unicode=True), nl=False)
    if result.blocking:
        click.echo(
            "Not written: resolve the problems above by hand (`profile:` in the tenant file).", err=True
        )
        ctx.exit(result.exit_code)
    if write:
        target = profile_file(loaded)
        write_profile(target, found.matches)
        click.echo(f"Wrote the `profile:` of {target}")
    ctx.exit(result.exit_code)
