"""Benchmark of ``reconcile plan`` at scale (issue 4): 1 x 10, 1 x 5,000 and 100 x 1,000
(tenants x technicians) against the sandbox with injected latency.

For each case: generate the seed and tenant files (5 % drift), start the sandbox in its own
process with ``all:latency=<latency>``, run ``reconcile plan --format json --out FILE`` in a fresh
process, and record its wall time, CPU time and peak memory, the sandbox's CPU time over the
same span, and the requests per tenant to Dataverse and Rescue, both as the plan counted them
and as the sandbox logged them. Dataverse reads must stay within ⌈rows / 5,000⌉ per table plus a
constant (DESIGN §4); Rescue costs one hierarchy call plus one getUser_v3 per mapped technician.

    .venv/bin/python benchmarks/plan_scale.py                       # all cases, table -> plan_results.md
    .venv/bin/python benchmarks/plan_scale.py --cases 1x10,1x5000 --latency 0.05

Figures, not assertions: the request-count bound is asserted by tests/integration/test_plan_requests.py.
"""

from __future__ import annotations

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
    SandboxProcess,
    bench_parser,
    environment,
    make_case,
    markdown_table,
    parse_cases,
    run_measured,
    runqueue_wait_s,
    sandbox_process,
    spread,
)

PAGE = 5000
# Dataverse reads that do not grow with the tables (see tests/integration/test_plan_requests.py):
# 7 singleton reads plus up to 5 lookups of users by name (or the empty page after a full one).
CONSTANT = 12
DEFAULT_CASES = "1x10,1x2000,1x5000,100x1000,1000x100"
HEADERS = (
    "tenants x technicians",
    "wall s",
    "floor s",
    "wall / floor",
    "waited for a CPU s: plan / sandbox",
    "plan CPU s",
    "plan peak RSS MB",
    "sandbox CPU s",
    "Dataverse req / tenant",
    "Dataverse bound",
    "Rescue req / tenant",
    "Rescue expected",
    "retries",
    "sandbox log agrees",
    "plan: create / update / manual / unknown",
    "exit",
)


IN_FLIGHT_PER_TENANT = 8  # ClientSettings.max_concurrency
SLOW_TRANSPORT_MS = 5.0  # a loopback round trip should take about 1 ms


@dataclass
class Result:
    case: Case
    run: Measured
    sandbox_cpu_s: float | None
    plan: dict[str, Any]
    logged: dict[str, dict[str, int]]
    round_trip_ms: float
    latency: float
    concurrency: int
    sandbox_wait_s: float | None

    def per_tenant(self, service: str) -> list[int]:
        return [int(t["requests"].get(service, {}).get("requests", 0)) for t in self.plan["tenants"]]

    def requests(self) -> int:
        """Every request the plan sent (all services, retries included)."""
        return sum(int(s.get("requests", 0)) for t in self.plan["tenants"] for s in t["requests"].values())

    def floor_s(self) -> float:
        """The latency floor: requests / requests in flight x latency (no CPU, no serial phase)."""
        in_flight = min(self.case.tenants, self.concurrency) * IN_FLIGHT_PER_TENANT
        return self.requests() / in_flight * self.latency

    def retries(self) -> int:
        return sum(int(s.get("retries", 0)) for t in self.plan["tenants"] for s in t["requests"].values())

    def log_agrees(self) -> bool:
        for tenant in self.plan["tenants"]:
            seen = self.logged.get(tenant["tenant"], {})
            for service in ("dataverse", "rescue"):
                counted = int(tenant["requests"].get(service, {}).get("requests", 0))
                if counted != seen.get(service, 0):
                    return False
        return True

    def row(self) -> list[object]:
        technicians = self.case.technicians
        bound = 2 * math.ceil(technicians / PAGE) + CONSTANT  # settings rows + users, paged
        totals = self.plan.get("totals", {})
        return [
            self.case.label,
            f"{self.run.wall_s:.1f}",
            f"{self.floor_s():.1f}",
            f"{self.run.wall_s / self.floor_s():.2f}" if self.floor_s() else "-",
            f"{_seconds(self.run.cpu_wait_s)} / {_seconds(self.sandbox_wait_s)}",
            f"{self.run.cpu_s:.1f}",
            f"{self.run.peak_rss_mb:.0f}",
            "-" if self.sandbox_cpu_s is None else f"{self.sandbox_cpu_s:.1f}",
            spread(self.per_tenant("dataverse")),
            f"≤ {bound}",
            spread(self.per_tenant("rescue")),
            f"{1 + technicians:,}",
            f"{self.retries():,}",
            "yes" if self.log_agrees() else "NO",
            " / ".join(f"{totals.get(k, 0):,}" for k in ("create", "update", "manual", "unknown")),
            self.run.code,
        ]


