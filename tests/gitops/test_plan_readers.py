"""Issue 16, case 6: every command that reads a saved plan reads it through the one strict reader.

`"changes": [[1]]` was an AttributeError traceback in `apply --plan`, `manual --from-plan`,
`gitops comment-body`, `plan-matrix` and `drift-fingerprint`; 100,000 `[` a RecursionError;
`/dev/zero` read until out of memory; a FIFO hung. Through the real entry point (`main`, as the
shell runs it), each bad file is now exactly one line on stderr and exit 1 (exit 4 and one line
per contradiction for a file that contradicts itself), for every plan-reading command, and no
command waits on a FIFO. (`apply --plan` against the sandbox: tests/integration/test_apply_saved_plan.py.)
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from reconciler.cli import main
from reconciler.render import render_json

from .conftest import EXAMPLE_TENANTS, plan_of, technician_create, tenant_plan

COMMANDS: dict[str, Callable[[Path, Path], list[str]]] = {
    # The example tenants load without a request; the plan file is refused before any is sent.
    "apply --plan": lambda plan, tmp: ["apply", str(EXAMPLE_TENANTS), "--plan", str(plan), "--auto-approve"],
    "manual --from-plan": lambda plan, tmp: ["manual", "--from-plan", str(plan)],
    "show": lambda plan, tmp: ["show", str(plan)],
    "show --format markdown": lambda plan, tmp: ["show", str(plan), "--format", "markdown"],
    "gitops comment-body": lambda plan, tmp: ["gitops", "comment-body", str(plan)],
    "gitops plan-matrix": lambda plan, tmp: ["gitops", "plan-matrix", str(plan)],
    "gitops drift-fingerprint": lambda plan, tmp: ["gitops", "drift-fingerprint", str(plan)],
    "gitops drift-issue": lambda plan, tmp: [
        "gitops",
        "drift-issue",
        str(plan),
        "--issues",
        str(tmp / "issues.json"),
        "--body-out",
        str(tmp / "b.md"),
    ],
}


def _good() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        render_json(plan_of(tenant_plan("contoso", technician_create("a@b.com"))))
    )
    return data


def _with(**tenant: Any) -> str:
    data = _good()
    data["tenants"][0].update(tenant)
    return json.dumps(data)


def _write(text: str | bytes) -> Callable[[Path], Path]:
    def make(tmp: Path) -> Path:
        path = tmp / "plan.json"
        path.write_bytes(text.encode() if isinstance(text, str) else text)
        return path

    return make


def _fifo(tmp: Path) -> Path:
    os.mkfifo(tmp / "plan.json")
    return tmp / "plan.json"


def _sparse(tmp: Path) -> Path:
    with open(tmp / "plan.json", "wb") as handle:
        handle.truncate(1 << 40)
    return tmp / "plan.json"


BAD_FILES: dict[str, tuple[Callable[[Path], Path], str]] = {
    '"changes": [[1]]': (
        _write(_with(changes=[[1]])),
        "tenants[0].changes[0]: Input should be a valid dictionary",
    ),
    "100,000 [": (_write("[" * 100_000), "is nested more than 32 deep"),
    "NaN": (
        _write(_with(safety="S").replace('"S"', '{"max_change_fraction": NaN, "min_objects": 10}')),
        "NaN",
    ),
    "Infinity": (_write(_with(live_counts="C").replace('"C"', '{"technician": Infinity}')), "Infinity"),
    "a wrong type": (_write(_with(findings="none")), "tenants[0].findings: Input should be a valid list"),
    "not JSON": (_write(b"\x00\x01"), "is not JSON"),
    "/dev/zero": (lambda tmp: Path("/dev/zero"), "is a device, not a regular file"),
    "a FIFO": (_fifo, "is a FIFO, not a regular file"),
    "a terabyte": (_sparse, "is larger than a plan file may be"),
}


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    """`reconcile ARGS` through main (in a thread: a command that hangs fails the test)."""
    codes: list[int] = []

    def call() -> None:
        try:
            main(args)
        except SystemExit as exit_:
            codes.append(int(exit_.code or 0))

    worker = threading.Thread(target=call, daemon=True)
    worker.start()
    worker.join(timeout=30)
    assert codes, f"reconcile {' '.join(args)} did not return"
    return codes[0], capsys.readouterr().err.splitlines()


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("bad", list(BAD_FILES))
def test_every_plan_reading_command_refuses_a_bad_plan_file_with_one_line(
    command: str, bad: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "issues.json").write_text("[]")
    make, expected = BAD_FILES[bad]
    plan = make(tmp_path)
    code, lines = _run(COMMANDS[command](plan, tmp_path), capsys)
    assert code == 1, lines
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"error: {plan}: ") and expected in lines[0], lines


@pytest.mark.parametrize("command", [c for c in COMMANDS if c != "apply --plan"])
def test_every_plan_reading_command_refuses_a_plan_that_contradicts_itself(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "issues.json").write_text("[]")
    data = _good()
    data["tenants"][0]["has_changes"] = False  # as if nothing were to be applied
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(data))
    code, lines = _run(COMMANDS[command](plan, tmp_path), capsys)
    assert code == 4, lines
    assert lines == [
        f"error: {plan} contradicts itself (it is not what reconcile plan writes; nothing was written):",
        "  tenants[0].has_changes: the file has false, its content gives true",
    ]


@pytest.mark.parametrize("command", [c for c in COMMANDS if c != "apply --plan"])
def test_a_plan_reconcile_wrote_is_read_by_every_command(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The table above refuses the files, not the commands."""
    (tmp_path / "issues.json").write_text("[]")
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(_good()))
    code, lines = _run(COMMANDS[command](plan, tmp_path), capsys)
    assert code in (0, 2), lines  # drift-issue: 2 is "drift"
    assert not any(line.startswith("error:") for line in lines), lines


