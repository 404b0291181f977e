"""Without Chromium the browser tests are skipped, and the run says so loudly (never a quiet pass)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent


def test_missing_chromium_skips_the_browser_tests_and_says_so(tmp_path: Path) -> None:
    env = {**os.environ, "REPORT_CHROMIUM": str(tmp_path / "no-chromium")}
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            str(HERE / "test_report_browser.py"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "8 skipped" in run.stdout
    assert (
        f"BROWSER TESTS SKIPPED: 8 test(s) of the report page did not run: {tmp_path / 'no-chromium'} is missing"
        in run.stdout
    )
