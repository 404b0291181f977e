"""Every command's ``--out`` against the sandbox, read back by `reconcile report`: the result files
the commands write are the ones the report reads (each with its command, UTC times and tenants)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from rescue_sandbox import SandboxHandle

from .conftest import EXAMPLE_TENANTS, invoke

pytestmark = pytest.mark.integration


def test_drift_apply_doctor_manual_health_and_plan_results_make_one_report(
    shared_demo: SandboxHandle, tmp_path: Path
) -> None:
    where = ["--sandbox", str(shared_demo.state_dir)]
    results = tmp_path / "results"
    results.mkdir()
    codes = {}
    for command, extra in (
        ("plan", ()),
        ("drift", ()),
        ("doctor", ()),
        ("manual", ()),
        ("health", ("--tenant", "contoso")),
        ("apply", ("--auto-approve", "--target", "technician:dave@contoso.com")),
    ):
        run = invoke(command, str(EXAMPLE_TENANTS), *where, *extra, "--out", str(results / f"{command}.json"))
        codes[command] = run.code
    assert codes["drift"] == 2 and codes["plan"] == 0 and codes["apply"] in (0, 3), codes
    for command in ("drift", "apply", "doctor", "manual"):
        saved = json.loads((results / f"{command}.json").read_text())
        assert saved["command"] == command and saved["tenants"] == ["contoso", "fabrikam"]
        started = dt.datetime.fromisoformat(saved["started_at"])
        assert started.utcoffset() == dt.timedelta(0) and started <= dt.datetime.fromisoformat(
            saved["finished_at"]
        )

    report = invoke("report", str(results), "--out", str(tmp_path / "report"))
    assert report.code == 0, report.output
    fleet = json.loads((tmp_path / "report" / "fleet.json").read_text())
    assert sorted(r["command"] for r in fleet["runs"]) == [
        "apply",
        "doctor",
        "drift",
        "health",
        "manual",
        "plan",
    ]
    assert sorted(t["tenant"] for t in fleet["tenants"]) == ["contoso", "fabrikam"]
    contoso = next(t for t in fleet["tenants"] if t["tenant"] == "contoso")
    assert contoso["sync"] == "drifted" and contoso["last_apply"] is not None and contoso["groups"]
