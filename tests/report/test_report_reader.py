"""The result reader: it reads what the commands write, and refuses, one located line per
problem, whatever is not that (foreign, corrupt, or contradicting itself)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from report_factory import generate

from reconciler.errors import ResultFileError
from reconciler.report.reader import read_result, read_results


@pytest.fixture(scope="module")
def fleet_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    generated = generate(tmp_path_factory.mktemp("results"), 12)
    return {p.stem: p for p in generated.files}


def _edited(tmp_path: Path, source: Path, edit: Any) -> Path:
    data = json.loads(source.read_text())
    edit(data)
    path = tmp_path / source.name
    path.write_text(json.dumps(data))
    return path


def _problems(path: Path) -> list[str]:
    with pytest.raises(ResultFileError) as caught:
        read_result(path)
    assert caught.value.file == str(path)
    return list(caught.value.problems)


def test_every_command_s_result_is_read_with_its_command_and_time(fleet_files: dict[str, Path]) -> None:
    commands = {name: read_result(path).command for name, path in fleet_files.items()}
    assert commands == {
        "plan-0": "plan",
        "plan-1": "plan",
        "apply": "apply",
        "doctor": "doctor",
        "health-0": "health",
        "health-1": "health",
        "health-2": "health",
        "drift": "drift",
        "manual": "manual",
    }
    apply = read_result(fleet_files["apply"])
    assert apply.at.isoformat() == "2026-11-02T06:03:00+00:00"  # finished_at, in UTC
    assert read_result(fleet_files["health-2"]).at.isoformat() == "2026-11-05T06:00:00+00:00"  # until
    assert len(apply.tenants) == 12


@pytest.mark.parametrize(
    ("name", "edit", "problem"),
    [
        (
            "apply",
            lambda d: d["result"]["totals"].update(failed=0),
            "result.totals.failed: is not the number",
        ),
        (
            "apply",
            lambda d: d["result"].update(complete=True),
            "result.complete: does not match the outcomes",
        ),
        (
            "apply",
            lambda d: d["result"]["tenants"][0]["outcomes"][0].update(status="ok"),
            "status: Input should be",
        ),
        (
            "doctor",
            lambda d: d["result"].update(failed=3),
            "result.failed: is not the number of failed checks",
        ),
        (
            "doctor",
            lambda d: d["result"]["tenants"][0].update(ok=False),
            "result.tenants[0].ok: does not match",
        ),
        (
            "doctor",
            lambda d: d["result"]["tenants"][0]["credentials"][0].update(expires_at="2027-01-01T00:00:00"),
            "expires_at: Value error, is a time without a UTC offset",
        ),
        (
            "health-0",
            lambda d: d["tenants"][2]["groups"][1].update(ratio=1.0),
            "tenants[2].groups[1].ratio: is not",
        ),
        (
            "health-0",
            lambda d: d["tenants"][0]["groups"][0].update(sessions=-1),
            "sessions: Input should be greater",
        ),
        (
            "health-0",
            lambda d: d["tenants"].append(d["tenants"][0]),
            "tenant 'tenant-0000' is in the file twice",
        ),
        ("health-0", lambda d: d.update(tenants=[]), "holds no tenant"),
        (
            "drift",
            lambda d: d.update(finished_at="2026-10-01T00:00:00+00:00"),
            "finished_at: is before started_at",
        ),
        (
            "drift",
            lambda d: d.update(tenants=["someone-else"]),
            "tenants: does not name the tenants of its result",
        ),
        ("drift", lambda d: d.update(command="destroy"), "command: Input should be"),
        ("drift", lambda d: d.update(extra=1), "extra: Extra inputs are not permitted"),
        ("drift", lambda d: d["result"].update(has_changes=True), "result: "),
        ("manual", lambda d: d.update(result_format=2), "result_format: Input should be 1"),
        ("plan-1", lambda d: d.update(format_version=1), "format_version 1 is not supported"),
    ],
)
def test_a_result_that_contradicts_itself_or_its_format_is_refused_with_where(
    tmp_path: Path, fleet_files: dict[str, Path], name: str, edit: Any, problem: str
) -> None:
    problems = _problems(_edited(tmp_path, fleet_files[name], edit))
    assert any(problem in p for p in problems), problems


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b'{"tenants": [], "total": 0}', "is not a reconcile result"),
        (b"[1, 2]", "is not a reconcile result"),
        (b'{"a": NaN}', "NaN"),
        (b'{"a": 1, "a": 2}', "twice"),
        (b"\xff\xfe", "is not UTF-8"),
        (b"[" * 100, "nested more than"),
        (b"{", "is not JSON"),
    ],
)
def test_foreign_and_corrupt_files_are_one_line_each(tmp_path: Path, content: bytes, problem: str) -> None:
    path = tmp_path / "x.json"
    path.write_bytes(content)
    problems = _problems(path)
    assert len(problems) == 1 and problem in problems[0], problems


@pytest.mark.parametrize("command", ["apply", "doctor", "manual"])
def test_a_command_s_printed_json_is_told_apart_from_its_result_file(
    tmp_path: Path, fleet_files: dict[str, Path], command: str
) -> None:
    printed = tmp_path / "printed.json"
    printed.write_text(json.dumps(json.loads(fleet_files[command].read_text())["result"]))
    assert _problems(printed) == [
        f"is the printed output of `{command} --format json`, which says neither the command nor when "
        f"it ran: save results with `{command} --out FILE`"
    ]


def test_a_fifo_is_named_never_waited_on(tmp_path: Path) -> None:
    fifo = tmp_path / "results" / "pipe.json"
    fifo.parent.mkdir()
    os.mkfifo(fifo)
    runs, errors = read_results([fifo.parent])
    assert runs == [] and "FIFO" in errors[0].problems[0]


def test_folders_are_read_at_any_depth_and_bad_files_are_returned_not_dropped(
    tmp_path: Path, fleet_files: dict[str, Path]
) -> None:
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    (nested / "apply.json").write_text(fleet_files["apply"].read_text())
    (tmp_path / "a" / "broken.json").write_text("{")
    (tmp_path / "a" / "notes.txt").write_text("not a result")
    runs, errors = read_results([tmp_path / "a"])
    assert [r.command for r in runs] == ["apply"]
    assert [e.file for e in errors] == [str(tmp_path / "a" / "broken.json")]


def test_a_health_blocker_and_a_failed_read_are_kept_apart(tmp_path: Path) -> None:
    from reconciler.plan.health import Cause, TenantHealth, Unread
    from reconciler.render.health import health_json

    def tenant(name: str, **extra: Any) -> TenantHealth:
        since, until = "2026-11-01T00:00:00+00:00", "2026-11-08T00:00:00+00:00"
        return TenantHealth(name, since, until, "not_visible", False, **extra)

    path = tmp_path / "health.json"
    blocked = tenant("a", blockers=(Cause("session_key_not_active", "the Session Key is not active"),))
    unread = tenant("b", unread=(Unread("the Session Key status", "503"),))
    path.write_text(json.dumps(health_json([blocked, unread])))
    records = read_result(path).tenants
    assert records["a"].health_blocked and not records["a"].health_unread
    assert records["b"].health_unread and not records["b"].health_blocked
    assert records["b"].health_causes == ("could not read the Session Key status: 503",)
