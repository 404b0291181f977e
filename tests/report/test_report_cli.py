"""`reconcile report` as a command: the three files, the job summary appended within its budget,
and a bad file among good ones named on stderr and on the page, exit 1 (never dropped quietly)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from report_factory import generate

from reconciler.cli import cli


def _report(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["report", *args])
    return result.exit_code, result.stderr


def test_writes_the_page_csv_and_json_and_appends_the_job_summary(tmp_path: Path) -> None:
    generated = generate(tmp_path / "results", 12)
    summary = tmp_path / "summary.md"
    summary.write_text("## an earlier step's summary\n")
    code, err = _report(
        str(tmp_path / "results"), "--out", str(tmp_path / "out"), "--step-summary", str(summary)
    )
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["fleet.csv", "fleet.html", "fleet.json"]
    data = json.loads((tmp_path / "out" / "fleet.json").read_text())
    assert data["report_format"] == 1 and data["summary"]["tenants"] == 12
    assert {s: data["summary"][s] for s in generated.expected_counts} == generated.expected_counts
    text = summary.read_text()
    assert (
        text.startswith("## an earlier step's summary\n## Fleet report") and "| 12 | 4 | 2 | 4 | 2 |" in text
    )
    assert f"Report of 12 tenant(s) from 9 result file(s): {tmp_path / 'out' / 'fleet.html'}" in err


def test_a_corrupt_file_among_good_ones_is_named_on_stderr_and_the_page_and_exits_1(tmp_path: Path) -> None:
    generate(tmp_path / "results", 6)
    (tmp_path / "results" / "health-1.json").write_text('{"format_version": 1, "tenants": [')
    code, err = _report(str(tmp_path / "results"), "--out", str(tmp_path / "out"))
    assert code == 1
    assert f"error: {tmp_path / 'results' / 'health-1.json'}: is not JSON" in err
    page = (tmp_path / "out" / "fleet.html").read_text()
    assert "1 result file(s) could not be read: their runs are not in this report" in page
    data = json.loads((tmp_path / "out" / "fleet.json").read_text())
    assert data["summary"]["unreadable_files"] == 1 and data["summary"]["tenants"] == 6
    assert data["unreadable"][0]["file"].endswith("health-1.json")


def test_no_result_file_at_all_is_bad_input(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = CliRunner().invoke(cli, ["report", str(tmp_path / "empty"), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1 and "no result files (*.json) in" in str(result.exception)
    assert not (tmp_path / "out").exists()
