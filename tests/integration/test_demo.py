"""`make demo` (`reconcile demo`) end to end in a subprocess: its exit code says every step
exited as the story expects (0), and its output tells issue 13's story: a group whose export was
never set loses every session, with why; set by hand, its sessions arrive and the manual step is
observed working. It ends with the fleet report of its own runs: Tier 2's trend shows the loss,
then the recovery."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO

pytestmark = pytest.mark.integration


def _step(output: str, number: int) -> str:
    """The output of the demo's step ``number`` (up to the next step's title)."""
    match = re.search(rf" Step {number}: .*?(?= Step {number + 1}: |\Z)", output, re.S)
    assert match, f"no step {number} in the demo's output"
    return match.group(0)


def test_the_demo_tells_the_whole_story_and_every_step_exits_as_expected(tmp_path: Path) -> None:
    env = {**os.environ, "NO_COLOR": "1"}
    run = subprocess.run(
        [sys.executable, "-m", "reconciler", "demo", "--report-dir", str(tmp_path)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    out = run.stdout
    assert run.returncode == 0, run.stderr  # 1 names every step that exited otherwise
    assert "The demo did not go as expected" not in run.stderr
    # Milestones: plan finds the drift, the safety rail holds, apply --force, no changes after.
    assert "(exit code 2)" in _step(out, 3) and "(exit code 4)" in _step(out, 4)
    assert "contoso: changes the application user's security roles" in run.stderr
    assert "(exit code 0)" in _step(out, 5) and "(exit code 0)" in _step(out, 6)
    assert "(exit code 2)" in _step(out, 8)  # drift made by hand is caught
    # A group whose export was never set: 0 of N sessions arrived, and why.
    never_set = _step(out, 9)
    assert re.search(r"group Support/Tier 2: no session arrives, 0 of [1-9]\d* sessions arrived", never_set)
    assert "group Support/Tier 1: healthy" in never_set
    cause = never_set.split("group Support/Tier 2:", 1)[1]
    assert "likely cause: no session of this group arrived" in cause and "export setting" in cause
    assert "(exit code 2)" in never_set
    # Set by hand, sessions run: they arrive, and the manual step shows observed working.
    set_by_hand = _step(out, 10)
    tier2 = re.search(
        r"group Support/Tier 2: sessions arrive again, ([1-9]\d*) of (\d+) sessions arrived", set_by_hand
    )
    assert tier2 and int(tier2[1]) < int(tier2[2])
    assert "manual step: observed working (last session " in set_by_hand
    assert re.search(
        r"\? Set 'Post session details to URL' for Rescue group Support/Tier 2: observed working",
        set_by_hand,
    )
    assert set_by_hand.count("(exit code 0)") == 2
    assert "reconcile export --tenant contoso --overwrite." in _step(out, 11)
    # The report of its own runs, and where it is: Tier 2 lost every session, then recovered.
    page = tmp_path / "fleet.html"
    assert out.rstrip().endswith(f"The fleet report of the demo's runs: {page} (open it in a browser)")
    assert "(exit code 0)" in _step(out, 11)
    fleet = json.loads((tmp_path / "fleet.json").read_text())
    contoso = next(t for t in fleet["tenants"] if t["tenant"] == "contoso")
    tier2 = next(g for g in contoso["groups"] if g["path"] == "Support/Tier 2")
    assert [(p["verdict"], p["ratio"] > 0) for p in tier2["trend"]] == [
        ("failing", False),
        ("recovered", True),
    ]
    assert contoso["state"] == "drifted" and contoso["last_operation"] == "ok"  # drift 8 is never reverted
    assert {r["command"] for r in fleet["runs"]} == {"plan", "apply", "drift", "health"}
    assert re.search(
        r"Support/Tier 2: recovered.*?trend: failing 0% → recovered \d+%", page.read_text(), re.S
    )
