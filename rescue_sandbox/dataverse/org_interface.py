"""What the org's helpers may use of an org: the rows, tables, keys, jobs and privileges.

The org (org.py) calls its helpers (jobs.py, persistence.py, seeding.py, security.py,
components.py) and they call back into the org. They name this Protocol, not the org class, so
the imports point one way: helpers -> this interface <- org. :class:`DataverseOrg` satisfies it
(mypy checks that wherever an org is passed to a helper).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from rescue_sandbox.dataverse.jobstate import KeyState, PendingJob
from rescue_sandbox.dataverse.schema import TableDef
from rescue_sandbox.dataverse.solution_schema import SolutionSchema
from rescue_sandbox.dataverse.store import TableStore


class OrgInterface(Protocol):
    host: str
    org_url: str
    organization_id: str
    schema: SolutionSchema
    clock: Callable[[], float]
    index_job_seconds: float
    extra_specs: dict[str, dict[str, Any]]
    tables: dict[str, TableDef]
    by_set: dict[str, TableDef]
    stores: dict[str, TableStore]
    key_states: dict[tuple[str, str], KeyState]
    pending_jobs: dict[str, PendingJob]
    sync_imports: dict[str, float]
    base_language: int
    ui_languages: dict[str, int]
    role_privileges: dict[str, set[str]]
    row_version: int

    def import_seconds(self, package_bytes: int) -> float: ...

    def table(self, name: str) -> TableDef: ...

    def store(self, name: str) -> TableStore: ...

    def record_undo(self, undo: Callable[[], object]) -> None: ...

    def find(self, table: str, column: str, value: Any) -> list[dict[str, Any]]: ...

    def insert(self, table: str, row: Mapping[str, Any]) -> dict[str, Any]: ...

    def update(self, table: str, row_id: str, changes: Mapping[str, Any]) -> dict[str, Any]: ...

    def associate(self, relationship: str, left_id: str, right_id: str) -> None: ...

    def related_ids(self, relationship: str, from_table: str, row_id: str) -> list[str]: ...

    def set_key_status(
        self, table: str, key_logical_name: str, status: str, error_message: str | None = None
    ) -> None: ...
