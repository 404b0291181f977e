"""The report's tests: the generated fleet, and the browser tests' Chromium.

Browser tests (``@pytest.mark.browser``) drive Debian's ``/usr/bin/chromium`` through Playwright
(never ``playwright install``: nothing is downloaded). Without it they are skipped, and the
session's summary says so in a line of its own (``make test`` must not pass quietly without them).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from report_chromium import CHROMIUM, launch

_skipped: list[str] = []


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if CHROMIUM.exists():
        return
    skip = pytest.mark.skip(reason=f"{CHROMIUM} is not installed (apt-get install -y chromium)")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)
            _skipped.append(item.nodeid)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _skipped:
        terminalreporter.write_sep(
            "!",
            f"BROWSER TESTS SKIPPED: {len(_skipped)} test(s) of the report page did not run: "
            f"{CHROMIUM} is missing (.ci/run installs it: apt-get install -y chromium)",
            red=True,
            bold=True,
        )


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Per module: Playwright's sync API runs an event loop in this thread while it is open, and
    every later test that calls asyncio.run() would fail on it."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = launch(playwright)
        yield launched
        launched.close()