def _cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) of a running process, from /proc (None where unavailable)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def run_case(case: Case, work: Path, *, latency: float, concurrency: int) -> Result:
    state_dir = work / f"sandbox-{case.tenants}x{case.technicians}"
    plan_file = work / f"plan-{case.tenants}x{case.technicians}.json"
    faults = f"all:latency={latency}" if latency else ""
    with sandbox_process(case.seed, state_dir, faults=faults) as sandbox:
        round_trip = sandbox.round_trip_ms()
        sandbox.control("DELETE", "/requests")
        before = _cpu_seconds(sandbox.proc.pid)
        wait_before = runqueue_wait_s(sandbox.proc.pid)
        run = run_measured(
            [
                PYTHON,
                "-m",
                "reconciler",
                "plan",
                str(case.tenant_dir),
                "--sandbox",
                str(state_dir),
                "--format",
                "json",
                "--out",
                str(plan_file),
                "--concurrency",
                str(concurrency),
            ]
        )
        after = _cpu_seconds(sandbox.proc.pid)
        wait_after = runqueue_wait_s(sandbox.proc.pid)
        if run.code not in (0, 2) or not plan_file.is_file():
            raise SystemExit(f"{case.label}: reconcile plan exited {run.code}:\n{run.stderr[-4000:]}")
        plan = json.loads(plan_file.read_text("utf-8"))
        logged = _logged(sandbox, plan)
    cpu = None if before is None or after is None else after - before
    waited = None if wait_before is None or wait_after is None else wait_after - wait_before
    return Result(case, run, cpu, plan, logged, round_trip, latency, concurrency, waited)


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _logged(sandbox: SandboxProcess, plan: dict[str, Any]) -> dict[str, dict[str, int]]:
    return sandbox.requests_by_tenant([t["tenant"] for t in plan["tenants"]])


def write_results(path: Path, results: list[Result], *, latency: float, concurrency: int) -> str:
    table = markdown_table(HEADERS, [r.row() for r in results])
    round_trip = max((r.round_trip_ms for r in results), default=0.0)
    transport = (
        f"The sandbox's own round trip (a control call, no injected latency) took {round_trip:.1f} ms."
    )
    if round_trip > SLOW_TRANSPORT_MS:
        transport += (
            f" **That is slow for loopback (about 1 ms expected): every request carries those "
            f"{round_trip:.0f} ms on top of the injected latency, so wall times are inflated.**"
        )
    text = (
        "# `reconcile plan` at scale\n\n"
        f"Written by `benchmarks/plan_scale.py` on {dt.date.today().isoformat()} ({environment()}).\n"
        f"Sandbox in its own process with `all:latency={latency}` (every request waits {latency * 1000:.0f} ms); "
        f"`reconcile plan --format json --out FILE --concurrency {concurrency}` in a fresh process. "
        "5 % of technicians drifted. " + transport + "\n\n" + table + "\n"
        "- *wall s*, *plan CPU s*, *plan peak RSS MB*: the `reconcile plan` process alone (`os.wait4`).\n"
        "- *floor s*: requests sent / requests in flight x latency, with "
        f"{IN_FLIGHT_PER_TENANT} in flight per tenant and min(tenants, --concurrency) tenants at once: "
        "the wall time if nothing but the injected latency took time. *wall / floor*: how close to it.\n"
        "- *waited for a CPU s*: time the plan's main thread (and the sandbox's) was ready to run but "
        "every CPU was busy with other processes (Linux `schedstat`): on a shared machine, wall time "
        "the code did not cause.\n"
        "- *sandbox CPU s*: the sandbox process while the plan ran (it serves every tenant).\n"
        "- *Dataverse req / tenant*: requests the plan counted per tenant (min-max); *bound*: "
        f"⌈rows / {PAGE:,}⌉ for the settings table and for the user listing, plus {CONSTANT} "
        "(7 singleton reads, and up to 5 lookups of users by name or the empty page after a full one).\n"
        "- *Rescue req / tenant*: one getHierarchy_v2 plus one getUser_v3 per mapped technician "
        "(the API has no bulk read of SSO IDs).\n"
        "- *sandbox log agrees*: the per-tenant counts in the plan equal the sandbox's request log.\n"
    )
    path.write_text(text, "utf-8")
    return text


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser(
        __doc__, DEFAULT_CASES, Path(__file__).resolve().parent / "plan_results.md", "planned"
    )
    args = parser.parse_args(argv)
    cases = parse_cases(parser, args.cases, min_technicians=0)
    work = args.work or Path(tempfile.mkdtemp(prefix="plan-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    results = []
    try:
        for tenants, technicians in cases:
            case = make_case(work, tenants, technicians)
            print(f"{case.label}: planning ...", file=sys.stderr, flush=True)
            result = run_case(case, work, latency=args.latency, concurrency=args.concurrency)
            print(markdown_table(HEADERS, [result.row()]), file=sys.stderr, flush=True)
            results.append(result)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    print(write_results(args.out, results, latency=args.latency, concurrency=args.concurrency))
    return 0


if __name__ == "__main__":
    sys.exit(main())
