"""CPU per request of the reconciler's API clients next to a bare aiohttp client (issue 12 §3).

One process measures every client in turn against the same sandbox, which runs in its own
process so that its CPU is not counted. Each client does the same work: ``--requests`` Rescue
reads (``getUser_v3`` by node, a form POST carrying the authcode, as the plan sends them) and,
separately, Dataverse GETs of one page of ``systemusers`` (``$select`` + ``$top``, bearer token),
``--in-flight`` at a time. CPU is ``time.process_time()`` of this process (all its threads) around
the measured requests only: the connections are opened and warmed first, the token is fetched
first. The clients are measured in rounds, interleaved, and the figure is the median over rounds,
so the noise of a shared machine hits every client alike.

Clients:
- *bare aiohttp (uvloop)*: ``aiohttp.ClientSession`` on uvloop, the same TLS context, headers
  and body as ours; reads the text / decodes the JSON. The floor for a Python client.
- *reconcile*: ``RescueClient.get_user`` / ``DataverseClient.get`` as a plan uses them (retry
  loop, counters, error mapping, the transport and event loop the CLI uses).
- *reconcile, httpx's own transport (httpcore), asyncio loop*: the same clients with ``httpx.AsyncHTTPTransport``
  on the standard event loop, i.e. before the aiohttp transport and uvloop.

    .venv/bin/python benchmarks/cpu_per_request.py                  # table -> cpu_per_request_results.md
    .venv/bin/python benchmarks/cpu_per_request.py --requests 300 --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import aiohttp
import httpx
import uvloop
from common import environment, make_case, markdown_table, sandbox_process
from reconciler.providers.dynamics.auth import MsalTokenProvider

from reconciler.engine.connection import SandboxInfo, sandbox_connection
from reconciler.engine.session import TenantSession
from reconciler.providers.http import ClientSettings, RequestStats, make_ssl_context
from reconciler.providers.loop import run as run_on_product_loop

USERS_QUERY = {"$select": "systemuserid,domainname,fullname,isdisabled", "$top": "20"}
DATAVERSE_HEADERS = {"Accept": "application/json", "OData-MaxVersion": "4.0", "OData-Version": "4.0"}

Job = Callable[[int], Awaitable[None]]
"""One request of the measured kind; its argument picks which row/node."""


async def _measure(job: Job, requests: int, in_flight: int) -> float:
    """CPU seconds of ``requests`` calls of ``job``, ``in_flight`` at a time (after a warm-up)."""
    await asyncio.gather(*(job(i) for i in range(in_flight * 2)))  # open and warm the connections
    queue = iter(range(requests))

    async def worker() -> None:
        for i in queue:
            await job(i)

    start = time.process_time()
    await asyncio.gather(*(worker() for _ in range(in_flight)))
    return time.process_time() - start


@dataclass(frozen=True)
class Target:
    """What every client reads: the tenant's endpoints, credential, technician nodes and a token."""

    info: SandboxInfo
    tenant: str
    nodes: Sequence[str]
    token: str


# ---------------------------------------------------------------------------- the bare client


async def bare(target: Target, kind: str, requests: int, in_flight: int) -> float:
    conn = sandbox_connection(target.tenant, target.info)
    ctx = make_ssl_context(conn.ca_file)
    connector = aiohttp.TCPConnector(ssl=ctx, limit=in_flight)
    async with aiohttp.ClientSession(connector=connector, trust_env=False) as session:
        if kind == "rescue":
            url = f"{conn.rescue_url}/getUser_v3.aspx"
            authcode = conn.authcode.get_secret_value()

            async def job(i: int) -> None:
                form = {"node": target.nodes[i % len(target.nodes)], "authcode": authcode}
                async with session.post(url, data=form, headers={"Accept": "text/plain"}) as response:
                    text = await response.text()
                if response.status != 200 or not text.startswith("OK"):
                    raise RuntimeError(f"bare rescue read: {response.status} {text[:80]}")

        else:
            url = f"{conn.dataverse_url}/api/data/v9.2/systemusers"
            headers = {**DATAVERSE_HEADERS, "Authorization": f"Bearer {target.token}"}

            async def job(i: int) -> None:
                async with session.get(url, params=USERS_QUERY, headers=headers) as response:
                    body = await response.json()
                if response.status != 200 or not body.get("value"):
                    raise RuntimeError(f"bare dataverse read: {response.status}")

        return await _measure(job, requests, in_flight)


# ---------------------------------------------------------------------------- ours


async def ours(
    target: Target, kind: str, requests: int, in_flight: int, *, httpx_transport: bool = False
) -> float:
    conn = sandbox_connection(target.tenant, target.info)
    settings = ClientSettings(max_concurrency=in_flight)
    session = TenantSession(conn, settings, RequestStats())
    if httpx_transport:  # the clients as they were: httpx's own transport
        for client in (session.dataverse, session.rescue):
            client._transport = httpx.AsyncHTTPTransport(verify=make_ssl_context(conn.ca_file))
    async with session:
        if kind == "rescue":
            rescue = session.rescue

            async def job(i: int) -> None:
                await rescue.get_user(node=target.nodes[i % len(target.nodes)])

        else:
            dataverse = session.dataverse

            async def job(i: int) -> None:
                page = await dataverse.get("systemusers", USERS_QUERY)
                if not page.get("value"):
                    raise RuntimeError("reconcile dataverse read: no rows")

        return await _measure(job, requests, in_flight)


