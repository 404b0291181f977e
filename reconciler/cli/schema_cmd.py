"""`reconcile schema [--check]`: write or verify the tenant JSON Schema and the tenant reference.

Both files are generated from the pydantic models and checked in; ``--check`` (run by a test
and by CI) fails when either is stale, so the schema editors use and the reference admins read
cannot drift from what ``reconcile validate`` accepts.
"""

from __future__ import annotations

from pathlib import Path

import click

from reconciler.atomicfile import write_atomic
from reconciler.config import reference_markdown, schema_text
from reconciler.errors import InputError

DEFAULT_SCHEMA = Path("schemas/tenant.schema.json")
DEFAULT_REFERENCE = Path("docs/tenant-reference.md")


def _current(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None


@click.command()
@click.option("--check", is_flag=True, help="Exit 1 if a checked-in file is missing or stale; write nothing.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=DEFAULT_SCHEMA,
    show_default=True,
    help="Where the JSON Schema goes.",
)
@click.option(
    "--reference",
    type=click.Path(dir_okay=False, path_type=Path),
    default=DEFAULT_REFERENCE,
    show_default=True,
    help="Where the tenant file reference (markdown) goes.",
)
@click.option(
    "--schema-only",
    is_flag=True,
    help="Only the JSON Schema (what a config repository needs for editor checks), not the reference.",
)
def schema(check: bool, out: Path, reference: Path, schema_only: bool) -> None:
    """Generate the tenant file JSON Schema and reference from the models.

    The schema ships with the package: in a config repository, `reconcile schema --schema-only
    --out schemas/tenant.schema.json` writes the one this version validates against (and
    `reconcile export` points new tenant files at it).
    """
    targets = [(out, schema_text())]
    if not schema_only:
        targets.append((reference, reference_markdown()))
    if check:
        stale = [
            f"{path} is {'missing' if current is None else 'stale'}"
            for path, text in targets
            if (current := _current(path)) != text
        ]
        if stale:
            raise InputError("; ".join(stale) + "; run `reconcile schema` and commit the result")
        click.echo(
            " and ".join(str(path) for path, _ in targets)
            + (" are" if len(targets) > 1 else " is")
            + " up to date"
        )
        return
    for path, text in targets:
        if _current(path) == text:
            click.echo(f"{path} is up to date")
            continue
        write_atomic(path, text)
        click.echo(f"wrote {path}")