def test_a_special_file_among_the_plans_of_a_folder_is_refused_not_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plans = tmp_path / "plans"
    plans.mkdir()
    (plans / "a.json").write_text(json.dumps(_good()))
    os.mkfifo(plans / "b.json")
    (plans / "c.json").symlink_to("/dev/zero")
    for command in ("manual --from-plan", "show", "gitops comment-body", "gitops plan-matrix"):
        code, lines = _run(COMMANDS[command](plans, tmp_path), capsys)
        assert code == 1, lines
        assert lines == [
            f"error: {plans / 'b.json'}: is a FIFO, not a regular file: a plan file is read only from a regular file"
        ]
        os.unlink(plans / "b.json")
        code, lines = _run(COMMANDS[command](plans, tmp_path), capsys)
        assert code == 1 and lines == [
            f"error: {plans / 'c.json'}: is a device, not a regular file: a plan file is read only from a regular file"
        ], lines
        os.mkfifo(plans / "b.json")


def test_a_deep_matrix_or_issues_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(_good()))
    code, lines = _run(["gitops", "plan-matrix", str(plan), "--expect-matrix", "[" * 100_000], capsys)
    assert code == 1 and lines == ["error: --expect-matrix is nested too deep to be a matrix"], lines
    (tmp_path / "issues.json").write_text("[" * 100_000)
    code, lines = _run(COMMANDS["gitops drift-issue"](plan, tmp_path), capsys)
    assert code == 1 and lines == [
        f"error: {tmp_path / 'issues.json'}: is nested more than 32 deep: not an issues file"
    ], lines


# The files only the plan schema refuses are not issues files' problems; the rest are the reader's.
BAD_ISSUES_FILES = [b for b in BAD_FILES if b not in ('"changes": [[1]]', "a wrong type")]


@pytest.mark.parametrize("bad", BAD_ISSUES_FILES)
def test_drift_issue_reads_its_issues_file_through_the_plan_readers_guards(
    bad: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 16 review F8: the issues file was `json.loads` of the whole file (a FIFO hung,
    /dev/zero filled the memory). Now one line, exit 1, and no issue body is written."""
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(_good()))
    make, expected = BAD_FILES[bad]
    (tmp_path / "issues").mkdir()
    issues = make(tmp_path / "issues")
    args = ["gitops", "drift-issue", str(plan), "--issues", str(issues), "--body-out", str(tmp_path / "b.md")]
    code, lines = _run(args, capsys)
    assert code == 1, lines
    assert len(lines) == 1 and lines[0].startswith(f"error: {issues}: "), lines
    assert expected.replace("a plan file", "an issues file") in lines[0], lines
    assert "plan file" not in lines[0], lines
    assert not (tmp_path / "b.md").exists()


def test_an_empty_issues_file_is_no_issue(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(_good()))
    (tmp_path / "issues.json").write_text("\n")
    code, lines = _run(COMMANDS["gitops drift-issue"](plan, tmp_path), capsys)
    assert code == 0 and lines == [], lines  # gh printed nothing: no open issue, not an error
    assert (tmp_path / "b.md").read_text("utf-8")  # the body of the issue to create
