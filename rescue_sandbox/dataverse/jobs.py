"""Entity-key index status and system jobs (asyncoperations), advanced lazily on read.

An alternate key is only usable once its index job has built a unique index. The job is an
``asyncoperations`` row with operationtype 63 that goes Waiting (0) -> In Progress (20) ->
Succeeded (30) or Failed (31, when the key columns hold duplicates), and the key goes
Pending -> InProgress -> Active | Failed with it. ``ImportSolutionAsync`` runs the same way as an
operationtype 203 job, one at a time: while an import runs (a system job or a synchronous
``ImportSolution`` still in flight), a second ``ImportSolution`` is refused with a 429 and a
second ``ImportSolutionAsync`` is accepted and its job fails at once with the customization-lock
error (errorcode -2147020463), as a real org does (docs/sandbox.md). No background thread moves jobs on: every read calls :func:`advance`,
which compares the org's (injectable) clock with the job's submission time. That keeps tests
deterministic and the state persistable.
"""

from __future__ import annotations

import uuid
from typing import Any
from xml.sax.saxutils import escape

from rescue_sandbox.dataverse import components, errors
from rescue_sandbox.dataverse.jobstate import KeyState, PendingJob
from rescue_sandbox.dataverse.org_interface import OrgInterface
from rescue_sandbox.dataverse.schema import display_label
from rescue_sandbox.dataverse.values import format_time

OPERATION_INDEX = 63
OPERATION_IMPORT = 203
KEY_STATUSES = ("Pending", "InProgress", "Active", "Failed")


def index_job_name(org: OrgInterface, table: str, key: str) -> str:
    kdef = org.table(table).key(key)
    label = kdef.schema_name if kdef else key
    return f"Create index for {label} for entity {table}"


def _new_job(org: OrgInterface, name: str, operationtype: int, **fields: Any) -> str:
    job_id = str(uuid.uuid4())
    row = {
        "asyncoperationid": job_id,
        "name": name,
        "operationtype": operationtype,
        "statecode": 0,
        "statuscode": 0,
    }
    row.update(fields)
    org.insert("asyncoperation", row)
    return job_id


def _set_key(org: OrgInterface, table: str, key: str, status: str, async_job: str | None) -> None:
    state = org.key_states[(table, key)]
    previous = KeyState(state.status, state.async_job)
    state.status, state.async_job = status, async_job

    def undo() -> None:
        state.status, state.async_job = previous.status, previous.async_job

    org.record_undo(undo)


def _track(org: OrgInterface, job: PendingJob) -> None:
    org.pending_jobs[job.job_id] = job
    org.record_undo(lambda: org.pending_jobs.pop(job.job_id, None))


def submit_index_job(org: OrgInterface, table: str, key: str) -> str:
    """Queue a new index job for ``key`` (what ReactivateEntityKey does) and return its id."""
    job_id = _new_job(org, index_job_name(org, table, key), OPERATION_INDEX)
    _set_key(org, table, key, "Pending", job_id)
    _track(org, PendingJob(job_id, "index", org.clock(), org.index_job_seconds, table=table, key=key))
    return job_id


def submit_import_job(
    org: OrgInterface,
    manifest: dict[str, Any] | None,
    import_job_id: str,
    error: str | None,
    package_bytes: int,
) -> str:
    name = f"Import Solution {manifest['uniquename']}" if manifest else "Import Solution"
    job_id = _new_job(org, name, OPERATION_IMPORT)
    _track(
        org,
        PendingJob(
            job_id,
            "import",
            org.clock(),
            org.import_seconds(package_bytes),
            manifest=manifest,
            import_job_id=import_job_id,
            error=error,
        ),
    )
    return job_id


def running_import(org: OrgInterface) -> str | None:
    """The solution import running now: its system job's id, or a synchronous import's import job id."""
    advance(org)
    for job in org.pending_jobs.values():
        if job.kind == "import":
            return job.job_id
    return next(iter(org.sync_imports), None)


def begin_sync_import(org: OrgInterface, import_job_id: str) -> None:
    """A synchronous ``ImportSolution`` holds the lock from its arrival to its answer."""
    org.sync_imports[import_job_id] = org.clock()


def end_sync_import(org: OrgInterface, import_job_id: str) -> None:
    org.sync_imports.pop(import_job_id, None)


