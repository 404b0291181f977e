"""The report page in headless Chromium (the system's, driven by Playwright): its counts are the
results', sorting and filtering move and hide rows, hostile values stay text, nothing overflows
at 1,280 or 390 px, it reads with scripts off, and screenshots at both widths are kept
(``build/test-artifacts/report/``, or ``$REPORT_SCREENSHOTS``: `make screenshots` writes the
README's into docs/screenshots/)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from report_factory import Generated, generate

from reconciler.cli import cli

pytestmark = pytest.mark.browser
REPO = Path(__file__).resolve().parents[2]
SHOTS = Path(os.environ.get("REPORT_SCREENSHOTS") or REPO / "build" / "test-artifacts" / "report")
WIDTHS = (1280, 390)


def _report(tmp: Path, n: int, *, hostile: bool) -> tuple[Path, Generated]:
    from click.testing import CliRunner

    generated = generate(tmp / "results", n, hostile=hostile)
    result = CliRunner().invoke(cli, ["report", str(tmp / "results"), "--out", str(tmp / "out")])
    assert result.exit_code == 0, result.stderr
    return tmp / "out" / "fleet.html", generated


@pytest.fixture(scope="module")
def hostile_page(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Generated]:
    return _report(tmp_path_factory.mktemp("hostile"), 30, hostile=True)


@pytest.fixture(scope="module")
def fleet_page(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Generated]:
    return _report(tmp_path_factory.mktemp("fleet"), 24, hostile=False)


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A page that fails the test on any script error, dialog or CSP violation."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    problems: list[str] = []
    opened.on("pageerror", lambda exc: problems.append(f"script error: {exc}"))
    opened.on("dialog", lambda dialog: problems.append(f"dialog: {dialog.message}"))
    opened.on("console", lambda msg: problems.append(msg.text) if msg.type in ("error", "warning") else None)
    yield opened
    context.close()
    assert problems == []


def _visible_tenants(page: Any) -> list[str]:
    return list(
        page.eval_on_selector_all(
            "#rows tr[data-row]:not([hidden]) summary", "els => els.map(e => e.textContent)"
        )
    )


def test_the_summary_counts_are_those_of_the_results(page: Any, fleet_page: tuple[Path, Generated]) -> None:
    path, generated = fleet_page
    page.goto(path.as_uri())
    shown = {s: int(page.text_content(f"#count-{s}")) for s in ("in_sync", "drifted", "failed", "unknown")}
    assert shown == generated.expected_counts
    rows = {s: page.locator(f"#rows tr.row-{s}").count() for s in shown}
    assert rows == shown
    data = json.loads((path.parent / "fleet.json").read_text())["summary"]
    assert int(page.text_content("#count-groups-losing")) == data["groups_losing_sessions"] == 4
    assert int(page.text_content("#count-manual")) == data["manual_steps_open"] == 8
    assert int(page.text_content("#count-credentials")) == data["credentials_expiring_30_days"] == 3
    assert page.text_content("#shown") == "24 of 24 tenants shown"


def test_sorting_and_filtering_change_the_rows(page: Any, fleet_page: tuple[Path, Generated]) -> None:
    path, generated = fleet_page
    page.goto(path.as_uri())
    worst_first = _visible_tenants(page)
    assert worst_first[0] == "tenant-0002"  # failed first, by name
    page.click("th[data-sort=tenant] button")
    assert _visible_tenants(page) == sorted(generated.kinds)
    assert page.get_attribute("th[data-sort=tenant]", "aria-sort") == "ascending"
    assert page.get_attribute("th[data-sort=state]", "aria-sort") is None
    page.click("th[data-sort=tenant] button")
    assert _visible_tenants(page) == sorted(generated.kinds, reverse=True)
    page.select_option("#state-filter", "drifted")
    drifted = [t for t, k in generated.kinds.items() if k == "drifted"]
    assert _visible_tenants(page) == sorted(drifted, reverse=True)
    assert page.text_content("#shown") == f"{len(drifted)} of 24 tenants shown"
    assert "state=drifted" in page.url  # the view is a link
    page.goto(path.as_uri() + "#state=failed&sort=tenant&dir=asc")
    page.reload()
    failed = sorted(t for t, k in generated.kinds.items() if k in ("losing", "apply_failed"))
    assert _visible_tenants(page) == failed


def test_a_hostile_tenant_value_renders_as_text(page: Any, hostile_page: tuple[Path, Generated]) -> None:
    path, _ = hostile_page
    page.goto(path.as_uri())
    names = page.eval_on_selector_all("#rows summary", "els => els.map(e => e.textContent)")
    assert "<img src=x onerror=alert(1)>\\u202ecod.exe<a href='javascript:alert(2)'>x</a>" in names
    assert page.locator("img").count() == 0 and page.locator("a").count() == 0
    page.click("#rows summary >> nth=0")  # a row opens its details
    assert page.locator("#rows details[open]").count() == 1


def test_the_page_reads_with_scripts_off(browser: Any, fleet_page: tuple[Path, Generated]) -> None:
    path, _ = fleet_page
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(path.as_uri())
    assert page.locator("#rows tr[data-row]").count() == 24
    assert not page.is_visible("#controls")  # the sort and filter controls need the script
    assert page.text_content("#count-failed") == "8"
    context.close()


def test_printed_the_controls_are_hidden_and_every_row_s_details_open(
    page: Any, fleet_page: tuple[Path, Generated]
) -> None:
    path, _ = fleet_page
    page.goto(path.as_uri())
    page.emulate_media(media="print")
    assert not page.is_visible("#controls")
    assert page.is_visible("#rows tr[data-row] >> nth=23")
    page.evaluate("window.dispatchEvent(new Event('beforeprint'))")
    assert page.locator("#rows details[open]").count() == 24  # printed, every row's details open


@pytest.mark.parametrize("width", WIDTHS)
def test_no_horizontal_overflow_and_a_screenshot(
    browser: Any, fleet_page: tuple[Path, Generated], hostile_page: tuple[Path, Generated], width: int
) -> None:
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    for path, _ in (hostile_page, fleet_page):
        page.goto(path.as_uri())
        page.click("#rows summary >> nth=1")  # an open row must fit too
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{path.parent.parent.name} overflows by {overflow} px at {width} px"
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"fleet-report-{width}.png"))
    context.close()


@pytest.mark.integration
def test_the_demo_s_own_report_shows_tier_2_losing_sessions_then_recovering(
    page: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """`make demo`'s Done-when: its report, opened in Chromium, shows contoso's Support/Tier 2
    losing every session, then recovering, in the trend."""
    import subprocess
    import sys

    where = tmp_path_factory.mktemp("demo")
    run = subprocess.run(
        [sys.executable, "-m", "reconciler", "demo", "--report-dir", str(where)],
        cwd=REPO,
        env={**os.environ, "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    page.goto((where / "fleet.html").as_uri())
    tier2 = page.locator("#rows tr:has(summary:text-is('contoso')) .group:has-text('Support/Tier 2')")
    assert tier2.is_visible()
    assert tier2.locator("path.p-failing").count() == 1 and tier2.locator("path.p-recovered").count() == 1
    words = tier2.locator(".words").text_content() or ""
    assert words.startswith("trend: failing 0% → recovered ") and not words.endswith(" 0%")
