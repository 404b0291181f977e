"""The fleet as data: ``fleet.json`` (versioned, docs/report-format.md) and ``fleet.csv``.

JSON is data and holds values as they are. The CSV is opened in spreadsheets on the MSP's
machines: a cell that starts with ``= + - @``, a tab or a carriage return would be a formula
there (CWE-1236), so it gets a leading ``'``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

from reconciler import __version__
from reconciler.report.fleet import STATES, Fleet, TenantRow

REPORT_FORMAT_VERSION = 1
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def iso(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).isoformat(timespec="seconds") if value is not None else None


def row_data(row: TenantRow) -> dict[str, Any]:
    return {
        "tenant": row.tenant,
        "state": row.state,
        "sync": row.sync,
        "last_drift_check": iso(row.sync_at),
        "drifted_since": iso(row.drift_since),
        "changes": list(row.changes),
        "failed_or_unknown": row.failed_or_unknown,
        "health": row.health,
        "last_health_check": iso(row.health_at),
        "health_causes": list(row.health_causes),
        "groups": [
            {
                "path": g.path,
                "verdict": g.verdict,
                "sessions": g.sessions,
                "delivered": g.delivered,
                "ratio": g.ratio,
                "losing": g.losing,
                "causes": list(g.causes),
                "trend": [{"at": iso(p.at), "ratio": p.ratio, "verdict": p.verdict} for p in g.trend],
            }
            for g in row.groups
        ],
        "last_operation": row.operation,
        "last_apply": iso(row.operation_at),
        "operation_detail": list(row.operation_detail),
        "doctor": row.doctor,
        "doctor_failed": list(row.doctor_failed),
        "manual_open": [{"title": s.title, "open_since": iso(s.since)} for s in row.manual],
        "solution": row.solution,
        "credentials": [
            {"name": c.name, "kind": c.kind, "expires_at": iso(c.expires_at)} for c in row.credentials
        ],
        "errors": list(row.errors),
    }


def fleet_data(fleet: Fleet) -> dict[str, Any]:
    s = fleet.summary
    return {
        "report_format": REPORT_FORMAT_VERSION,
        "generated_at": iso(fleet.generated_at),
        "tool_version": __version__,
        "history": fleet.history,
        "states_order": list(STATES),
        "summary": {
            "tenants": s.tenants,
            **{state: s.states[state] for state in STATES},
            "groups_losing_sessions": s.groups_losing,
            "manual_steps_open": s.manual_open,
            "credentials_expiring_30_days": s.credentials_expiring,
            "unreadable_files": len(fleet.unreadable),
        },
        "runs": [{"file": r.file, "command": r.command, "at": iso(r.at)} for r in fleet.runs],
        "unreadable": [{"file": f, "problems": list(p)} for f, p in fleet.unreadable],
        "tenants": [row_data(r) for r in fleet.rows],
    }


CSV_COLUMNS = (
    "tenant",
    "state",
    "sync",
    "drifted_since",
    "failed_or_unknown",
    "health",
    "groups_losing_sessions",
    "last_operation",
    "last_apply",
    "last_drift_check",
    "manual_steps_open",
    "oldest_manual_step_since",
    "solution",
    "next_credential_expiry",
    "doctor",
)


def safe_cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def fleet_csv(fleet: Fleet) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in fleet.rows:
        cells = (
            row.tenant,
            row.state,
            row.sync,
            iso(row.drift_since),
            row.failed_or_unknown,
            row.health,
            sum(1 for g in row.groups if g.losing),
            row.operation,
            iso(row.operation_at),
            iso(row.sync_at),
            len(row.manual),
            iso(min((s.since for s in row.manual), default=None)),
            row.solution,
            iso(row.next_expiry),
            row.doctor,
        )
        writer.writerow([safe_cell(c) for c in cells])
    return out.getvalue()
