"""The system's Chromium as the browser tests and the report benchmark launch it: Debian's
``/usr/bin/chromium`` through Playwright (never ``playwright install``: nothing is downloaded)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

# REPORT_CHROMIUM: another path, e.g. a missing one to see the skip message (test_report_skip_message.py).
CHROMIUM = Path(os.environ.get("REPORT_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def launch(playwright: Any) -> Any:
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
