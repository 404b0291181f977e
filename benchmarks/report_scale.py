"""`reconcile report` at fleet size: a generated fleet of 300 tenants with drift and faults
(tests/report/report_factory.py: in sync, drifted, losing sessions, apply failed, unreadable, recovered;
30 health runs of history), its page's size, the time Chromium takes to render it, and its
counts against the results'. Writes benchmarks/report_results.md.

Render time: ``loadEventEnd`` of the navigation (the page parsed, styled, its script run: the
rows sorted and filtered once) in headless Chromium (/usr/bin/chromium), median of 5 loads in
fresh pages.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "report"))

from report_chromium import launch  # noqa: E402
from report_factory import generate  # noqa: E402

PAGE_BUDGET = 2 * 1024 * 1024
RENDER_BUDGET_MS = 2000


def _render_ms(page_path: Path, loads: int) -> tuple[float, dict[str, int]]:
    from playwright.sync_api import sync_playwright

    times = []
    counts: dict[str, int] = {}
    with sync_playwright() as p:
        browser = launch(p)
        for _ in range(loads):
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(page_path.as_uri(), wait_until="load")
            times.append(page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd"))
            counts = {
                s: int(page.text_content(f"#count-{s}") or -1)
                for s in ("in_sync", "drifted", "failed", "unknown")
            }
            page.close()
        browser.close()
    return statistics.median(times), counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tenants", type=int, default=300)
    parser.add_argument("--health-runs", type=int, default=30)
    parser.add_argument("--loads", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        generated = generate(folder / "results", args.tenants, health_runs=args.health_runs)
        inputs = sum(p.stat().st_size for p in generated.files)
        started = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "reconciler",
                "report",
                str(folder / "results"),
                "--out",
                str(folder / "out"),
            ],
            check=True,
            capture_output=True,
        )
        report_s = time.perf_counter() - started
        page = folder / "out" / "fleet.html"
        size = page.stat().st_size
        render_ms, shown = _render_ms(page, args.loads)
        summary = json.loads((folder / "out" / "fleet.json").read_text())["summary"]
    in_json = {s: summary[s] for s in shown}
    same = shown == in_json == generated.expected_counts
    lines = [
        f"# Report at {args.tenants} tenants (benchmarks/report_scale.py)",
        "",
        f"{args.tenants} tenants, {len(generated.files)} result files ({inputs / 1e6:.1f} MB), "
        f"{args.health_runs} health runs of history; median of {args.loads} loads in headless Chromium.",
        "",
        "| measure | value | budget | share of budget |",
        "|---|---:|---:|---:|",
        f"| page size (one file) | {size / 1e6:.2f} MB | 2 MiB | {size / PAGE_BUDGET:.0%} |",
        f"| render (loadEventEnd) | {render_ms / 1000:.2f} s | 2 s | {render_ms / RENDER_BUDGET_MS:.0%} |",
        f"| `reconcile report` (whole process) | {report_s:.2f} s | | |",
        "",
        f"Counts on the page {shown}, in fleet.json {in_json}, by construction "
        f"{generated.expected_counts}: {'equal' if same else 'NOT EQUAL'}.",
        "",
    ]
    text = "\n".join(lines)
    (REPO / "benchmarks" / "report_results.md").write_text(text)
    print(text)
    if not same or size >= PAGE_BUDGET:
        sys.exit(1)


if __name__ == "__main__":
    main()
