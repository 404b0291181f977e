"""The ``session_key`` kind in Dynamics: the "Session Key" alternate key of the LogMeIn Session
table (its index status and system job), and its repair: delete the failed index job,
``ReactivateEntityKey``, poll until Active."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Mapping
from typing import Any, ClassVar

from reconciler.errors import ChangeFailed, NotFoundError, ProviderError
from reconciler.kinds.session_key import SessionKey
from reconciler.plan import Action, Change
from reconciler.profile import SolutionProfile
from reconciler.providers.contract import WritesEach
from reconciler.providers.dynamics.client import DataverseClient
from reconciler.providers.dynamics.mapping import guid, text
from reconciler.providers.dynamics.reading import DynamicsLive, DynamicsQuery, ReadContext
from reconciler.providers.dynamics.writer import DynamicsWriter
from reconciler.resources import Kind, LiveMeta

JOB_SELECT = "asyncoperationid,statuscode,statecode,operationtype,message,friendlymessage"


def session_key_from_metadata(
    key: Mapping[str, Any], profile: SolutionProfile, job: Mapping[str, Any] | None
) -> SessionKey:
    extra: list[tuple[str, str]] = [("metadata_id", str(key.get("MetadataId", "")))]
    async_job = guid(key.get("AsyncJob"))
    if async_job:
        extra.append(("async_job", async_job))
    if job is not None:
        extra.append(("job_status", str(job.get("statuscode", ""))))
        message = text(job.get("friendlymessage")) or text(job.get("message"))
        if message:
            extra.append(("job_message", message[:500]))
    return SessionKey(
        table=profile.session.table,
        key_name=profile.session.key_logical_name,
        status=text(key.get("EntityKeyIndexStatus")),
        meta=LiveMeta(id=str(key.get("MetadataId", "")), extra=tuple(extra)),
    )


async def read_session_key(client: DataverseClient, profile: SolutionProfile) -> list[SessionKey]:
    """The Session Key (with its index job when it is not Active); ``NotFoundError`` when the
    table does not exist."""
    session = profile.session
    keys = await client.list_all(f"EntityDefinitions(LogicalName='{session.table}')/Keys")
    found: list[SessionKey] = []
    for key in keys:
        if str(key.get("LogicalName")) != session.key_logical_name:
            continue
        job = None
        job_id = key.get("AsyncJob")
        if key.get("EntityKeyIndexStatus") != "Active" and job_id:
            try:
                job = await client.get(f"asyncoperations({job_id})", {"$select": JOB_SELECT})
            except NotFoundError:
                job = None
        found.append(session_key_from_metadata(key, profile, job))
    return found


class SessionKeyRead:
    kind: ClassVar[Kind] = SessionKey.kind

    @staticmethod
    def wanted(query: DynamicsQuery) -> bool:
        return query.session_key

    @staticmethod
    async def read(context: ReadContext, live: DynamicsLive, query: DynamicsQuery) -> None:
        try:
            keys = await read_session_key(context.client, context.profile)
        except NotFoundError:
            live.state.notes.append(
                f"table {context.profile.session.table} does not exist (is the solution installed?)"
            )
            keys = []
        for key in keys:
            live.state.add(key)
        live.state.listed.add(SessionKey.kind)


class SessionKeyWrites(WritesEach):
    kind = "session_key"

    def __init__(self, dynamics: DynamicsWriter) -> None:
        self.dynamics = dynamics
        self.client = dynamics.client
        self.profile = dynamics.profile

    async def apply_one(self, change: Change) -> str:
        if not isinstance(change, Action):
            raise ChangeFailed(f"no way to apply {change.op} of {change.kind}")
        return await self.repair(change, self.dynamics.session_key_wait)

    async def repair(self, change: Action, wait_seconds: float) -> str:
        session = self.profile.session
        job = change.live.meta.get("async_job") if change.live is not None else ""
        if job:
            with contextlib.suppress(NotFoundError):
                await self.client.delete("asyncoperations", job, etag=None)
        await self.client.action(
            "ReactivateEntityKey",
            {"EntityLogicalName": session.table, "EntityKeyLogicalName": session.key_logical_name},
        )
        deadline = time.monotonic() + wait_seconds
        while True:
            key = await self._key()
            status = str(key.get("EntityKeyIndexStatus"))
            if status == "Active":
                return "reactivated: Session Key is Active"
            if status == "Failed":
                raise ChangeFailed(await self._failure_message(key))
            if time.monotonic() >= deadline:
                raise ChangeFailed(
                    f"Session Key still {status} after {wait_seconds:.0f} s; the index job may still finish: "
                    "run reconcile plan later"
                )
            await asyncio.sleep(self.dynamics.poll_interval)

    async def _key(self) -> dict[str, Any]:
        session = self.profile.session
        keys = await self.client.list_all(f"EntityDefinitions(LogicalName='{session.table}')/Keys")
        for key in keys:
            if key.get("LogicalName") == session.key_logical_name:
                return key
        raise ChangeFailed(f"alternate key {session.key_logical_name} disappeared from {session.table}")

    async def _failure_message(self, key: Mapping[str, Any]) -> str:
        session = self.profile.session
        message = "the index job failed again"
        job = key.get("AsyncJob")
        if job:
            try:
                row = await self.client.get(f"asyncoperations({job})", {"$select": "message,friendlymessage"})
                detail = row.get("friendlymessage") or row.get("message")
                if detail:
                    message += f": {str(detail)[:300]}"
            except ProviderError:
                pass
        rows = await self.client.list_all(session.entity_set, select=list(session.key_columns))
        counts = Counter(tuple(str(r.get(c)) for c in session.key_columns) for r in rows)
        dupes = [", ".join(v) for v, n in counts.most_common() if n > 1][:10]
        if dupes:
            message += (
                f". Duplicate values on {', '.join(session.key_columns)} in {session.table}: {'; '.join(dupes)}"
                " (remove or merge the duplicate rows, then apply again)"
            )
        return message