CLIENTS: dict[str, Callable[[Target, str, int, int], Coroutine[Any, Any, float]]] = {
    "bare aiohttp (uvloop)": bare,
    "reconcile": ours,
    "reconcile, httpx's own transport (httpcore), asyncio loop": lambda t, k, r, f: ours(
        t, k, r, f, httpx_transport=True
    ),
}


def _run(name: str, coro: Coroutine[Any, Any, float]) -> float:
    if name.startswith("bare"):
        return uvloop.run(coro)
    if "asyncio" in name:
        return asyncio.run(coro)
    return run_on_product_loop(coro)


async def _prepare(info: SandboxInfo, tenant: str) -> Target:
    """Technician node IDs (from the hierarchy) and a Dataverse token, fetched once, unmeasured."""
    conn = sandbox_connection(tenant, info)
    async with TenantSession(conn, ClientSettings(), RequestStats()) as session:
        blocks = (await session.rescue.get_hierarchy()).blocks
        tokens = MsalTokenProvider(
            conn.authority,
            conn.client_id,
            conn.credential,
            conn.dataverse_scope,
            ca_file=conn.ca_file,
            instance_discovery=False,
        )
        token = await tokens.token()
        tokens.close()
    nodes = [b["NODEID"] for b in blocks if b.get("TYPE", "").lower() == "technician"]
    if not nodes:
        raise SystemExit("the generated seed has no technicians")
    return Target(info, tenant, nodes, token)


STARTUP = {
    "reconcile --help": ["-m", "reconciler", "--help"],
    "import of the plan command (what every plan pays before reading)": [
        "-c",
        "import reconciler.cli.plan_cmd",
    ],
}


def startup_cpu(samples: int = 5) -> dict[str, list[float]]:
    """CPU seconds (user + system, ``os.wait4``) of a fresh interpreter doing each STARTUP item."""
    out: dict[str, list[float]] = {}
    for _ in range(samples):
        for name, args in STARTUP.items():
            proc = subprocess.Popen([sys.executable, *args], stdout=subprocess.DEVNULL)
            _, _, usage = os.wait4(proc.pid, 0)
            out.setdefault(name, []).append(usage.ru_utime + usage.ru_stime)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=2000, help="measured requests per client and round")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds; the median is reported")
    parser.add_argument("--in-flight", type=int, default=8, help="requests in flight (the client default, 8)")
    parser.add_argument("--work", type=Path, help="keep the seed and sandbox state here")
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).resolve().parent / "cpu_per_request_results.md"
    )
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="cpu-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    samples: dict[tuple[str, str], list[float]] = {}
    try:
        # One tenant per client and round: Dataverse's service-protection limit (6,000 requests
        # per user in 5 minutes, which the sandbox enforces) must not throttle a later client.
        case = make_case(work, args.rounds * len(CLIENTS), 50, drift=0.0)
        with sandbox_process(case.seed, work / "sandbox") as sandbox:
            info = SandboxInfo.load(sandbox.state_dir)
            targets = iter([asyncio.run(_prepare(info, name)) for name in sorted(info.tenants)])
            for round_no in range(args.rounds):
                for name, client in CLIENTS.items():
                    target = next(targets)
                    for kind in ("rescue", "dataverse"):
                        cpu = _run(name, client(target, kind, args.requests, args.in_flight))
                        samples.setdefault((kind, name), []).append(cpu / args.requests * 1000)
                print(f"round {round_no + 1}/{args.rounds} done", file=sys.stderr, flush=True)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    print(write_results(args.out, samples, startup_cpu(), args))
    return 0


def write_results(
    path: Path,
    samples: dict[tuple[str, str], list[float]],
    startup: dict[str, list[float]],
    args: argparse.Namespace,
) -> str:
    rows = []
    for (kind, name), values in sorted(samples.items(), key=lambda item: item[0][0] != "rescue"):
        floor = statistics.median(samples[(kind, "bare aiohttp (uvloop)")])
        median = statistics.median(values)
        rows.append(
            [
                "Rescue getUser_v3 (form POST)"
                if kind == "rescue"
                else "Dataverse GET systemusers ($top=20)",
                name,
                f"{median:.3f}",
                f"{min(values):.3f}-{max(values):.3f}",
                f"{median / floor:.2f}",
            ]
        )
    table = markdown_table(
        ("request", "client", "CPU ms / request (median)", "min-max over rounds", "x bare"), rows
    )
    text = (
        "# CPU per request\n\n"
        f"Written by `benchmarks/cpu_per_request.py` on {dt.date.today().isoformat()} ({environment()}).\n"
        f"{args.requests:,} requests per client and round, {args.in_flight} in flight, {args.rounds} rounds "
        "interleaved; the sandbox in its own process (its CPU is not counted), no injected latency. "
        "CPU is `time.process_time()` of the measuring process around the requests alone.\n\n"
        + table
        + "\nStart-up, CPU of a fresh process (median of "
        + f"{len(next(iter(startup.values())))}, "
        + "target for `--help`: 0.3 s):\n\n"
        + markdown_table(
            ("command", "CPU s (median)", "min-max"),
            [[k, f"{statistics.median(v):.2f}", f"{min(v):.2f}-{max(v):.2f}"] for k, v in startup.items()],
        )
        + "\n"
        + json.dumps({"versions": _versions()})
        + "\n"
    )
    path.write_text(text, "utf-8")
    return text


def _versions() -> dict[str, str]:
    from importlib.metadata import version

    return {name: version(name) for name in ("httpx", "aiohttp", "httpx-aiohttp", "uvloop")}


if __name__ == "__main__":
    sys.exit(main())
