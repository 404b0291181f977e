"""Carry out Dynamics changes: integration row, application user and roles, settings rows in
``$batch`` requests, solution import, Session Key repair.

Creates can never duplicate: rows get an id derived from their key (uuid5) and are written
with ``If-None-Match: *`` (a retry after a lost reply answers 412 = already there), and settings
rows are re-listed right before creating, so a row the integration auto-created meanwhile is
adopted and completed instead. Updates carry the ETag read at plan time.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from reconciler.config.package import read_package
from reconciler.config.types import version_tuple
from reconciler.errors import (
    ApiError,
    ChangeFailed,
    NotFoundError,
    PreconditionFailed,
    ProviderError,
)
from reconciler.plan import Action, Change, Create, Delete, Outcome, Update
from reconciler.profile import SolutionProfile
from reconciler.providers.dynamics import mapping
from reconciler.providers.dynamics.batch import BatchOperation
from reconciler.providers.dynamics.client import DataverseClient
from reconciler.providers.dynamics.reader import odata_string
from reconciler.resources import ApplicationUser, IntegrationConfig, TechnicianSettings, placeholder_email

log = logging.getLogger(__name__)

_NAMESPACE = uuid.UUID("5f0c2a4e-8d2b-4b8e-9a57-6c1f0d3e2b91")


def stable_id(org_url: str, *parts: str) -> str:
    """A row id derived from the row's key, the same in every run (idempotent creates)."""
    return str(uuid.uuid5(_NAMESPACE, "|".join((org_url.lower(), *parts))))


