"""Shared pieces of the benchmarks: a generated case, the sandbox in its own process, a measured
``reconcile`` run, the sandbox's request log per tenant, and the results table.

The sandbox runs as a separate process (``reconcile sandbox serve``) so that it does not share
the interpreter lock with the process being measured; each measured command runs in a fresh
process too, and its peak memory and CPU time come from ``os.wait4`` for that process alone.
Latency is injected by the sandbox's fault spec (``all:latency=...``), so the figures include a
network round trip per request, as a real tenant would.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from rescue_sandbox import generate

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable


@dataclass(frozen=True)
class Case:
    """A generated seed and its tenants/ tree."""

    tenants: int
    technicians: int
    root: Path
    drift: Mapping[str, int]

    @property
    def label(self) -> str:
        return f"{self.tenants} x {self.technicians:,}"

    @property
    def seed(self) -> Path:
        return self.root / "seed.yaml"

    @property
    def tenant_dir(self) -> Path:
        return self.root / "tenants"


def make_case(work: Path, tenants: int, technicians: int, *, drift: float = 0.05, rng_seed: int = 0) -> Case:
    """Generate (once per work directory) the seed and tenant files of ``tenants x technicians``."""
    root = work / f"case-{tenants}x{technicians}-d{drift}-r{rng_seed}"
    marker = root / "drift.json"
    if not marker.is_file():
        result = generate(root, tenants=tenants, technicians=technicians, drift=drift, rng_seed=rng_seed)
        marker.write_text(json.dumps(result["drift"]), "utf-8")
    return Case(tenants, technicians, root, json.loads(marker.read_text("utf-8")))


@dataclass
class Measured:
    """One finished process: exit code, wall time, CPU time and peak resident memory, and the
    time its main thread was runnable but waiting for a CPU (other processes had them all)."""

    code: int
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    stderr: str
    cpu_wait_s: float | None = None


def runqueue_wait_s(pid: int) -> float | None:
    """Seconds the process's main thread has waited for a CPU while runnable (Linux schedstat)."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return None


class _WaitSampler(threading.Thread):
    """Samples ``runqueue_wait_s`` of a child until it exits (the value is gone after it does)."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.last: float | None = None
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            value = runqueue_wait_s(self.pid)
            if value is not None:
                self.last = value
            self.stop.wait(0.05)


def run_measured(args: Sequence[str], *, env: Mapping[str, str] | None = None, cwd: Path = REPO) -> Measured:
    """Run ``args`` to completion; resource use is that of this child alone (``os.wait4``)."""
    with tempfile.TemporaryFile("w+", encoding="utf-8") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            list(args), cwd=cwd, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL, stderr=err
        )
        sampler = _WaitSampler(proc.pid)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        sampler.stop.set()
        sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        stderr = err.read()
    return Measured(
        code=proc.returncode,
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        peak_rss_mb=usage.ru_maxrss / 1024,  # kilobytes on Linux
        stderr=stderr,
        cpu_wait_s=sampler.last,
    )


class SandboxProcess:
    """A running ``reconcile sandbox serve``; ``control`` calls its ``/_sandbox`` API."""

    def __init__(self, proc: subprocess.Popen[bytes], state_dir: Path) -> None:
        self.proc = proc
        self.state_dir = state_dir
        info = json.loads((state_dir / "sandbox.json").read_text("utf-8"))
        self.url = str(info["url"])
        self.info = info
        ctx = ssl.create_default_context(cafile=str(info["ca_file"]))
        self._http = httpx.Client(base_url=self.url, verify=ctx, trust_env=False, timeout=120)

    def control(self, method: str, path: str, body: Any = None) -> Any:
        response = self._http.request(method, f"/_sandbox{path}", json=body)
        if response.status_code >= 300:
            raise RuntimeError(f"sandbox control {method} {path}: {response.status_code} {response.text}")
        return response.json() if response.content else None

    def round_trip_ms(self, samples: int = 21) -> float:
        """Median time of a cheap control call on a warm connection: what the sandbox's own
        transport adds to every request (controls bypass the injected latency)."""
        times = []
        for _ in range(samples):
            start = time.perf_counter()
            self.control("GET", "/faults")
            times.append((time.perf_counter() - start) * 1000)
        return statistics.median(times)

    def requests_by_tenant(self, tenants: Sequence[str]) -> dict[str, dict[str, int]]:
        """Requests per tenant and service since the last reset, from the sandbox's log."""
        out: dict[str, dict[str, int]] = {}
        for name in tenants:
            summary = self.control("GET", f"/requests?tenant={name}")
            per_service: dict[str, int] = {}
            for count in summary["counts"]:
                per_service[count["service"]] = per_service.get(count["service"], 0) + int(count["count"])
            out[name] = per_service
        return out

    def close(self) -> None:
        self._http.close()


