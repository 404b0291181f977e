"""The page without a browser: one file, no external asset, a CSP whose hashes are the page's own
style and script, a data island no value can close, and values as text; and the job summary."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
from pathlib import Path

import pytest
from report_factory import NOW, generate

from reconciler.report.fleet import Fleet, build_fleet
from reconciler.report.html import island_json, render_page
from reconciler.report.reader import read_results
from reconciler.report.summary import step_summary

HOSTILE = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Fleet:
    runs, _ = read_results(generate(tmp_path_factory.mktemp("results"), 30, hostile=True).files)
    return build_fleet(runs, now=NOW, unreadable=[("bad/<b>x</b>.json", ("is not JSON",))])


def _sha(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def test_the_csp_comes_first_and_allows_only_the_page_s_own_style_and_script(fleet: Fleet) -> None:
    page = render_page(fleet)
    head = page.split("<head>", 1)[1]
    assert head.lstrip().startswith('<meta http-equiv="Content-Security-Policy"')
    csp = re.search(r'content="([^"]*)"', head)
    assert csp is not None
    style = re.search(r"<style>(.*?)</style>", page, re.S)
    scripts = re.findall(r"<script>(.*?)</script>", page, re.S)
    assert style is not None and len(scripts) == 1
    assert html.unescape(csp[1]) == (
        f"default-src 'none'; script-src {_sha(scripts[0])}; style-src {_sha(style[1])}; img-src data:; "
        "base-uri 'none'; form-action 'none'"
    )


def test_no_external_asset_inline_handler_or_style_attribute(fleet: Fleet) -> None:
    # The markup outside the data island (which holds the hostile name as JSON text: checked below).
    page = re.sub(r'<script type="application/json".*?</script>', "", render_page(fleet), flags=re.S)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//|javascript:)""", page, re.I)
    assert not re.search(r"<[^>]+\son\w+\s*=", page)  # the hostile name's onerror= is text, not an attribute
    assert " style=" not in page and "<link" not in page


def test_hostile_values_are_text_in_the_table_and_the_data_island(fleet: Fleet) -> None:
    page = render_page(fleet)
    assert HOSTILE not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "\u202e" not in page and "\\u202e" in page  # the bidi override shown as an escape
    island = re.search(r'<script type="application/json" id="fleet-data">(.*?)</script>', page, re.S)
    assert island is not None and "<" not in island[1]
    assert json.loads(island[1])["rows"][0]["tenant"] is not None
    assert "&lt;b&gt;x&lt;/b&gt;.json" in page  # an unreadable file's name, too


def test_the_island_escapes_what_could_end_its_script() -> None:
    text = island_json({"v": "</script><!-- \u2028 & >"})
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text) == {"v": "</script><!-- \u2028 & >"}


def test_three_hundred_tenants_make_one_page_under_2_mb(tmp_path: Path) -> None:
    runs, _ = read_results(generate(tmp_path, 300, health_runs=10).files)
    assert len(render_page(build_fleet(runs, now=NOW)).encode()) < 2 * 1024 * 1024


def test_the_step_summary_stays_within_its_budget_and_shows_values_as_code(fleet: Fleet) -> None:
    text = step_summary(fleet, "out/fleet.html")
    assert "| 30 | 10 | 5 | 10 | 5 | 5 | 10 | 3 | 1 |" in text
    assert "- unreadable: `bad/<b>x</b>.json`: `is not JSON`" in text  # values as code spans
    assert "| `tenant-0002` | failed | `Support/Tier 2: failing` |" in text
    small = step_summary(fleet, "out/fleet.html", budget=2200)
    assert len(small.encode()) <= 2200 and "more tenants to look at: see the report" in small
    assert step_summary(fleet, "out/fleet.html", budget=100) == ""