def refused_import_job(org: OrgInterface, manifest: dict[str, Any] | None, import_job_id: str) -> str:
    """An ``ImportSolutionAsync`` that met a running import: its job has already failed."""
    now = format_time(org.clock())
    name = f"Import Solution {manifest['uniquename']}" if manifest else "Import Solution"
    job_id = _new_job(
        org,
        name,
        OPERATION_IMPORT,
        statecode=3,
        statuscode=31,
        message=errors.IMPORT_RUNNING_MESSAGE,
        friendlymessage=errors.IMPORT_RUNNING_MESSAGE,
        errorcode=errors.CUSTOMIZATION_LOCK_NUMBER,
        startedon=now,
        completedon=now,
    )
    record_import_job(org, import_job_id, manifest, errors.IMPORT_RUNNING_MESSAGE, errors.CUSTOMIZATION_LOCK)
    return job_id


def set_key_status(org: OrgInterface, table: str, key: str, status: str, error_message: str | None) -> None:
    """Put a key into a status by hand, as the troubleshooting guide describes it happening.

    ``Failed`` and ``Pending`` also leave a failed (statecode 3, statuscode 31) operationtype-63
    job that the key's ``AsyncJob`` points at.
    """
    if status not in KEY_STATUSES:
        raise ValueError(f"unknown entity key status {status!r}; expected one of {', '.join(KEY_STATUSES)}")
    if (table, key) not in org.key_states:
        raise KeyError(f"table {table!r} has no alternate key {key!r}")
    for job_id, job in list(org.pending_jobs.items()):
        if job.kind == "index" and job.table == table and job.key == key:
            del org.pending_jobs[job_id]
    state = org.key_states[(table, key)]
    async_job = state.async_job
    if status in ("Failed", "Pending"):
        now = format_time(org.clock())
        message = error_message or (
            f"The index for entity key '{key}' on entity '{table}' could not be created."
        )
        async_job = _new_job(
            org,
            index_job_name(org, table, key),
            OPERATION_INDEX,
            statecode=3,
            statuscode=31,
            message=message,
            friendlymessage=message,
            startedon=now,
            completedon=now,
        )
    _set_key(org, table, key, status, async_job)


def advance(org: OrgInterface) -> None:
    """Move every pending job on to where the clock says it is."""
    if not org.pending_jobs:
        return
    now = org.clock()
    for job in list(org.pending_jobs.values()):
        row = org.store("asyncoperation").get(job.job_id)
        if row is None:
            del org.pending_jobs[job.job_id]
            continue
        elapsed = now - job.submitted
        if elapsed >= job.duration:
            del org.pending_jobs[job.job_id]
            _complete(org, job, row, now)
        elif elapsed >= job.duration / 2 and row["statuscode"] == 0:
            org.update(
                "asyncoperation",
                job.job_id,
                {"statecode": 2, "statuscode": 20, "startedon": format_time(now)},
            )
            if job.kind == "index" and job.table and job.key:
                state = org.key_states[(job.table, job.key)]
                if state.async_job == job.job_id:
                    state.status = "InProgress"


def _complete(org: OrgInterface, job: PendingJob, row: dict[str, Any], now: float) -> None:
    done = {"statecode": 3, "completedon": format_time(now)}
    if row.get("startedon") is None:
        done["startedon"] = format_time(now)
    failure: str | None = None
    if job.kind == "index" and job.table and job.key:
        failure = _index_failure(org, job.table, job.key)
        state = org.key_states[(job.table, job.key)]
        if state.async_job == job.job_id:
            state.status = "Failed" if failure else "Active"
    elif job.kind == "import":
        failure = job.error
        if failure is None and job.manifest is not None and job.import_job_id is not None:
            try:
                apply_import(org, job.manifest, job.import_job_id)
            except errors.DataverseError as exc:
                failure = exc.message
        if failure is not None and job.import_job_id is not None:
            record_import_job(org, job.import_job_id, job.manifest, failure)
    if failure:
        done.update(
            {"statuscode": 31, "message": failure, "friendlymessage": failure, "errorcode": -2147204784}
        )
    else:
        done["statuscode"] = 30
    org.update("asyncoperation", job.job_id, done)


