"""Benchmark of ``reconcile apply`` at scale (issue 5), beside Microsoft's Dataverse SDK.

Cases (tenants x technicians), each a *first apply*: the generated tenants have their Dynamics
users and Rescue technicians, but no LogMeIn settings row at all, so every mapping is created.

- ``1 x 5,000``: one sandbox (in its own process, ``all:latency=<latency>``) holds three identical
  empty tenants. ``tenant001`` gets ``reconcile apply``; ``tenant002`` gets the same 5,000 rows from
  ``powerplatform-dataverse-client`` with one ``records.create`` per row; ``tenant003`` gets them
  from its ``records.create(list)``, i.e. the ``CreateMultiple`` action, in chunks of 1,000.
  The SDK runs are handed the finished mapping (user, technician ID, SSO ID): they read no
  Rescue data and diff nothing, so they do strictly less work than reconcile.
- ``100 x 1,000``: ``reconcile apply`` of all tenants, ``--concurrency`` tenants at once.

Every measured client runs in a fresh process: wall time, CPU time and peak RSS come from
``os.wait4`` for that process alone. Requests come from the sandbox's request log per tenant.
Rows and duplicates are counted in the sandbox's state dump afterwards.

    .venv/bin/python benchmarks/apply_scale.py                    # all cases -> apply_results.md
    .venv/bin/python benchmarks/apply_scale.py --cases 1x5000 --latency 0.02 --no-sdk

Figures, not assertions: the ``$batch`` bound is asserted by tests/integration/test_apply_batching.py.
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
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    PYTHON,
    Measured,
    SandboxProcess,
    bench_parser,
    environment,
    markdown_table,
    parse_cases,
    run_measured,
    sandbox_process,
    spread,
)

from reconciler.profile import default_profile
from rescue_sandbox import generate

BATCH = 1000  # ClientSettings.batch_size default (Dataverse's maximum)
BATCH_CONSTANT = 2  # writes besides the settings rows' $batch requests allowed by the rule
DEFAULT_CASES = "1x5000,100x1000"
HEADERS = (
    "case",
    "client",
    "wall s",
    "CPU s",
    "peak RSS MB",
    "sandbox CPU s",
    "rows created",
    "duplicates",
    "Dataverse writes",
    "of which $batch",
    "≤ ⌈N/1000⌉+2",
    "write phase s",
    "Dataverse reads",
    "Rescue requests",
    "exit",
)


@dataclass
class Result:
    case: str
    client: str
    run: Measured
    sandbox_cpu_s: float | None
    tenants: list[str]
    rows: list[int]
    duplicates: int
    requests: dict[str, Counter[str]] = field(default_factory=dict)  # tenant -> "svc METHOD tpl" -> n
    write_phase_s: list[float] = field(default_factory=list)  # per tenant
    note: str = ""

    def per_tenant(self, predicate: Any) -> list[int]:
        return [
            sum(n for key, n in self.requests.get(t, Counter()).items() if predicate(key))
            for t in self.tenants
        ]

    def row(self) -> list[object]:
        writes = self.per_tenant(_is_dataverse_write)
        batches = self.per_tenant(lambda k: k == "dataverse POST /$batch")
        bound_ok = all(
            w <= math.ceil(n / BATCH) + BATCH_CONSTANT for w, n in zip(writes, self.rows, strict=True)
        )
        return [
            self.case,
            self.client,
            f"{self.run.wall_s:.1f}",
            f"{self.run.cpu_s:.1f}",
            f"{self.run.peak_rss_mb:.0f}",
            "-" if self.sandbox_cpu_s is None else f"{self.sandbox_cpu_s:.1f}",
            f"{sum(self.rows):,}",
            self.duplicates,
            spread(writes),
            spread(batches),
            ("yes" if bound_ok else "no") if self.client.startswith("reconcile") else "-",
            _seconds(self.write_phase_s),
            spread(self.per_tenant(lambda k: k.startswith("dataverse GET "))),
            spread(self.per_tenant(lambda k: k.startswith("rescue "))),
            self.run.code,
        ]


def _seconds(values: list[float]) -> str:
    if not values:
        return "-"
    low, high = min(values), max(values)
    return f"{low:.1f}" if f"{low:.1f}" == f"{high:.1f}" else f"{low:.1f}-{high:.1f}"


def _is_dataverse_write(key: str) -> bool:
    service, method, _ = key.split(" ", 2)
    return service == "dataverse" and method in ("POST", "PATCH", "PUT", "DELETE")


# ---------------------------------------------------------------------------- the cases


def empty_case(work: Path, tenants: int, technicians: int) -> Path:
    """A generated case whose tenants have no settings rows (written once per work directory)."""
    root = work / f"apply-{tenants}x{technicians}"
    seed_file = root / "seed-empty.yaml"
    if not seed_file.is_file():
        generate(root, tenants=tenants, technicians=technicians, drift=0.0, rng_seed=5)
        seed = json.loads((root / "seed.yaml").read_text("utf-8"))
        for tenant in seed["tenants"].values():
            tenant["dataverse"]["settings"] = []
        seed_file.write_text(json.dumps(seed, separators=(",", ":")), "utf-8")
    return root


def _mapping(root: Path, tenant: str) -> Path:
    """The finished mapping of one tenant, as the SDK runs get it: user, technician ID, SSO ID."""
    path = root / f"mapping-{tenant}.json"
    seed = json.loads((root / "seed.yaml").read_text("utf-8"))
    groups = seed["tenants"][tenant]["rescue"]["groups"][0]["children"]
    nodes = {t["email"].lower(): t for g in groups for t in g["technicians"]}
    rows = [
        {"user": email, "technician_id": str(node["node_id"]), "sso_id": node["ssoid"]}
        for email, node in sorted(nodes.items())
    ]
    path.write_text(json.dumps(rows), "utf-8")
    return path


def _cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) of a running process, from /proc (None where unavailable)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _requests(sandbox: SandboxProcess, tenant: str) -> tuple[Counter[str], float | None]:
    """Requests per endpoint of one tenant, and how long its Dataverse writes took: from the end
    of the last request before the first write to the end of the last write (the log holds
    completion times)."""
    summary = sandbox.control("GET", f"/requests?tenant={tenant}")
    counts = Counter(
        {f"{c['service']} {c['method']} {c['template']}": int(c["count"]) for c in summary["counts"]}
    )
    entries = sorted(summary["entries"], key=lambda e: float(e["time"]))
    writes = [i for i, e in enumerate(entries) if _is_dataverse_write(f"{e['service']} {e['method']} -")]
    if not writes:
        return counts, None
    start = float(entries[writes[0] - 1]["time"]) if writes[0] > 0 else float(entries[0]["time"])
    return counts, float(entries[writes[-1]]["time"]) - start


def _rows(sandbox: SandboxProcess, tenant: str) -> tuple[int, int]:
    """(settings rows, rows beyond one per user) in the tenant."""
    state = sandbox.control("GET", f"/tenants/{tenant}/state")
    ts = default_profile().technician_settings
    owners = Counter(str(r.get(ts.user_value_column)) for r in state["dataverse"]["tables"].get(ts.table, []))
    return sum(owners.values()), sum(n - 1 for n in owners.values() if n > 1)


def measure(
    sandbox: SandboxProcess, case: str, client: str, tenants: list[str], args: list[str], env: dict[str, str]
) -> Result:
    sandbox.control("DELETE", "/requests")
    before = _cpu_seconds(sandbox.proc.pid)
    run = run_measured(args, env=env)
    after = _cpu_seconds(sandbox.proc.pid)
    cpu = None if before is None or after is None else after - before
    counted = [_rows(sandbox, t) for t in tenants]
    result = Result(case, client, run, cpu, tenants, [c[0] for c in counted], sum(c[1] for c in counted))
    for tenant in tenants:
        result.requests[tenant], phase = _requests(sandbox, tenant)
        if phase is not None:
            result.write_phase_s.append(phase)
    if run.code != 0:
        result.note = " ".join(run.stderr.strip().splitlines()[-1:])[:300]
    return result


def run_single_tenant(work: Path, technicians: int, *, latency: float, sdk: bool) -> list[Result]:
    root = empty_case(work, 3, technicians)
    state_dir = work / f"sandbox-3x{technicians}"
    case = f"1 x {technicians:,}"
    results = []
    with sandbox_process(root / "seed-empty.yaml", state_dir, faults=f"all:latency={latency}") as sandbox:
        apply = [PYTHON, "-m", "reconciler", "apply", str(root / "tenants"), "--sandbox", str(state_dir)]
        apply += ["--tenant", "tenant001", "--auto-approve", "--format", "json"]
        print(f"{case}: reconcile apply ...", file=sys.stderr, flush=True)
        results.append(measure(sandbox, case, "reconcile apply", ["tenant001"], apply, {}))
        if sdk:
            env = {"REQUESTS_CA_BUNDLE": str(sandbox.info["ca_file"])}
            for tenant, mode, label in (
                ("tenant002", "single", "SDK: one create per row"),
                ("tenant003", "multiple", "SDK: CreateMultiple (1,000 per call)"),
            ):
                print(f"{case}: {label} ...", file=sys.stderr, flush=True)
                worker = [PYTHON, __file__, "--sdk-worker", mode, "--sandbox", str(state_dir)]
                worker += ["--tenant", tenant, "--mapping", str(_mapping(root, tenant))]
                results.append(measure(sandbox, case, label, [tenant], worker, env))
    return results


def run_many_tenants(
    work: Path, tenants: int, technicians: int, *, latency: float, concurrency: int
) -> Result:
    root = empty_case(work, tenants, technicians)
    state_dir = work / f"sandbox-{tenants}x{technicians}"
    names = sorted(p.name for p in (root / "tenants").iterdir() if p.is_dir())
    case = f"{tenants} x {technicians:,}"
    with sandbox_process(root / "seed-empty.yaml", state_dir, faults=f"all:latency={latency}") as sandbox:
        apply = [PYTHON, "-m", "reconciler", "apply", str(root / "tenants"), "--sandbox", str(state_dir)]
        apply += ["--auto-approve", "--format", "json", "--concurrency", str(concurrency)]
        print(f"{case}: reconcile apply ...", file=sys.stderr, flush=True)
        return measure(sandbox, case, f"reconcile apply (--concurrency {concurrency})", names, apply, {})


# ---------------------------------------------------------------------------- the SDK worker


def sdk_worker(mode: str, state_dir: Path, tenant: str, mapping_file: Path) -> int:
    """The same rows written with Microsoft's SDK (run in its own process by :func:`measure`)."""
    import msal
    import requests
    from azure.core.credentials import AccessToken
    from PowerPlatform.Dataverse.client import DataverseClient
    from PowerPlatform.Dataverse.core.errors import HttpError

    info = json.loads((state_dir / "sandbox.json").read_text("utf-8"))
    entry = info["tenants"][tenant]
    session = requests.Session()
    session.trust_env = False
    session.verify = str(info["ca_file"])
    app = msal.ConfidentialClientApplication(
        entry["client_id"],
        client_credential=entry["client_secret"],
        authority=entry["authority"],
        instance_discovery=False,
        http_client=session,
    )

    class Credential:
        def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
            token = app.acquire_token_for_client(scopes=list(scopes))
            if "access_token" not in token:
                raise RuntimeError(f"no token: {token.get('error')}")
            return AccessToken(token["access_token"], int(time.time()) + int(token["expires_in"]))

    ts = default_profile().technician_settings
    mapping = json.loads(mapping_file.read_text("utf-8"))
    with DataverseClient(entry["dataverse_url"], Credential()) as client:
        users: dict[str, str] = {}
        for page in client.records.list_pages(
            "systemuser", select=["systemuserid", "domainname"], page_size=5000
        ):
            users.update({str(u["domainname"]).lower(): str(u["systemuserid"]) for u in page})
        rows = [
            {
                ts.columns["technician_id"]: m["technician_id"],
                ts.columns["sso_id"]: m["sso_id"],
                f"{ts.user_navigation}@odata.bind": f"/systemusers({users[m['user']]})",
            }
            for m in mapping
        ]
        try:
            if mode == "single":
                for row in rows:
                    client.records.create(ts.table, row)
            else:
                for start in range(0, len(rows), BATCH):
                    client.records.create(ts.table, rows[start : start + BATCH])
        except HttpError as exc:
            details = getattr(exc, "details", {}) or {}
            print(f"HTTP {exc.status_code} {details.get('service_error_code', '')}: {exc}", file=sys.stderr)
            return 3
    return 0


