"""`reconcile profile show`: the effective solution profile (defaults + a tenant's overrides)."""

from __future__ import annotations

import json
from pathlib import Path

import click
import yaml

from reconciler.cli.common import load
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
