"""Result files of a generated fleet, written by the product's own writers (so the report is
tested on exactly what the commands save), with a known state per tenant by construction.

Tenant ``i`` of ``n`` gets one of ``KINDS`` (by ``i``), and that decides its expected state:
every count the report shows can be checked against ``expected_counts``.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.cli.doctor_cmd import render_json as render_doctor_json
from reconciler.engine.doctor import Check, TenantReport
from reconciler.plan import Plan
from reconciler.plan.changes import Manual, UnknownChange
from reconciler.plan.checklist import Checklist, ChecklistItem
from reconciler.plan.health import Cause, GroupHealth, TenantHealth
from reconciler.plan.model import TenantPlan
from reconciler.plan.result import ApplyResult, Outcome, TenantApplyResult
from reconciler.plan.serialize import encode_plan
from reconciler.render import render_apply_json
from reconciler.render.checklist import render_checklist_json
from reconciler.render.health import health_json
from reconciler.report.envelope import envelope

T0 = dt.datetime(2026, 11, 1, 6, 0, tzinfo=dt.UTC)
# Credentials expire relative to the real clock: the report counts them against the time it runs.
NOW = dt.datetime.now(dt.UTC)
# What makes each tenant what it is, and the state the report must give it.
KINDS = {
    "in_sync": "in_sync",
    "drifted": "drifted",
    "losing": "failed",  # a group loses sessions in the latest health run
    "apply_failed": "failed",
    "unreadable": "unknown",  # a read failed in the latest plan
    "recovered": "in_sync",  # lost sessions in the first health run, then recovered
}
EXPORT_STEP = "Set 'Post session details to URL' for Rescue group Support/Tier 2"


@dataclass(frozen=True)
class Generated:
    files: list[Path]
    kinds: dict[str, str]  # tenant -> kind

    @property
    def expected_counts(self) -> dict[str, int]:
        counts = dict.fromkeys(("failed", "unknown", "drifted", "in_sync"), 0)
        for kind in self.kinds.values():
            counts[KINDS[kind]] += 1
        return counts


def tenant_name(index: int, hostile: bool = False) -> str:
    if hostile and index == 0:
        # Markup, a bidi override and a javascript: URL: the page must show it as text.
        return "<img src=x onerror=alert(1)>\u202ecod.exe<a href='javascript:alert(2)'>x</a>"
    return f"tenant-{index:04d}"


def _manual(tenant_kind: str) -> tuple[Manual, ...]:
    if tenant_kind not in ("drifted", "losing"):
        return ()
    return (
        Manual(
            kind="rescue_group",
            key="Support/Tier 2",
            depends_on=(),
            title=EXPORT_STEP,
            reason="no API can set it",
            steps=("Sign in to the Admin Center.", "Enable 'Post session details to URL'."),
        ),
    )


def _plan(names: dict[str, str], at: dt.datetime) -> dict[str, Any]:
    tenants = []
    for name, kind in names.items():
        findings = (f"Rescue: technician of {name} has no e-mail",) if kind == "drifted" else ()
        unknown = (
            (UnknownChange(kind="technician", key="bob@x.example", depends_on=(), reason="read failed: 503"),)
            if kind == "unreadable"
            else ()
        )
        tenants.append(
            TenantPlan(
                tenant=name,
                desired_digest="sha256:" + "0" * 8,
                changes=unknown + _manual(kind),
                findings=findings,
            )
        )
    return encode_plan(Plan(tuple(tenants), created_at=at.isoformat(), tool_version="0.1.0"))


def _group(path: str, delivered: int, sessions: int, verdict: str, cause: str = "") -> GroupHealth:
    return GroupHealth(
        path=path,
        verdict=verdict,  # type: ignore[arg-type]
        sessions=sessions,
        delivered=delivered,
        last_delivered=None,
        causes=(Cause("export_missing", cause),) if cause else (),  # type: ignore[arg-type]
    )


def _health(names: dict[str, str], at: dt.datetime, run: int) -> dict[str, Any]:
    tenants = []
    for name, kind in names.items():
        lost = kind == "losing" or (kind == "recovered" and run == 0)
        tier2 = (
            _group("Support/Tier 2", 0, 4, "failing", "no session of this group arrived")
            if lost
            else _group("Support/Tier 2", 3 + run, 4 + run, "recovered" if kind == "recovered" else "healthy")
        )
        groups = (_group("Support/Tier 1", 5, 5, "healthy"), tier2)
        verdict = "failing" if lost else "recovered" if kind == "recovered" else "healthy"
        tenants.append(
            TenantHealth(
                tenant=name,
                since=(at - dt.timedelta(days=7)).isoformat(),
                until=at.isoformat(),
                verdict=verdict,  # type: ignore[arg-type]
                rescue_visible=True,
                groups=groups,
            )
        )
    return health_json(tenants)


def _apply(names: dict[str, str]) -> dict[str, Any]:
    tenants = []
    for name, kind in names.items():
        outcomes = (
            (Outcome("technician:bob@x.example", "failed", "412: changed since read"),)
            if kind == "apply_failed"
            else (Outcome("technician:ann@x.example", "done"),)
        )
        tenants.append(TenantApplyResult(name, outcomes=outcomes, manual=_manual(kind)))
    return json.loads(render_apply_json(ApplyResult(tuple(tenants))))


def _doctor(names: dict[str, str], at: dt.datetime) -> dict[str, Any]:
    reports = [TenantReport(name, [Check("token", "pass", "issued")]) for name in names]
    data = json.loads(render_doctor_json(reports))
    for index, tenant in enumerate(data["tenants"]):
        # The credential field the Key Vault checks add to doctor's JSON: every 10th expires soon.
        soon = index % 10 == 0
        tenant["credentials"] = [
            {
                "name": "dynamics-client-secret",
                "kind": "keyvault_secret",
                "expires_at": (NOW + dt.timedelta(days=10 if soon else 200)).isoformat(),
            },
            {"name": "rescue-cert", "kind": "certificate", "expires_at": None},
        ]
    return data


def _manual_run(names: dict[str, str]) -> dict[str, Any]:
    with_step = tuple(n for n, k in names.items() if _manual(k))
    item = ChecklistItem(
        "rescue_group", "Support/Tier 2", EXPORT_STEP, "no API can set it", ("Enable it.",), with_step
    )
    return json.loads(render_checklist_json(Checklist((item,) if with_step else (), ())))


def _write(folder: Path, name: str, data: Any) -> Path:
    path = folder / name
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


def generate(folder: Path, n: int, *, health_runs: int = 3, hostile: bool = False) -> Generated:
    """Result files for ``n`` tenants in ``folder``: two plans (the first all in sync), an apply,
    ``health_runs`` health runs a day apart, a drift, a doctor and a manual run."""
    folder.mkdir(parents=True, exist_ok=True)
    kinds = list(KINDS)
    names = {tenant_name(i, hostile): kinds[i % len(kinds)] for i in range(n)}
    files = [_write(folder, "plan-0.json", _plan(dict.fromkeys(names, "in_sync"), T0))]
    started = T0 + dt.timedelta(days=1)
    for command, data in (("apply", _apply(names)), ("doctor", _doctor(names, started))):
        wrapped = envelope(
            command, started.isoformat(), (started + dt.timedelta(minutes=3)).isoformat(), list(names), data
        )
        files.append(_write(folder, f"{command}.json", wrapped))
    for run in range(health_runs):
        files.append(
            _write(folder, f"health-{run}.json", _health(names, T0 + dt.timedelta(days=2 + run), run))
        )
    late = T0 + dt.timedelta(days=30)
    files.append(_write(folder, "plan-1.json", _plan(names, late)))
    drift_doc = envelope(
        "drift",
        late.isoformat(),
        (late + dt.timedelta(minutes=1)).isoformat(),
        list(names),
        _plan(names, late),
    )
    files.append(_write(folder, "drift.json", drift_doc))
    manual_doc = envelope("manual", late.isoformat(), late.isoformat(), list(names), _manual_run(names))
    files.append(_write(folder, "manual.json", manual_doc))
    return Generated(files, names)
