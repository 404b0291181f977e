"""Snapshots of an org, so ``--state-dir`` keeps the sandbox's state across restarts.

A snapshot holds every row, the seed-defined table specs, the entity-key states, the pending
system jobs and the row-version counter (so ETags keep increasing after a restart). Table
definitions are not stored: they are rebuilt from the solution schema given on restore.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from rescue_sandbox.dataverse.jobstate import KeyState, PendingJob
from rescue_sandbox.dataverse.org_interface import OrgInterface

SNAPSHOT_FORMAT = 1


def snapshot(org: OrgInterface) -> dict[str, Any]:
    return {
        "format": SNAPSHOT_FORMAT,
        "org_url": org.org_url,
        "version": org.row_version,
        "index_job_seconds": org.index_job_seconds,
        "extra_tables": copy.deepcopy(org.extra_specs),
        "tables": {name: [dict(r) for r in s.rows.values()] for name, s in org.stores.items()},
        "keys": [
            {"table": t, "key": k, "status": s.status, "async_job": s.async_job}
            for (t, k), s in org.key_states.items()
        ],
        "pending_jobs": [j.to_json() for j in org.pending_jobs.values()],
        "role_privileges": {role: sorted(names) for role, names in org.role_privileges.items()},
        "languages": {"base": org.base_language, "ui": dict(org.ui_languages)},
    }


def check_format(data: Mapping[str, Any]) -> None:
    if data.get("format") != SNAPSHOT_FORMAT:
        raise ValueError(f"unsupported Dataverse snapshot format {data.get('format')!r}")


def load(org: OrgInterface, data: Mapping[str, Any]) -> None:
    """Put a snapshot's rows, key states, pending jobs and counters into a new org of its tables."""
    for name, rows in (data.get("tables") or {}).items():
        if name not in org.stores:
            raise ValueError(f"snapshot holds rows of unknown table {name!r}")
        store = org.stores[name]
        for row in rows:
            store.put(dict(row))
    for entry in data.get("keys") or []:
        if (entry["table"], entry["key"]) in org.key_states:
            org.key_states[(entry["table"], entry["key"])] = KeyState(entry["status"], entry["async_job"])
    for job in data.get("pending_jobs") or []:
        org.pending_jobs[job["job_id"]] = PendingJob(**job)
    org.row_version = int(data.get("version", org.row_version))
    languages = data.get("languages") or {}
    org.base_language = int(languages.get("base", org.base_language))
    org.ui_languages = {user: int(lcid) for user, lcid in (languages.get("ui") or {}).items()}
    if "role_privileges" in data:
        org.role_privileges = {role: set(names) for role, names in data["role_privileges"].items()}
