"""Benchmark of ``reconcile health`` at scale (issue 13): tenants x technicians with a week of
Rescue sessions, against the sandbox with injected latency.

For each case: generate the seed and tenant files (5 % drift: some technicians unmapped), give
every tenant admin consent, a report sign-in and ``--sessions-per-day`` sessions per technician
over the last 7 days (delivered, or not, by the sandbox's integration as they end), start the
sandbox in its own process with ``all:latency=<latency>``, then run ``reconcile health --days 7
--format json`` in a fresh process. Recorded: wall time, CPU time and peak memory of the health
process, requests per tenant (as health counted them and as the sandbox logged them), sessions
and delivery, and the ratio of the wall time to the latency floor: the requests that must follow
one another per tenant (token, hierarchy, sign-in, three report settings, the report) times the
latency, times the rounds of ``--concurrency`` tenants.

    .venv/bin/python benchmarks/health_scale.py                    # 1x1000 and 100x1000 -> health_results.md
    .venv/bin/python benchmarks/health_scale.py --cases 10x1000 --sessions-per-day 2

Figures, not assertions: the one-report-per-tenant and one-listing rules are asserted by
tests/integration/test_health.py.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # a script next to its helpers
    PYTHON,
    Case,
    Measured,
    bench_parser,
    environment,
    make_case,
    markdown_table,
    parse_cases,
    run_measured,
    sandbox_process,
    spread,
)

DEFAULT_CASES = "1x1000,100x1000"
LOGMEIN_APP = "1e2716f5-fee6-4370-a121-baea6d360668"
# Requests of one tenant that must wait for each other: a token, the hierarchy, login.aspx,
# setReportArea_v8, setReportDate_v2, setOutput, getReport_v2 (Dynamics reads run beside them).
SEQUENTIAL = 7
HEADERS = (
    "tenants x technicians",
    "sessions",
    "delivered",
    "wall s",
    "floor s",
    "wall / floor",
    "health CPU s",
    "peak RSS MB",
    "Dataverse req / tenant",
    "Rescue req / tenant",
    "getReport_v2 / tenant",
    "retries",
    "sandbox log agrees",
    "exit",
)


def prepare(case: Case, sessions_per_day: int) -> None:
    """Consent, a report sign-in and a week of sessions for every tenant of the case (once)."""
    marker = case.root / f"health-{sessions_per_day}.done"
    if marker.is_file():
        return
    seed = json.loads(case.seed.read_text("utf-8"))
    for name, tenant in seed["tenants"].items():
        ref = f"{name.upper()}_RESCUE_ADMIN_PASSWORD"
        tenant["secrets"][f"env:{ref}"] = {"from": "rescue.admin_password"}
        tenant["identity"]["service_principals"] = [{"app_id": LOGMEIN_APP}]
        groups = [c["name"] for g in tenant["rescue"]["groups"] for c in g.get("children") or []]
        tenant["rescue"]["sessions"] = [
            {
                "group": f"Support/{group}",
                "count": 7 * sessions_per_day,
                "every_minutes": 24 * 60 / sessions_per_day,
                "minutes": 20,
            }
            for group in groups
        ]
        path = case.tenant_dir / name / "tenant.yaml"
        text = path.read_text("utf-8")
        sign_in = (
            f"    reports:\n      email: admin@{name}.example.com\n      password:\n        env: {ref}\n"
        )
        path.write_text(text.replace("solution:\n", sign_in + "solution:\n", 1), "utf-8")
    case.seed.write_text(json.dumps(seed), "utf-8")
    marker.write_text("ok", "utf-8")


@dataclass
class Result:
    case: Case
    run: Measured
    report: dict[str, Any]
    logged: dict[str, dict[str, int]]
    floor_s: float

    def per_tenant(self, service: str, endpoint: str | None = None) -> list[int]:
        out = []
        for tenant in self.report["tenants"]:
            stats = tenant["requests"].get(service, {})
            if endpoint is None:
                out.append(int(stats.get("requests", 0)))
            else:
                endpoints = stats.get("endpoints", {}).items()
                out.append(sum(int(e["requests"]) for key, e in endpoints if endpoint in key))
        return out

    def retries(self) -> int:
        return sum(int(s.get("retries", 0)) for t in self.report["tenants"] for s in t["requests"].values())

    def log_agrees(self) -> bool:
        for tenant in self.report["tenants"]:
            seen = self.logged.get(tenant["tenant"], {})
            for service in ("dataverse", "rescue"):
                if int(tenant["requests"].get(service, {}).get("requests", 0)) != seen.get(service, 0):
                    return False
        return True

    def row(self) -> list[object]:
        groups = [g for t in self.report["tenants"] for g in t["groups"]]
        sessions = sum(g["sessions"] or 0 for g in groups)
        delivered = sum(g["delivered"] or 0 for g in groups)
        return [
            self.case.label,
            f"{sessions:,}",
            f"{delivered:,} ({delivered / sessions:.0%})" if sessions else "0",
            f"{self.run.wall_s:.1f}",
            f"{self.floor_s:.1f}",
            f"{self.run.wall_s / self.floor_s:.1f}",
            f"{self.run.cpu_s:.1f}",
            f"{self.run.peak_rss_mb:.0f}",
            spread(self.per_tenant("dataverse")),
            spread(self.per_tenant("rescue")),
            spread(self.per_tenant("rescue", "getReport_v2")),
            f"{self.retries():,}",
            "yes" if self.log_agrees() else "NO",
            self.run.code,
        ]


def run_case(case: Case, work: Path, *, latency: float, concurrency: int) -> Result:
    state_dir = work / f"sandbox-{case.tenants}x{case.technicians}"
    out = work / f"health-{case.tenants}x{case.technicians}.json"
    faults = f"all:latency={latency}" if latency else ""
    with sandbox_process(case.seed, state_dir, faults=faults, timeout=1800) as sandbox:
        sandbox.control("DELETE", "/requests")
        args = [PYTHON, "-m", "reconciler", "health", str(case.tenant_dir), "--sandbox", str(state_dir)]
        args += ["--days", "7", "--format", "json", "--out", str(out), "--concurrency", str(concurrency)]
        run = run_measured(args)
        if run.code not in (0, 2) or not out.is_file():
            raise SystemExit(f"{case.label}: reconcile health exited {run.code}:\n{run.stderr[-4000:]}")
        report = json.loads(out.read_text("utf-8"))
        logged = sandbox.requests_by_tenant([t["tenant"] for t in report["tenants"]])
    floor = math.ceil(case.tenants / concurrency) * SEQUENTIAL * latency
    return Result(case, run, report, logged, floor)


def write_results(
    path: Path, results: list[Result], *, latency: float, concurrency: int, per_day: int
) -> str:
    table = markdown_table(HEADERS, [r.row() for r in results])
    text = (
        "# `reconcile health` at scale\n\n"
        f"Written by `benchmarks/health_scale.py` on {dt.date.today().isoformat()} ({environment()}).\n"
        f"Sandbox in its own process with `all:latency={latency}` (every request waits {latency * 1000:.0f} ms); "
        f"{per_day} session(s) per technician per day over 7 days, 5 % of technicians drifted (some unmapped); "
        f"`reconcile health --days 7 --format json --concurrency {concurrency}` in a fresh process.\n\n"
        + table
        + "\n"
        "- *sessions*, *delivered*: Rescue sessions in the reports and how many reached Dynamics.\n"
        f"- *floor s*: ⌈tenants / {concurrency}⌉ x {SEQUENTIAL} sequential requests x the latency; "
        "*wall / floor*: how far above that floor the run is.\n"
        "- *Dataverse req / tenant*: paged reads (sessions of the window, settings rows, application "
        "user and roles, the key, business units): O(pages), not O(rows).\n"
        "- *getReport_v2 / tenant*: Rescue serves one report per 60 s; health fetches one per tenant per run.\n"
        "- *retries*: requests sent again after a transport error (a read that timed out on a loaded "
        "machine); the sandbox also logs the late original, so its log then disagrees with the counts.\n"
        "- *sandbox log agrees*: the per-tenant counts in the output equal the sandbox's request log.\n"
        "- The wall time above the floor is CPU: both sides serialise and parse every session of the week "
        "(the XML report, the JSON pages of LogMeIn Session rows); *health CPU s* is the client's share.\n"
    )
    path.write_text(text, "utf-8")
    return text


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser(
        __doc__, DEFAULT_CASES, Path(__file__).resolve().parent / "health_results.md", "checked"
    )
    parser.add_argument("--sessions-per-day", type=int, default=1, help="sessions per technician per day (1)")
    args = parser.parse_args(argv)
    cases = parse_cases(parser, args.cases, min_technicians=1)
    work = args.work or Path(tempfile.mkdtemp(prefix="health-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    results = []
    try:
        for tenants, technicians in cases:
            case = make_case(work, tenants, technicians)
            prepare(case, args.sessions_per_day)
            print(f"{case.label}: checking health ...", file=sys.stderr, flush=True)
            result = run_case(case, work, latency=args.latency, concurrency=args.concurrency)
            print(markdown_table(HEADERS, [result.row()]), file=sys.stderr, flush=True)
            results.append(result)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    print(
        write_results(
            args.out,
            results,
            latency=args.latency,
            concurrency=args.concurrency,
            per_day=args.sessions_per_day,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