@contextmanager
def sandbox_process(
    seed: Path, state_dir: Path, *, faults: str = "", timeout: float = 300
) -> Iterator[SandboxProcess]:
    """``reconcile sandbox serve`` in a child process (fresh state), stopped with SIGTERM at the end."""
    state_dir.mkdir(parents=True, exist_ok=True)
    for stale in ("state.json", "sandbox.json"):
        (state_dir / stale).unlink(missing_ok=True)  # a persisted state would win over the seed
    args = [
        PYTHON,
        "-m",
        "reconciler",
        "sandbox",
        "serve",
        "--seed",
        str(seed),
        "--state-dir",
        str(state_dir),
    ]
    if faults:
        args += ["--faults", faults]
    log = (state_dir / "serve.log").open("wb")
    proc = subprocess.Popen(args, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    handle: SandboxProcess | None = None
    try:
        deadline = time.monotonic() + timeout
        while not (state_dir / "sandbox.json").is_file():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the sandbox did not start; see {state_dir / 'serve.log'}")
            time.sleep(0.1)
        handle = SandboxProcess(proc, state_dir)
        yield handle
    finally:
        if handle is not None:
            handle.close()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()


def environment() -> str:
    """One line about the machine the figures come from."""
    return (
        f"Python {platform.python_version()} on {platform.system()} {platform.machine()}, "
        f"{os.cpu_count()} CPU(s)"
    )


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def spread(values: Sequence[int]) -> str:
    """``n`` when all equal, else ``min-max``."""
    if not values:
        return "-"
    low, high = min(values), max(values)
    return f"{low:,}" if low == high else f"{low:,}-{high:,}"


def bench_parser(doc: str | None, default_cases: str, out: Path, verb: str) -> argparse.ArgumentParser:
    """The options both benchmarks take: --cases, --latency, --concurrency, --work, --out."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", default=default_cases, help=f"TENANTSxTECHNICIANS,... ({default_cases})")
    parser.add_argument("--latency", type=float, default=0.02, help="seconds added to every request (0.02)")
    parser.add_argument(
        "--concurrency", type=int, default=4, help=f"tenants {verb} at once (the CLI default, 4)"
    )
    parser.add_argument(
        "--work", type=Path, help="keep seeds, sandbox state and outputs here (default: temporary)"
    )
    parser.add_argument("--out", type=Path, default=out)
    return parser


def parse_cases(parser: argparse.ArgumentParser, text: str, *, min_technicians: int) -> list[tuple[int, int]]:
    """`1x10,100x1000` -> [(1, 10), (100, 1000)]; a bad value is a usage error."""
    try:
        cases = [tuple(int(n) for n in item.lower().split("x")) for item in text.split(",") if item]
    except ValueError:
        cases = [()]
    if not cases or any(len(c) != 2 or c[0] < 1 or c[1] < min_technicians for c in cases):
        parser.error(f"--cases: expected e.g. 1x{max(min_technicians, 10)},100x1000")
    return [(c[0], c[1]) for c in cases]