def _index_failure(org: OrgInterface, table: str, key: str) -> str | None:
    kdef = org.table(table).key(key)
    if kdef is None:
        return f"Entity key '{key}' no longer exists on entity '{table}'."
    duplicates = org.store(table).duplicates(kdef)
    if not duplicates:
        return None
    shown = "; ".join(
        f"({', '.join(repr(v) for v in values)}) x{count}"
        for values, count in sorted(duplicates, key=str)[:10]
    )
    return (
        f"The index for entity key '{kdef.schema_name}' on entity '{table}' could not be created because "
        f"the key columns ({', '.join(kdef.columns)}) hold duplicate values: {shown}."
    )


def version_tuple(version: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in version.split("."))
    except ValueError:
        return ()


def apply_import(org: OrgInterface, manifest: dict[str, Any], import_job_id: str) -> str:
    """Install or upgrade the solution a zip describes; returns the solutions row id."""
    name, version, managed = manifest["uniquename"], manifest["version"], manifest["managed"]
    existing = org.find("solution", "uniquename", name)
    if existing:
        current = existing[0]
        if current["ismanaged"] and not managed:
            raise errors.DataverseError(
                400,
                errors.IMPORT_FAILED,
                f"The solution {name} is already installed as a managed solution; an unmanaged "
                "solution with the same name cannot be imported over it.",
            )
        if not current["ismanaged"] and managed:
            raise errors.DataverseError(
                400,
                errors.IMPORT_FAILED,
                f"The solution is already installed on this system as an unmanaged solution and the "
                f"package supplied is attempting to install it in managed mode. ({name})",
            )
        if managed and version_tuple(version) < version_tuple(current["version"] or "0"):
            raise errors.DataverseError(
                400,
                errors.IMPORT_FAILED,
                f"The solution you are trying to import ({name} {version}) is older than the "
                f"installed version ({current['version']}).",
            )
        org.update(
            "solution",
            current["solutionid"],
            {"version": version, "friendlyname": manifest.get("friendlyname") or current["friendlyname"]},
        )
        solution_id = str(current["solutionid"])
    else:
        solution_id = str(
            org.insert(
                "solution",
                {
                    "uniquename": name,
                    "friendlyname": manifest.get("friendlyname") or name,
                    "version": version,
                    "ismanaged": managed,
                    "installedon": format_time(org.clock()),
                },
            )["solutionid"]
        )
    components.register(org, solution_id, name)
    record_import_job(org, import_job_id, manifest, None)
    return solution_id


def record_import_job(
    org: OrgInterface,
    import_job_id: str,
    manifest: dict[str, Any] | None,
    failure: str | None,
    code: str = errors.IMPORT_FAILED,
) -> None:
    """Write the importjobs row the client can poll (progress 100 once finished)."""
    now = format_time(org.clock())
    result = "failure" if failure else "success"
    name = manifest["uniquename"] if manifest else None
    # The real import job's data: one <result> per processed component, failures with errortext.
    outcome = f'<result result="{result}"'
    if failure:
        outcome += f' errorcode="{code}" errortext="{escape(failure, {chr(34): "&quot;"})}"'
    data = (
        f"<importexportxml><solutionManifests><solutionManifest><UniqueName>{escape(name or '')}</UniqueName>"
        f"{outcome}/></solutionManifest></solutionManifests></importexportxml>"
    )
    fields = {
        "name": f"Import of {name}" if name else "Import",
        "solutionname": name,
        "progress": 100.0,
        "startedon": now,
        "completedon": now,
        "data": data,
    }
    if org.store("importjob").get(import_job_id) is None:
        org.insert("importjob", {"importjobid": import_job_id, **fields})
    else:
        org.update("importjob", import_job_id, fields)


def key_metadata(org: OrgInterface, table: str, language: int | None = None) -> list[dict[str, Any]]:
    """``EntityDefinitions(LogicalName='t')/Keys``: EntityKeyIndexStatus as its name."""
    advance(org)
    out = []
    for kdef in org.table(table).keys:
        state = org.key_states[(table, kdef.logical_name)]
        out.append(
            {
                "MetadataId": kdef.metadata_id,
                "LogicalName": kdef.logical_name,
                "SchemaName": kdef.schema_name,
                "EntityLogicalName": table,
                "KeyAttributes": list(kdef.columns),
                "EntityKeyIndexStatus": state.status,
                "AsyncJob": state.async_job,
                "IsManaged": True,
                "DisplayName": display_label(kdef.labels, kdef.schema_name, language),
            }
        )
    return out
