"""The ``solution`` kind in Dynamics: read the installed solution (``solutions``), import a
package when it is missing or older (``ImportSolutionAsync``, polled as a system job)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar
from xml.etree import ElementTree

from reconciler.config.package import read_package
from reconciler.config.types import version_tuple
from reconciler.errors import ChangeFailed, ProviderError
from reconciler.kinds.solution import Solution
from reconciler.plan import Action, Change
from reconciler.providers.contract import WritesEach
from reconciler.providers.dynamics.client import DataverseClient, odata_string
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
        # A real package imports for minutes: the synchronous ImportSolution outlives any
        # request timeout, so the import runs as a system job, polled within a bound.
        import_job_id = str(uuid.uuid4())
        reply = await self.client.action(
            "ImportSolutionAsync",
            {
                "CustomizationFile": base64.b64encode(data).decode("ascii"),
                "OverwriteUnmanagedCustomizations": False,
                "PublishWorkflows": True,
                "ImportJobId": import_job_id,
            },
        )
        job = str((reply or {}).get("AsyncOperationId") or "")
        if not job:
            raise ChangeFailed("ImportSolutionAsync answered without an AsyncOperationId")
        await self._wait_for_import(job, import_job_id)
        name = getattr(change.desired, "unique_name", "")
        found = await read_solutions(self.client, name)
        if not found:
            raise ChangeFailed(f"ImportSolution returned, but solution {name} is not installed")
        installed = found[0]
        want = getattr(change.desired, "version", "0") or "0"
        if version_tuple(installed.version or "0") < version_tuple(want) or not installed.managed:
            raise ChangeFailed(
                f"imported, but {name} is {installed.version} ({'managed' if installed.managed else 'unmanaged'}); "
                f"expected managed >= {want}: check the package"
            )
        return f"imported {Path(package).name}: {name} {installed.version}"

    async def _wait_for_import(self, job: str, import_job_id: str) -> None:
        wait = self.dynamics.import_wait_seconds
        deadline = time.monotonic() + wait
        while True:
            row = await self.client.get(
                f"asyncoperations({job})", {"$select": "statecode,statuscode,message,friendlymessage"}
            )
            if row.get("statecode") == 3:  # Completed: 30 succeeded, 31 failed, 32 canceled
                if row.get("statuscode") == 30:
                    return
                raise ChangeFailed(
                    f"the solution import failed: {await self._import_failure(row, import_job_id)}"
                )
            if time.monotonic() >= deadline:
                raise ChangeFailed(
                    f"the solution import (system job {job}) is still running after "
                    f"{wait:.0f} s; it may still finish: run reconcile plan later"
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
