"""Progress on a terminal: a status line on stderr while reading and applying, throttled,
cleared at the end, and absent from piped output (issue 12 §5)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from reconciler.cli import progress
from reconciler.cli.progress import StatusLine
from rescue_sandbox import SandboxHandle

from .conftest import EXAMPLE_TENANTS, invoke


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_status_line_redraws_at_most_ten_times_a_second_and_clears() -> None:
    now = [0.0]
    stream = FakeTerminal()
    line = StatusLine(stream, clock=lambda: now[0])
    for i in range(100):  # 100 updates over one second
        line.show(f"n {i}")
        now[0] += 0.01
    line.show("last", force=True)
    line.clear()
    frames = stream.getvalue().split("\r\x1b[K")
    assert 10 <= len([f for f in frames if f.startswith("n ")]) <= 11
    assert frames[-2:] == ["last", ""]  # the final state is shown, then the line is cleared


def test_plan_shows_progress_on_a_terminal_only_and_clears_it(
    shared_demo: SandboxHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    terminal = FakeTerminal()
    monkeypatch.setattr(progress, "_terminal", lambda: terminal)
    run = invoke("plan", str(EXAMPLE_TENANTS), "--sandbox", str(shared_demo.state_dir), "--format", "json")
    tenants = len(json.loads(run.stdout)["tenants"])
    shown = terminal.getvalue()
    assert f"reading: tenants {tenants}/{tenants} done" in shown
    assert shown.endswith("\r\x1b[K")  # cleared before the plan is printed
    assert "reading:" not in run.stdout and "\r" not in run.stdout


def test_no_progress_when_stderr_is_not_a_terminal(shared_demo: SandboxHandle) -> None:
    run = invoke("plan", str(EXAMPLE_TENANTS), "--sandbox", str(shared_demo.state_dir))
    assert "reading:" not in run.output and "\x1b[K" not in run.output


def test_apply_counts_changes_on_a_terminal(
    demo_sandbox: SandboxHandle, tenants_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    terminal = FakeTerminal()
    monkeypatch.setattr(progress, "_terminal", lambda: terminal)
    run = invoke(
        "apply",
        str(tenants_copy),
        "--sandbox",
        str(demo_sandbox.state_dir),
        "--auto-approve",
        "--force",
        "--format",
        "json",
    )
    assert run.code == 0, run.output
    outcomes = sum(len(t["outcomes"]) for t in json.loads(run.stdout)["tenants"])
    assert outcomes and f"applying: changes {outcomes}/{outcomes}" in terminal.getvalue(), terminal.getvalue()
    assert terminal.getvalue().endswith("\r\x1b[K") and "applying:" not in run.stdout
