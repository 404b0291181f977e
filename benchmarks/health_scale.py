"""Benchmark of ``reconcile health`` at scale (issues 13 and 18): tenants x technicians with a
week of Rescue sessions, against the sandbox with injected latency, and what Rescue's report
limit (one report per 60 s per account) costs a fleet.

For each case: generate the seed and tenant files (5 % drift: some technicians unmapped), give
every tenant admin consent, a report sign-in and ``--sessions-per-day`` sessions per technician
over the last 7 days (delivered, or not, by the sandbox's integration as they end), start the
sandbox in its own process with ``all:latency=<latency>`` serving one report per
``--report-interval`` seconds (the product follows the interval the sandbox states), then run
``reconcile health --days 7 --format json`` in a fresh process. Recorded: wall time, CPU time and
peak memory of the health process, requests per tenant (as health counted them and as the
sandbox logged them), report calls, sessions and delivery, and the ratio of the wall time to the
floor: per tenant, the requests that must follow one another (token, hierarchy, sign-in, then
per technician six report settings and the report) times the latency, plus the report interval
between two reports, times the rounds of ``--concurrency`` tenants.

Then the model: the same formulas with the real 60 s interval, for ``--model-tenants`` tenants of
``--model-technicians`` technicians, checked against the measured request counts. Health asks
one report per technician (``getReport_v2`` documents ``nodetype=NODE`` for a technician only),
so the real interval, not the requests, decides how long a fleet takes.

    .venv/bin/python benchmarks/health_scale.py                    # 300x10 -> health_results.md
    .venv/bin/python benchmarks/health_scale.py --cases 10x1000 --sessions-per-day 2

Figures, not assertions: one report per technician, one sign-in per account and one listing per
tenant are asserted by tests/integration/test_health.py and test_health_reports.py.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
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

from rescue_sandbox.rescue.sessions import REPORT_INTERVAL_ENV

DEFAULT_CASES = "300x10"
LOGMEIN_APP = "1e2716f5-fee6-4370-a121-baea6d360668"
REAL_REPORT_INTERVAL = 60.0  # getReport_v2: "You can retrieve reports every 60 seconds."
# Requests of one tenant that must wait for each other (Dynamics reads run beside them): a
# token and the hierarchy while the tenant holds one of the --concurrency places; then, without
# a place, login.aspx and per technician the six report settings and the report.
READ_CHAIN = 2
REPORT_FIXED = 1
PER_TECHNICIAN = 7
# Rescue requests of one tenant: the hierarchy and the sign-in, then seven per technician.
RESCUE_FIXED = 2


def rescue_requests(technicians: int) -> int:
    return RESCUE_FIXED + PER_TECHNICIAN * technicians


def report_floor_s(reports: int, latency: float, interval: float) -> float:
    """The least time one account's reports take: their chain of requests, and the interval
    between two reports (the wait comes before each report's settings)."""
    return (REPORT_FIXED + PER_TECHNICIAN * reports) * latency + max(0, reports - 1) * interval


def fleet_floor_s(tenants: int, technicians: int, concurrency: int, latency: float, interval: float) -> float:
    """The reads in rounds of ``concurrency`` tenants; each tenant's reports (its own account)
    run beside the others', so the last tenant read ends the fleet one account's reports later."""
    reads = math.ceil(tenants / concurrency) * READ_CHAIN * latency
    return reads + report_floor_s(technicians, latency, interval)


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
    "formula",
    "getReport_v2 / tenant",
    "login / tenant",
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

    def formula_agrees(self) -> str:
        """Whether every tenant's Rescue requests are 2 + 7 x its technicians (as read)."""
        technicians = {t["tenant"]: self.technicians_of(t) for t in self.report["tenants"]}
        counts = dict(
            zip((t["tenant"] for t in self.report["tenants"]), self.per_tenant("rescue"), strict=True)
        )
        return "yes" if all(counts[n] == rescue_requests(technicians[n]) for n in counts) else "NO"

    @staticmethod
    def technicians_of(tenant: dict[str, Any]) -> int:
        endpoints = tenant["requests"].get("rescue", {}).get("endpoints", {})
        return sum(int(e["requests"]) for key, e in endpoints.items() if "getReport_v2" in key)

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
            self.formula_agrees(),
            spread(self.per_tenant("rescue", "getReport_v2")),
            spread(self.per_tenant("rescue", "login")),
            f"{self.retries():,}",
            "yes" if self.log_agrees() else "NO",
            self.run.code,
        ]


def run_case(case: Case, work: Path, *, latency: float, concurrency: int, interval: float) -> Result:
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
    floor = fleet_floor_s(case.tenants, case.technicians, concurrency, latency, interval)
    return Result(case, run, report, logged, floor)


def duration(seconds: float) -> str:
    """``45 s``, ``9.0 min``, ``11.3 h``, ``2.1 d``."""
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size * 1.5:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"


MODEL_HEADERS = (
    "tenants x technicians",
    "getReport_v2",
    "Rescue requests",
    "one tenant's reports",
    "fleet, --concurrency {c}",
    "fleet on one shared account",
)


