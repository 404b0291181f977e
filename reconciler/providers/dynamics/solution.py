"""The ``solution`` kind in Dynamics: read the installed solution (``solutions``), import a
package when it is missing or older (``ImportSolutionAsync``, polled as a system job), one import
at a time: an import already running is waited for within the apply's bound, then the change is
Unknown (exit 3) naming its system job."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import re
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar
from xml.etree import ElementTree

from reconciler.config.package import read_package
from reconciler.config.types import version_tuple
from reconciler.errors import ApiError, ChangeFailed, OperationRunning, ProviderError, printable
from reconciler.kinds.solution import Solution
from reconciler.plan import Action, Change
from reconciler.providers.contract import WritesEach
from reconciler.providers.dynamics.client import CUSTOMIZATION_LOCK, DataverseClient, odata_string
from reconciler.providers.dynamics.mapping import etag, text
from reconciler.providers.dynamics.reading import DynamicsLive, DynamicsQuery, ReadContext
from reconciler.providers.dynamics.writer import DynamicsWriter
from reconciler.resources import Kind, LiveMeta

SELECT = ["solutionid", "uniquename", "friendlyname", "version", "ismanaged"]


def solution_from_row(row: Mapping[str, Any]) -> Solution:
    return Solution(
        unique_name=str(row["uniquename"]),
        version=text(row.get("version")),
        managed=bool(row.get("ismanaged")),
        meta=LiveMeta(id=str(row.get("solutionid", "")), etag=etag(row)),
    )


async def read_solutions(client: DataverseClient, name: str) -> list[Solution]:
    """The installed solutions of that unique name (none when it is not installed)."""
    rows = await client.list_all("solutions", select=SELECT, filter=f"uniquename eq {odata_string(name)}")
    return [solution_from_row(row) for row in rows]


class SolutionRead:
    kind: ClassVar[Kind] = Solution.kind

    @staticmethod
    def wanted(query: DynamicsQuery) -> bool:
        return bool(query.solution_name)

    @staticmethod
    async def read(context: ReadContext, live: DynamicsLive, query: DynamicsQuery) -> None:
        assert query.solution_name
        for solution in await read_solutions(context.client, query.solution_name):
            live.state.add(solution)
        live.state.listed.add(Solution.kind)


# Dataverse runs one solution operation at a time (KB 4343228, "Concurrent solution operation
# failures"): a second import is refused with the customization-lock error (80071151 /
# -2147020463), on the call (a 429) or as its system job's failure. That is never a
# configuration problem: the change waits for the running import within the apply's bound, then
# is Unknown (exit 3) naming the running job.
LOCK_ERRORCODE = -2147020463
_LOCK_TEXT = re.compile(r"Cannot start .{0,80} because there is (another|a previous) .{0,80} running")
OPERATION_IMPORT = 203  # asyncoperation.operationtype "Import Solution Async Operation"
_RUNNING_SELECT = "asyncoperationid,name,statecode,statuscode,startedon,createdon"


class _Locked(Exception):
    """Our import met another solution operation (the call or its job was refused)."""


def _is_lock(code: str, errorcode: object, message: str) -> bool:
    return (
        code.lower() == CUSTOMIZATION_LOCK or errorcode == LOCK_ERRORCODE or bool(_LOCK_TEXT.search(message))
    )


class SolutionWrites(WritesEach):
    kind = "solution"

    def __init__(self, dynamics: DynamicsWriter) -> None:
        self.dynamics = dynamics
        self.client = dynamics.client

    async def apply_one(self, change: Change) -> str:
        if not isinstance(change, Action):
            raise ChangeFailed(f"no way to apply {change.op} of {change.kind}")
        return await self.import_solution(change)

    async def import_solution(self, change: Action) -> str:
        package = getattr(change.desired, "package", None)
        if not package:
            raise ChangeFailed("no solution package given")
        data = read_package(package, self.dynamics.folder)  # checked again: the file may have changed since
        name = str(getattr(change.desired, "unique_name", ""))
        want = str(getattr(change.desired, "version", "0") or "0")
        deadline = time.monotonic() + self.dynamics.import_wait_seconds
        while True:
            running = await self._running_import()
            if running is not None:
                await self._wait_for_other(running, deadline)
                # It may have been this very import (an earlier run's, or a concurrent apply's).
                installed = await self._satisfied(name, want)
                if installed is not None:
                    return (
                        f"installed meanwhile by the solution import that was running (system job "
                        f"{running['asyncoperationid']}): {name} {installed.version}; nothing imported"
                    )
                continue
            try:
                return await self._import_once(data, Path(package).name, name, want, deadline)
            except _Locked:
                # The running import is not visible to this user (another user's), or ended
                # between the look and the import: look again after a pause five polls long
                # (10 s by default, the documented sample's poll), since each refused
                # ImportSolutionAsync leaves a failed job in Solution History.
                self._raise_if_past(deadline, None)
                await asyncio.sleep(5 * self.dynamics.poll_interval)
                installed = await self._satisfied(name, want)
                if installed is not None:  # the import that held the lock has installed it
                    return (
                        "installed meanwhile by the solution import that was running: "
                        f"{name} {installed.version}; nothing imported"
                    )

    async def _import_once(self, data: bytes, package: str, name: str, want: str, deadline: float) -> str:
        # A real package imports for minutes: the synchronous ImportSolution outlives any
        # request timeout, so the import runs as a system job, polled within a bound.
        import_job_id = str(uuid.uuid4())
        try:
            reply = await self.client.action(
                "ImportSolutionAsync",
                {
                    "CustomizationFile": base64.b64encode(data).decode("ascii"),
                    "OverwriteUnmanagedCustomizations": False,
                    "PublishWorkflows": True,
                    "ImportJobId": import_job_id,
                },
            )
        except ApiError as exc:
            if _is_lock(exc.code, None, exc.message):
                raise _Locked from exc
            raise
        job = str((reply or {}).get("AsyncOperationId") or "")
        if not job:
            raise ChangeFailed("ImportSolutionAsync answered without an AsyncOperationId")
        await self._wait_for_own(job, import_job_id, deadline)
        found = await read_solutions(self.client, name)
        if not found:
            raise ChangeFailed(f"ImportSolution returned, but solution {name} is not installed")
        installed = found[0]
        if version_tuple(installed.version or "0") < version_tuple(want) or not installed.managed:
            raise ChangeFailed(
                f"imported, but {name} is {installed.version} ({'managed' if installed.managed else 'unmanaged'}); "
                f"expected managed >= {want}: check the package"
            )
        return f"imported {package}: {name} {installed.version}"

    async def _running_import(self) -> dict[str, Any] | None:
        """The solution import system job that is not completed yet, if this user can see one."""
        rows = await self.client.list_all(
            "asyncoperations",
            select=_RUNNING_SELECT.split(","),
            filter=f"operationtype eq {OPERATION_IMPORT} and statecode ne 3",
        )
        return rows[0] if rows else None

    async def _satisfied(self, name: str, want: str) -> Solution | None:
        for installed in await read_solutions(self.client, name):
            if installed.managed and version_tuple(installed.version or "0") >= version_tuple(want):
                return installed
        return None

    def _raise_if_past(self, deadline: float, running: Mapping[str, Any] | None) -> None:
        if time.monotonic() < deadline:
            return
        wait = self.dynamics.import_wait_seconds
        if running is None:
            raise OperationRunning(
                "another solution operation is running in this org (Dataverse: 'Cannot start another "
                f"[Import]'; its system job is not visible to the application user); waited {wait:.0f} s: "
                "run apply again once it has finished (Solution History shows it)"
            )
        started = running.get("startedon") or running.get("createdon") or "not yet"
        raise OperationRunning(
            f"another solution import is running in this org (system job {running['asyncoperationid']}, "
            f"{printable(str(running.get('name') or ''))}, started {started}); waited {wait:.0f} s: run apply "
            "again once it has finished"
        )

    async def _wait_for_other(self, running: Mapping[str, Any], deadline: float) -> None:
        job = str(running["asyncoperationid"])
        while True:
            row = await self.client.get(f"asyncoperations({job})", {"$select": _RUNNING_SELECT})
            if row.get("statecode") == 3:  # its outcome is not ours to report
                return
            self._raise_if_past(deadline, row)
            await asyncio.sleep(self.dynamics.poll_interval)

    async def _wait_for_own(self, job: str, import_job_id: str, deadline: float) -> None:
        while True:
            row = await self.client.get(
                f"asyncoperations({job})",
                {"$select": "statecode,statuscode,errorcode,message,friendlymessage"},
            )
            if row.get("statecode") == 3:  # Completed: 30 succeeded, 31 failed, 32 canceled
                if row.get("statuscode") == 30:
                    return
                message = str(row.get("message") or "")
                if _is_lock("", row.get("errorcode"), message):
                    raise _Locked
                raise ChangeFailed(
                    f"the solution import failed: {await self._import_failure(row, import_job_id)}"
                )
            if time.monotonic() >= deadline:
                wait = self.dynamics.import_wait_seconds
                raise OperationRunning(
                    f"the solution import (system job {job}) is still running after {wait:.0f} s; it may "
                    "still finish: run reconcile plan later"
                )
            await asyncio.sleep(self.dynamics.poll_interval)

    async def _import_failure(self, job_row: Mapping[str, Any], import_job_id: str) -> str:
        """The import job's own error text (its ``data`` XML), else the system job's message."""
        detail = str(job_row.get("friendlymessage") or job_row.get("message") or "no message")
        with contextlib.suppress(ProviderError, ElementTree.ParseError):
            row = await self.client.get(f"importjobs({import_job_id})", {"$select": "data,progress"})
            root = ElementTree.fromstring(str(row.get("data") or ""))
            texts = [r.get("errortext") for r in root.iter("result") if r.get("result") == "failure"]
            if texts and texts[0]:
                detail = f"{texts[0]} (import job {import_job_id})"
        return detail[:500]