class DynamicsWriter:
    def __init__(
        self,
        client: DataverseClient,
        profile: SolutionProfile,
        *,
        tenant_folder: Path,
        resolve_secret: Callable[[str], str],
        poll_interval: float = 2.0,
        import_wait_seconds: float = 3600.0,
    ) -> None:
        self.client = client
        self.profile = profile
        self.folder = tenant_folder
        self.resolve_secret = resolve_secret
        self.poll_interval = poll_interval
        self.import_wait_seconds = import_wait_seconds
        self.org = client.base_url

    # ------------------------------------------------------------------ integration row

    async def integration(self, change: Change) -> str:
        prof = self.profile.integration
        if isinstance(change, Create):
            assert isinstance(change.desired, IntegrationConfig)
            fields = change.desired.content()
            row = mapping.integration_to_row(fields, self.profile, sso_password=self._sso(change.desired))
            row_id = stable_id(self.org, "integration")
            try:
                await self.client.create_only(prof.entity_set, row_id, row)
            except PreconditionFailed:
                return "already created by an earlier attempt"
            return "created"
        assert isinstance(change, Update) and isinstance(change.desired, IntegrationConfig)
        names = {item.path for item in change.items}
        fields = {k: v for k, v in change.desired.content().items() if k in names and k != "sso_password"}
        sso = self._sso(change.desired) if "sso_password" in names else None
        row = mapping.integration_to_row(fields, self.profile, sso_password=sso)
        await self.client.update(
            prof.entity_set, change.live.meta.id, row, etag=change.live.meta.etag or None
        )
        return f"updated {', '.join(sorted(names))}"

    def _sso(self, desired: IntegrationConfig) -> str | None:
        if desired.sso_password is None or not desired.sso_password.ref:
            return None
        return self.resolve_secret(desired.sso_password.ref)

    # ------------------------------------------------------------------ application user

    async def application_user(self, change: Change, root_bu: tuple[str, str] | None) -> str:
        assert isinstance(change, Create | Update) and isinstance(change.desired, ApplicationUser)
        desired = change.desired
        units = await self._business_units()
        bu_id = self._bu_id(desired.business_unit, units, root_bu)
        if isinstance(change, Create):
            user_id = stable_id(self.org, "appuser", desired.app_id)
            row = mapping.application_user_to_row(
                desired.content() | {"app_id": desired.app_id}, business_unit_id=bu_id
            )
            row["accessmode"] = 4  # non-interactive
            # A 412 means an earlier attempt created it: go on with its roles.
            with contextlib.suppress(PreconditionFailed):
                await self.client.create_only("systemusers", user_id, row)
            added = await self._set_roles(user_id, bu_id, set(), set(desired.roles or ()))
            return "created" + (f"; roles added: {', '.join(sorted(added))}" if added else "")
        live = change.live
        assert isinstance(live, ApplicationUser)
        user_id = live.meta.id
        names = {i.path for i in change.items}
        fields = {
            k: v
            for k, v in desired.content().items()
            if k in names and k in ("first_name", "last_name", "email")
        }
        body = mapping.application_user_to_row(
            fields, business_unit_id=bu_id if "business_unit" in names else None
        )
        done: list[str] = []
        if body:
            await self.client.update("systemusers", user_id, body, etag=None)
            done.append("updated " + ", ".join(sorted(n for n in names if n != "roles")))
        roles_item = next((i for i in change.items if i.path == "roles"), None)
        if roles_item is not None:
            user_bu = live.meta.get("business_unit_id") or bu_id
            added = await self._set_roles(user_id, user_bu, set(roles_item.old), set(roles_item.new))
            if added:
                done.append(f"roles: {', '.join(sorted(added))}")
        return "; ".join(done) or "nothing to do"

    async def _business_units(self) -> list[dict[str, Any]]:
        return await self.client.list_all(
            "businessunits", select=["businessunitid", "name", "_parentbusinessunitid_value"]
        )

    @staticmethod
    def _bu_id(name: str | None, units: list[dict[str, Any]], root: tuple[str, str] | None) -> str:
        if name is None:
            roots = [u for u in units if u.get("_parentbusinessunitid_value") is None]
            if roots:
                return str(roots[0]["businessunitid"]).lower()
            if root:
                return root[0]
            raise ChangeFailed("the org has no root business unit")
        for unit in units:
            if str(unit.get("name", "")).casefold() == name.casefold():
                return str(unit["businessunitid"]).lower()
        raise ChangeFailed(f"business unit {name!r} does not exist")

    async def _set_roles(self, user_id: str, bu_id: str, old: set[str], new: set[str]) -> list[str]:
        """Associate roles in ``new`` not in ``old`` and remove those in ``old`` not in ``new``."""
        changes: list[str] = []
        current = await self.client.list_all(
            f"systemusers({user_id})/systemuserroles_association", select=["roleid", "name"]
        )
        present = {str(r["name"]).casefold(): str(r["roleid"]) for r in current}
        for name in sorted(new):
            if name.casefold() in present:
                continue
            rows = await self.client.list_all(
                "roles",
                select=["roleid", "name", "_businessunitid_value"],
                filter=f"name eq {odata_string(name)} and _businessunitid_value eq {bu_id}",
            )
            if not rows:
                raise ChangeFailed(f"security role {name!r} does not exist in the user's business unit")
            await self.client.associate(
                "systemusers", user_id, "systemuserroles_association", "roles", str(rows[0]["roleid"])
            )
            changes.append(f"+{name}")
        wanted = {n.casefold() for n in new}
        for name in sorted(old):
            role_id = present.get(name.casefold())
            if name.casefold() not in wanted and role_id:
                await self.client.disassociate("systemusers", user_id, "systemuserroles_association", role_id)
                changes.append(f"-{name}")
        return changes

    # ------------------------------------------------------------------ solution

    async def import_solution(self, change: Action) -> str:
        package = getattr(change.desired, "package", None)
        if not package:
            raise ChangeFailed("no solution package given")
        data = read_package(package, self.folder)  # checked again: the file may have changed since
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
        rows = await self.client.list_all(
            "solutions", select=mapping.solution_select(), filter=f"uniquename eq {odata_string(name)}"
        )
        if not rows:
            raise ChangeFailed(f"ImportSolution returned, but solution {name} is not installed")
        installed = mapping.solution_from_row(rows[0])
        want = getattr(change.desired, "version", "0") or "0"
        if version_tuple(installed.version or "0") < version_tuple(want) or not installed.managed:
            raise ChangeFailed(
                f"imported, but {name} is {installed.version} ({'managed' if installed.managed else 'unmanaged'}); "
                f"expected managed >= {want}: check the package"
            )
        return f"imported {Path(package).name}: {name} {installed.version}"

    async def _wait_for_import(self, job: str, import_job_id: str) -> None:
        deadline = time.monotonic() + self.import_wait_seconds
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
                    f"{self.import_wait_seconds:.0f} s; it may still finish: run reconcile plan later"
                )
            await asyncio.sleep(self.poll_interval)

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

    # ------------------------------------------------------------------ session key

    async def repair_session_key(self, change: Action, wait_seconds: float) -> str:
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
            await asyncio.sleep(self.poll_interval)

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

    # ------------------------------------------------------------------ settings rows

    async def settings(self, changes: Sequence[Change], technician_ids: Mapping[str, str]) -> list[Outcome]:
        """All settings-row changes in ``$batch`` requests; one outcome per change.

        ``technician_ids`` maps ``new:<email>`` placeholders to node IDs created in this run.
        """
        ts = self.profile.technician_settings
        creates = [c for c in changes if isinstance(c, Create)]
        existing: dict[str, tuple[str, str]] = {}
        if creates:
            rows = await self.client.list_all(ts.entity_set, select=[ts.id_column, ts.user_value_column])
            for row in rows:
                user = str(row.get(ts.user_value_column) or "").lower()
                if user:
                    existing.setdefault(user, (str(row[ts.id_column]), str(row.get("@odata.etag") or "")))
        ops: list[BatchOperation] = []
        owners: list[tuple[Change, str]] = []
        outcomes: list[Outcome] = []
        for change in changes:
            try:
                op, note = self._settings_op(change, existing, technician_ids)
            except ChangeFailed as exc:
                outcomes.append(Outcome(change.id, "failed", str(exc)))
                continue
            ops.append(BatchOperation(**op, content_id=str(len(ops) + 1)))
            owners.append((change, note))
        if ops:
            results = await self.client.batch(ops, change_set=False, continue_on_error=True)
            for (change, note), result in zip(owners, results, strict=True):
                if result.ok or (result.status == 412 and note == "created"):
                    outcomes.append(
                        Outcome(
                            change.id, "done", note if result.ok else "already created by an earlier attempt"
                        )
                    )
                else:
                    outcomes.append(Outcome(change.id, "failed", _batch_error(result.status, result.error)))
        return outcomes

    def _settings_op(
        self, change: Change, existing: Mapping[str, tuple[str, str]], technician_ids: Mapping[str, str]
    ) -> tuple[dict[str, Any], str]:
        ts = self.profile.technician_settings
        if isinstance(change, Delete):
            return {
                "method": "DELETE",
                "path": f"{ts.entity_set}({change.live.meta.id})",
                "headers": {"If-Match": change.live.meta.etag or "*"},
            }, "deleted"
        assert isinstance(change, Create | Update) and isinstance(change.desired, TechnicianSettings)
        desired = change.desired
        tech = desired.technician_id
        pending_email = placeholder_email(tech) if tech else None
        if tech and pending_email is not None:
            if tech not in technician_ids:
                raise ChangeFailed(f"the Rescue technician {pending_email} was not created")
            tech = technician_ids[tech]
        fields = {"technician_id": tech, "sso_id": desired.sso_id}
        if isinstance(change, Update):
            names = {i.path for i in change.items}
            body = mapping.settings_to_row({k: v for k, v in fields.items() if k in names}, self.profile)
            live = change.live
            return {
                "method": "PATCH",
                "path": f"{ts.entity_set}({live.meta.id})",
                "body": body,
                "headers": {"If-Match": live.meta.etag or "*"},
            }, "updated " + ", ".join(sorted(names))
        user_id = desired.user_id
        if not user_id:
            raise ChangeFailed(f"Dynamics user {desired.user} was not found at plan time")
        if user_id in existing:
            row_id, etag = existing[user_id]
            body = mapping.settings_to_row(fields, self.profile)
            return {
                "method": "PATCH",
                "path": f"{ts.entity_set}({row_id})",
                "body": body,
                "headers": {"If-Match": etag or "*"},
            }, "adopted the row that appeared since the plan"
        body = mapping.settings_to_row(fields, self.profile, user_id=user_id)
        row_id = stable_id(self.org, "settings", user_id)
        return {
            "method": "PATCH",
            "path": f"{ts.entity_set}({row_id})",
            "body": body,
            "headers": {"If-None-Match": "*"},
        }, "created"


def _batch_error(status: int, error: ApiError | None) -> str:
    if status == 412:
        return "changed since the plan was made (ETag mismatch); plan again"
    if error is not None:
        return error.message
    return f"HTTP {status}"