def model_rows(
    tenants: int, technicians: list[int], *, concurrency: int, latency: float
) -> list[list[object]]:
    """What the real 60 s interval imposes: the least time, never less whatever the machine."""
    rows: list[list[object]] = []
    for count in technicians:
        reports = tenants * count
        rows.append(
            [
                f"{tenants} x {count:,}",
                f"{reports:,}",
                f"{tenants * rescue_requests(count):,}",
                duration(report_floor_s(count, latency, REAL_REPORT_INTERVAL)),
                duration(fleet_floor_s(tenants, count, concurrency, latency, REAL_REPORT_INTERVAL)),
                duration(report_floor_s(reports, latency, REAL_REPORT_INTERVAL)),
            ]
        )
    return rows


def write_results(path: Path, results: list[Result], args: argparse.Namespace) -> str:
    table = markdown_table(HEADERS, [r.row() for r in results])
    headers = [h.format(c=args.concurrency) for h in MODEL_HEADERS]
    model = markdown_table(
        headers,
        model_rows(
            args.model_tenants, args.model_technicians, concurrency=args.concurrency, latency=args.latency
        ),
    )
    latency, concurrency, interval = args.latency, args.concurrency, args.report_interval
    text = (
        "# `reconcile health` at scale\n\n"
        f"Written by `benchmarks/health_scale.py` on {dt.date.today().isoformat()} ({environment()}).\n"
        f"Sandbox in its own process with `all:latency={latency}` (every request waits {latency * 1000:.0f} ms) "
        f"serving one report per {interval:g} s (`RESCUE_SANDBOX_REPORT_INTERVAL`; the product follows "
        f"the interval the sandbox states); {args.sessions_per_day} session(s) per technician per day over "
        "7 days, 5 % of technicians drifted (some unmapped); "
        f"`reconcile health --days 7 --format json --concurrency {concurrency}` in a fresh process.\n\n"
        + table
        + "\n"
        "- *sessions*, *delivered*: Rescue sessions in the reports and how many reached Dynamics.\n"
        f"- *floor s*: ⌈tenants / {concurrency}⌉ x {READ_CHAIN} sequential reads x the latency (the "
        f"places), then one tenant's reports: ({REPORT_FIXED} + {PER_TECHNICIAN} x technicians) requests x "
        f"the latency + (technicians - 1) x {interval:g} s between reports; "
        "*wall / floor*: how far above that floor the run is.\n"
        "- *Rescue req / tenant*: getHierarchy_v2, login.aspx, then per technician the six report "
        "settings (area, time zone, dates, time of day, output, delimiter) and getReport_v2; "
        f"*formula*: every tenant's count is {RESCUE_FIXED} + {PER_TECHNICIAN} x its reports.\n"
        "- *getReport_v2 / tenant*: one per technician (`nodetype=NODE` is documented for a "
        "technician only); *login / tenant*: one sign-in per account per run.\n"
        "- *Dataverse req / tenant*: paged reads (sessions of the window, settings rows, application "
        "user and roles, the key, business units): O(pages), not O(rows).\n"
        "- *retries*: requests sent again after a transport error; the sandbox also logs the late "
        "original, so its log then disagrees with the counts.\n"
        "- *sandbox log agrees*: the per-tenant counts in the output equal the sandbox's request log.\n"
        "\n## What the real report interval imposes (model)\n\n"
        f"The same formulas with Rescue's 60 s between two reports of an account and {latency * 1000:.0f} ms "
        f"a request, for {args.model_tenants} tenants, each its own Rescue account unless said: the least "
        "time, whatever the machine or the network.\n\n" + model + "\n"
        "- *one tenant's reports*: (technicians - 1) x 60 s, plus the chain of requests.\n"
        f"- *fleet, --concurrency {concurrency}*: tenants are read {concurrency} at a time; a tenant "
        "gives its place up for its reports, so accounts wait side by side and the fleet takes about "
        "as long as its largest account.\n"
        "- *fleet on one shared account*: every report of the fleet one after the other (tenants "
        "that sign in with one account are serialised, as the settings are that user's).\n"
    )
    path.write_text(text, "utf-8")
    return text


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser(
        __doc__, DEFAULT_CASES, Path(__file__).resolve().parent / "health_results.md", "checked"
    )
    parser.add_argument("--sessions-per-day", type=int, default=1, help="sessions per technician per day (1)")
    parser.add_argument(
        "--report-interval",
        type=float,
        default=0.05,
        help="seconds between two reports of an account in the measured run (0.05; Rescue: 60)",
    )
    parser.add_argument("--model-tenants", type=int, default=300, help="tenants of the model (300)")
    parser.add_argument(
        "--model-technicians",
        type=lambda text: [int(n) for n in text.split(",") if n],
        default=[10, 50, 200, 1000],
        help="technicians per tenant in the model (10,50,200,1000)",
    )
    args = parser.parse_args(argv)
    cases = parse_cases(parser, args.cases, min_technicians=1)
    if not 0 <= args.report_interval <= 3600:
        parser.error("--report-interval: between 0 and 3600 seconds")
    # The sandbox process reads it; health follows what the sandbox's sandbox.json states.
    os.environ[REPORT_INTERVAL_ENV] = repr(args.report_interval)
    work = args.work or Path(tempfile.mkdtemp(prefix="health-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    results = []
    try:
        for tenants, technicians in cases:
            case = make_case(work, tenants, technicians)
            prepare(case, args.sessions_per_day)
            print(f"{case.label}: checking health ...", file=sys.stderr, flush=True)
            result = run_case(
                case, work, latency=args.latency, concurrency=args.concurrency, interval=args.report_interval
            )
            print(markdown_table(HEADERS, [result.row()]), file=sys.stderr, flush=True)
            results.append(result)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    print(write_results(args.out, results, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
