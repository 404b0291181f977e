"""The one reader of result files for `reconcile report`: checked, not believed.

A result file comes from a workflow artifact or a shared volume: it is read as hostile input,
through the guards of the plan reader (regular file, size and depth caps, UTF-8, no NaN, no
repeated key: ``plan/reader.py``), then by its shape (``report/schema.py``; a plan by the plan
layer's own schema and self-consistency check), then for what it derives: an apply's totals and
``complete``, a doctor's ``failed`` and ``ok``, a health group's ``ratio``, an envelope's tenants
and times. A file that fails any of it is one ``ResultFileError`` naming the file and each
problem (at most 50 lines), and contributes nothing.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from reconciler.errors import InputError, PlanFileError, ReconcileError, ResultFileError
from reconciler.plan import Plan
from reconciler.plan.changes import Manual
from reconciler.plan.reader import decode_plan, read_json_file
from reconciler.report.runs import CredentialExpiry, GroupPoint, Operation, Run, Sync, TenantRecord
from reconciler.report.schema import (
    ApplyFile,
    DoctorFile,
    Envelope,
    HealthFile,
    ManualFile,
    problems_of,
)

WHAT = "a result file"
FOREIGN = (
    "is not a reconcile result (a saved plan, health --out, or the --out of drift, apply, doctor or manual)"
)
# A command's printed --format json, saved by hand: it says neither which command nor when it ran.
_PRINTED = (
    ("apply", frozenset({"format_version", "totals", "complete", "tenants"})),
    ("doctor", frozenset({"tenants", "failed"})),
    ("manual", frozenset({"format_version", "steps", "unplanned"})),
)


def result_files(sources: Sequence[Path]) -> list[Path]:
    """The result files of ``sources``: each file as given, each folder's ``*.json`` files at any
    depth (sorted, so two runs over the same folder read in the same order)."""
    found: list[Path] = []
    for source in sources:
        if source.is_dir():
            found.extend(sorted(p for p in source.rglob("*.json") if not p.is_dir()))
        else:
            found.append(source)
    return list(dict.fromkeys(found))


def read_result(path: Path) -> Run:
    """The run ``path`` holds; ``ResultFileError`` (exit 1) when it is not a good result file."""
    name = str(path)
    try:
        data = read_json_file(path, WHAT)
    except PlanFileError as exc:
        raise ResultFileError(name, list(exc.problems)) from None
    if not isinstance(data, dict):
        raise ResultFileError(name, [FOREIGN])
    for command, keys in _PRINTED:
        if set(data) == keys:
            raise ResultFileError(
                name,
                [
                    f"is the printed output of `{command} --format json`, which says neither the command "
                    f"nor when it ran: save results with `{command} --out FILE`"
                ],
            )
    if "kind" in data or "result_format" in data:
        return _envelope(data, name)
    if "created_at" in data and "format_version" in data:
        return _plan_run("plan", _plan(data, name, ""), name, _time(data["created_at"]))
    if "format_version" in data and isinstance(data.get("tenants"), list):
        return _health(data, name)
    raise ResultFileError(name, [FOREIGN])


def _plan(data: Any, name: str, prefix: str) -> Plan:
    try:
        return decode_plan(data, name)
    except PlanFileError as exc:
        raise ResultFileError(name, [f"{prefix}{p}" for p in exc.problems]) from None
    except ReconcileError as exc:  # a plan that contradicts itself, an unknown kind
        raise ResultFileError(name, [prefix + line.strip() for line in exc.message.split("\n")]) from None


def _time(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value).astimezone(dt.UTC)


def _checked(model: Any, data: Any, name: str, prefix: str = "") -> Any:
    parsed, problems = problems_of(model, data, prefix)
    if problems:
        raise ResultFileError(name, problems)
    return parsed


def _envelope(data: dict[str, Any], name: str) -> Run:
    head: Envelope = _checked(Envelope, data, name)
    started, finished = _time(head.started_at), _time(head.finished_at)
    problems = [] if started <= finished else ["finished_at: is before started_at"]
    reader = {"drift": _drift_result, "apply": _apply, "doctor": _doctor, "manual": _manual}[head.command]
    run = reader(head.result, name, finished)
    if sorted(run.tenants) != sorted(set(head.tenants)) and head.command != "manual":
        problems.append("tenants: does not name the tenants of its result")
    if problems:
        raise ResultFileError(name, problems)
    if head.command == "manual":  # a tenant without open steps is still one the run covered
        run = Run(name, "manual", finished, {t: run.tenants.get(t, TenantRecord()) for t in head.tenants})
    return run


def _plan_run(command: str, plan: Plan, name: str, at: dt.datetime) -> Run:
    records: dict[str, TenantRecord] = {}
    for tenant in plan.tenants:
        sync: Sync = (
            "unknown" if tenant.error or tenant.incomplete else "drifted" if tenant.has_drift else "in_sync"
        )
        # A solution change shows the live version (an in-sync tenant's is doctor's to say).
        live_versions = (getattr(getattr(c, "live", None), "version", None) for c in tenant.changes)
        solution = next((f"{v} (live)" for v in live_versions if isinstance(v, str)), None)
        records[tenant.tenant] = TenantRecord(
            sync=sync,
            changes=tuple(f"{c.op} {c.id}" for c in tenant.changes if c.is_change or c.op == "unknown")
            + tuple(f"finding: {f}" for f in tenant.findings)
            + tuple(f"problem: {p}" for p in tenant.problems),
            manual=tuple(m.title for m in tenant.changes if isinstance(m, Manual)),
            solution=solution,
            error=tenant.error,
        )
    return Run(name, command, at, records)


def _drift_result(result: Any, name: str, at: dt.datetime) -> Run:
    return _plan_run("drift", _plan(result, name, "result: "), name, at)


def _unique(tenants: Iterable[str], name: str, where: str) -> None:
    twice = sorted(t for t, n in Counter(tenants).items() if n > 1)
    if twice:
        raise ResultFileError(name, [f"{where}: tenant {t!r} is in the file twice" for t in twice])


def _health(data: dict[str, Any], name: str) -> Run:
    parsed: HealthFile = _checked(HealthFile, data, name)
    _unique((t.tenant for t in parsed.tenants), name, "tenants")
    if not parsed.tenants:
        raise ResultFileError(name, ["tenants: holds no tenant (a health run without one has no time)"])
    problems: list[str] = []
    records: dict[str, TenantRecord] = {}
    for ti, tenant in enumerate(parsed.tenants):
        groups = []
        for gi, group in enumerate(tenant.groups):
            expected = (
                group.delivered / group.sessions if group.sessions and group.delivered is not None else None
            )
            if not _same(group.ratio, expected):
                problems.append(f"tenants[{ti}].groups[{gi}].ratio: is not delivered / sessions")
            causes = tuple(c.text for c in group.causes) + tuple(
                f"could not read {u.what}: {u.reason}" for u in group.unread
            )
            groups.append(
                GroupPoint(group.path, group.verdict, group.sessions, group.delivered, expected, causes)
            )
        causes = (
            tuple(c.text for c in tenant.blockers)
            + ((tenant.error,) if tenant.error else ())
            + tuple(f"could not read {u.what}: {u.reason}" for u in tenant.unread)
        )
        records[tenant.tenant] = TenantRecord(
            health=tenant.verdict,
            groups=tuple(groups),
            health_causes=causes,
            health_blocked=bool(tenant.blockers),
            health_unread=bool(tenant.unread or tenant.error),
            error=tenant.error or "",
        )
    if problems:
        raise ResultFileError(name, problems)
    at = max(_time(t.until) for t in parsed.tenants)
    return Run(name, "health", at, records)


def _same(a: float | None, b: float | None) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and math.isclose(a, b, rel_tol=1e-9))


def _apply(result: Any, name: str, at: dt.datetime) -> Run:
    parsed: ApplyFile = _checked(ApplyFile, result, name, "result")
    _unique((t.tenant for t in parsed.tenants), name, "result.tenants")
    problems = []
    for status in ("done", "failed", "skipped", "unknown"):
        counted = sum(1 for t in parsed.tenants for o in t.outcomes if o.status == status)
        # "unknown" came with one-import-at-a-time: an apply result written before it has no such key.
        if parsed.totals.get(status, 0 if status == "unknown" else None) != counted:
            problems.append(f"result.totals.{status}: is not the number of {status} outcomes ({counted})")
    complete = all(not t.error and all(o.status == "done" for o in t.outcomes) for t in parsed.tenants)
    if parsed.complete != complete:
        problems.append("result.complete: does not match the outcomes")
    if problems:
        raise ResultFileError(name, problems)
    records = {}
    for tenant in parsed.tenants:
        failed = [o for o in tenant.outcomes if o.status != "done"]
        state: Operation = (
            "failed"
            if tenant.error or any(o.status == "failed" for o in failed)
            else "incomplete"
            if failed
            else "ok"
        )
        detail = ((tenant.error,) if tenant.error else ()) + tuple(
            f"{o.status} {o.change_id}" + (f": {o.message}" if o.message else "") for o in failed
        )
        records[tenant.tenant] = TenantRecord(
            operation=state,
            operation_detail=detail,
            manual=tuple(m.title for m in tenant.manual),
            error=tenant.error,
        )
    return Run(name, "apply", at, records)


def _doctor(result: Any, name: str, at: dt.datetime) -> Run:
    parsed: DoctorFile = _checked(DoctorFile, result, name, "result")
    _unique((t.tenant for t in parsed.tenants), name, "result.tenants")
    problems = []
    failed = sum(1 for t in parsed.tenants for c in t.checks if c.status == "fail")
    if parsed.failed != failed:
        problems.append(f"result.failed: is not the number of failed checks ({failed})")
    for index, tenant in enumerate(parsed.tenants):
        if tenant.ok != all(c.status != "fail" for c in tenant.checks):
            problems.append(f"result.tenants[{index}].ok: does not match its checks")
    if problems:
        raise ResultFileError(name, problems)
    records = {}
    for tenant in parsed.tenants:
        solution = next(
            (c.detail for c in tenant.checks if c.name == "solution" and c.status == "pass"), None
        )
        records[tenant.tenant] = TenantRecord(
            doctor_failed=tuple(f"{c.name}: {c.detail}" for c in tenant.checks if c.status == "fail"),
            credentials=tuple(
                CredentialExpiry(c.name, c.kind, _time(c.expires_at) if c.expires_at else None)
                for c in tenant.credentials
            ),
            solution=solution,
        )
    return Run(name, "doctor", at, records)


def _manual(result: Any, name: str, at: dt.datetime) -> Run:
    parsed: ManualFile = _checked(ManualFile, result, name, "result")
    steps: dict[str, list[str]] = {}
    for step in parsed.steps:
        for tenant in step.tenants:
            steps.setdefault(tenant, []).append(step.title)
    records = {t: TenantRecord(manual=tuple(titles)) for t, titles in steps.items()}
    for unplanned in parsed.unplanned:
        records[unplanned.tenant] = TenantRecord(
            manual=records.get(unplanned.tenant, TenantRecord()).manual, error=unplanned.error
        )
    return Run(name, "manual", at, records)


def read_results(paths: Sequence[Path]) -> tuple[list[Run], list[ResultFileError]]:
    """Every readable run of ``paths`` (files, or folders of them), and one error per file that
    is not one: the caller decides (docs/report-format.md: named on the page, exit 1)."""
    runs: list[Run] = []
    errors: list[ResultFileError] = []
    files = result_files(paths)
    for path in files:
        try:
            runs.append(read_result(path))
        except ResultFileError as exc:
            errors.append(exc)
    if not files:
        raise InputError(f"no result files (*.json) in {', '.join(map(str, paths)) or '(none given)'}")
    return runs, errors