# ---------------------------------------------------------------------------- output


def write_results(path: Path, results: list[Result], *, latency: float) -> str:
    table = markdown_table(HEADERS, [r.row() for r in results])
    notes = [f"- {r.case}, {r.client}: exit {r.run.code}: `{r.note}`" for r in results if r.note]
    text = (
        "# `reconcile apply` at scale, beside Microsoft's Dataverse SDK\n\n"
        f"Written by `benchmarks/apply_scale.py` on {dt.date.today().isoformat()} ({environment()}).\n"
        f"Sandbox in its own process with `all:latency={latency}` (every request waits {latency * 1000:.0f} ms). "
        "First apply: the tenants have users and Rescue technicians but no LogMeIn settings row.\n\n"
        + table
        + "\n"
        "- *wall s*, *CPU s*, *peak RSS MB*: the measured client process alone (`os.wait4`); for reconcile "
        "this includes reading both services and planning (one getUser_v3 per technician: the Rescue API "
        "has no bulk read of SSO IDs), for the SDK only the Dataverse writes of a mapping handed to it.\n"
        "- *sandbox CPU s*: the sandbox process while the client ran.\n"
        "- *Dataverse writes*: POST/PATCH/PUT/DELETE requests the sandbox logged (per tenant, min-max); "
        "a `$batch` of up to 1,000 operations counts as one. *≤ ⌈N/1000⌉+2*: the issue-5 rule.\n"
        "- *write phase s*: per tenant, from the end of the last request before its first Dataverse write "
        "to the end of its last write (the sandbox logs completion times): the writing part of the wall time.\n"
        "- *duplicates*: settings rows beyond one per user, counted in the sandbox state afterwards.\n"
        + ("\nFailures:\n\n" + "\n".join(notes) + "\n" if notes else "")
    )
    path.write_text(text, "utf-8")
    return text


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser(
        __doc__, DEFAULT_CASES, Path(__file__).resolve().parent / "apply_results.md", "applied"
    )
    parser.add_argument("--no-sdk", action="store_true", help="skip the SDK runs of the 1 x N case")
    parser.add_argument("--sdk-worker", choices=["single", "multiple"], help=argparse.SUPPRESS)
    parser.add_argument("--sandbox", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--tenant", help=argparse.SUPPRESS)
    parser.add_argument("--mapping", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.sdk_worker:
        if not (args.sandbox and args.tenant and args.mapping):
            parser.error("--sdk-worker needs --sandbox, --tenant and --mapping")
        return sdk_worker(args.sdk_worker, args.sandbox, args.tenant, args.mapping)
    cases = parse_cases(parser, args.cases, min_technicians=1)
    work = args.work or Path(tempfile.mkdtemp(prefix="apply-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    results: list[Result] = []
    try:
        for tenants, technicians in cases:
            if tenants == 1:
                found = run_single_tenant(work, technicians, latency=args.latency, sdk=not args.no_sdk)
            else:
                found = [
                    run_many_tenants(
                        work, tenants, technicians, latency=args.latency, concurrency=args.concurrency
                    )
                ]
            print(markdown_table(HEADERS, [r.row() for r in found]), file=sys.stderr, flush=True)
            results.extend(found)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    print(write_results(args.out, results, latency=args.latency))
    return 0


if __name__ == "__main__":
    sys.exit(main())
