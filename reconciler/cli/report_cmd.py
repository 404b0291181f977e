"""`reconcile report`: the fleet at a glance (one HTML page, CSV, JSON) from result files."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import click

from reconciler.atomicfile import append_atomic, write_atomic
from reconciler.errors import InputError, printable
from reconciler.report.fleet import DEFAULT_HISTORY, Fleet, build_fleet
from reconciler.report.html import render_page
from reconciler.report.outcome import ReportResult
from reconciler.report.reader import read_results
from reconciler.report.summary import STEP_SUMMARY_BYTES, step_summary
from reconciler.report.table import fleet_csv, fleet_data


def _append_summary(path: Path, fleet: Fleet, page: Path) -> None:
    """Append the job summary to ``path`` within what is left of GitHub's 1 MiB for the step
    (others may have written to the same file before)."""
    try:
        used = path.stat().st_size
    except FileNotFoundError:
        used = 0
    except OSError as exc:
        raise InputError(f"{printable(str(path))}: cannot be read: {exc.strerror or exc}") from None
    text = step_summary(fleet, str(page), STEP_SUMMARY_BYTES - used)
    append_atomic(path, text)  # the file is the step's: other tools' lines stay


@click.command()
@click.argument("results", metavar="RESULT...", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder to write fleet.html, fleet.csv and fleet.json to (made if missing).",
)
@click.option(
    "--history",
    type=click.IntRange(1, 1000),
    default=DEFAULT_HISTORY,
    show_default=True,
    help="History: for each tenant, the last N runs of each command that covered it (the trends, "
    "drift and manual step ages).",
)
@click.option(
    "--step-summary",
    "step_summary_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also append the summary band and the tenants to look at, as markdown (e.g. $GITHUB_STEP_SUMMARY).",
)
@click.pass_context
def report(
    ctx: click.Context, results: tuple[Path, ...], out_dir: Path, history: int, step_summary_file: Path | None
) -> None:
    """Write the fleet report (HTML, CSV, JSON) from result files or folders of them.

    RESULT: the JSON of `plan --out`, `health --out`, or the --out of drift, apply, doctor or
    manual (a folder: its *.json at any depth). A file that is not a good result is named on
    stderr and on the page, its runs are left out, and the exit code is 1 (docs/report-format.md).

    Exit 0 when every result file was read, 1 when one was not (the report is still written) or
    there is none.
    """
    runs, errors = read_results(results)
    for error in errors:
        click.echo(error.format(), err=True)
    fleet = build_fleet(
        runs,
        history=history,
        now=dt.datetime.now(dt.UTC),
        unreadable=[(e.file, e.problems) for e in errors],
    )
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{printable(str(out_dir))}: cannot be made: {exc.strerror or exc}") from None
    page = out_dir / "fleet.html"
    write_atomic(out_dir / "fleet.json", json.dumps(fleet_data(fleet), indent=2) + "\n")
    write_atomic(out_dir / "fleet.csv", fleet_csv(fleet))
    write_atomic(page, render_page(fleet))
    if step_summary_file is not None:
        _append_summary(step_summary_file, fleet, page)
    click.echo(
        f"Report of {fleet.summary.tenants} tenant(s) from {len(runs)} result file(s): {page}", err=True
    )
    result = ReportResult((str(page),), len(errors))
    ctx.exit(result.exit_code)
