"""One emulated Dataverse org: its tables, rows, N:N associations, keys and system jobs.

This is the state the Web API routes and the sandbox controls share. Every write goes through
:meth:`DataverseOrg.insert` / :meth:`update` / :meth:`delete` so type checks, computed columns,
row versions (the ETag), unique keys and lookups behave the same whichever side writes. Writes
inside :meth:`transaction` are journalled, so a failed ``$batch`` change set rolls back whole.

Thread safety: uvicorn handles requests on worker threads and controls may run on others; hold
:attr:`lock` around anything that reads or writes more than one value.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlparse

from rescue_sandbox.dataverse import errors, jobs, persistence, security, seeding
from rescue_sandbox.dataverse.jobstate import KeyState, PendingJob
from rescue_sandbox.dataverse.schema import RelationshipDef, TableDef
from rescue_sandbox.dataverse.solution_schema import SolutionSchema, default_schema
from rescue_sandbox.dataverse.store import TableStore, key_value
from rescue_sandbox.dataverse.tables import build_tables, normalize_extra_spec
from rescue_sandbox.dataverse.values import coerce, format_time, normalize_guid

_SYSTEM_MANAGED = ("createdon", "modifiedon", "versionnumber")


class DataverseOrg:
    """One emulated org: in-memory tables, rows as dicts keyed by logical column names.

    Lookups appear under their read-side name ``_<lookup>_value``; each row has a primary id
    (GUID string) and a ``versionnumber`` bumped on every write (its ``@odata.etag``).
    """

    def __init__(
        self,
        org_url: str,
        schema: SolutionSchema | None = None,
        *,
        extra_tables: Mapping[str, Mapping[str, Any]] | None = None,
        clock: Callable[[], float] = time.time,
        index_job_seconds: float = 2.0,
    ) -> None:
        parsed = urlparse(org_url)
        if parsed.scheme != "https" or not parsed.hostname:
            raise ValueError(f"org_url must be an https URL, got {org_url!r}")
        self.host: str = parsed.hostname.lower()
        self.org_url: str = f"https://{self.host}"
        self.schema = schema or default_schema()
        self.organization_id = str(uuid.uuid5(uuid.NAMESPACE_DNS, self.host))
        self.lock = threading.RLock()
        self.clock = clock
        self.index_job_seconds = index_job_seconds
        # A solution import takes a time that grows with the package (real ones: minutes); on
        # the same scale as the index jobs, so a fast test sandbox imports fast too.
        self.import_seconds_base = 15 * index_job_seconds
        self.import_seconds_per_mb = 60 * index_job_seconds
        self.extra_specs = {
            name: normalize_extra_spec(name, spec) for name, spec in (extra_tables or {}).items()
        }
        self.tables, self.relationships = build_tables(self.schema, self.extra_specs)
        self.by_set: dict[str, TableDef] = {t.entity_set: t for t in self.tables.values()}
        self.stores: dict[str, TableStore] = {name: TableStore(t) for name, t in self.tables.items()}
        self.key_states: dict[tuple[str, str], KeyState] = {
            (t.logical_name, k.logical_name): KeyState() for t in self.tables.values() for k in t.keys
        }
        self.pending_jobs: dict[str, PendingJob] = {}
        # Synchronous ImportSolution calls in flight (import job id -> arrival): they hold the
        # one-solution-operation-at-a-time lock like a running import job does.
        self.sync_imports: dict[str, float] = {}
        # The org's base language and its users' UI languages (usersettings.uilanguageid, by
        # systemuserid): metadata labels' UserLocalizedLabel follows the caller's.
        self.base_language = 1033
        self.ui_languages: dict[str, int] = {}
        # Privileges by role name (security.py); a seed's role_privileges replaces a role's set.
        self.role_privileges: dict[str, set[str]] = security.default_role_privileges(self, {})
        self.row_version = 1_000_000
        self._journal: list[Callable[[], object]] | None = None

    # ----------------------------------------------------------------- construction
    @classmethod
    def from_seed(
        cls,
        seed: Mapping[str, Any],
        schema: SolutionSchema | None = None,
        *,
        clock: Callable[[], float] = time.time,
        index_job_seconds: float = 2.0,
    ) -> DataverseOrg:
        """Build an org from the ``dataverse:`` mapping of one seed tenant (see seeding.py)."""
        schema = schema or default_schema()
        extra = {n: s for n, s in (seed.get("tables") or {}).items() if n not in _builtin_names(schema)}
        org = cls(
            str(seed.get("org_url") or ""),
            schema,
            extra_tables=extra,
            clock=clock,
            index_job_seconds=index_job_seconds,
        )
        with org.lock:
            seeding.populate(org, seed)
        return org

    def snapshot(self) -> dict[str, Any]:
        """JSON-serialisable state, for ``--state-dir`` persistence."""
        with self.lock:
            return persistence.snapshot(self)

    @classmethod
    def restore(
        cls,
        data: Mapping[str, Any],
        schema: SolutionSchema | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> DataverseOrg:
        """The org a :meth:`snapshot` describes."""
        persistence.check_format(data)
        org = cls(
            str(data["org_url"]),
            schema or default_schema(),
            extra_tables=data.get("extra_tables") or {},
            clock=clock,
            index_job_seconds=float(data.get("index_job_seconds", 2.0)),
        )
        persistence.load(org, data)
        return org

    def import_seconds(self, package_bytes: int) -> float:
        """How long importing a package of this size takes."""
        return self.import_seconds_base + self.import_seconds_per_mb * package_bytes / 1_000_000

    # ----------------------------------------------------------------- names
    def table(self, name: str) -> TableDef:
        """A table by logical name or entity set name."""
        found = self.tables.get(name) or self.by_set.get(name)
        if found is None:
            raise KeyError(f"org {self.host} has no table {name!r}")
        return found

    def store(self, name: str) -> TableStore:
        return self.stores[self.table(name).logical_name]

    # ----------------------------------------------------------------- transactions
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All writes inside succeed together or are undone together (nested calls join)."""
        with self.lock:
            if self._journal is not None:
                yield
                return
            self._journal = []
            try:
                yield
            except BaseException:
                journal, self._journal = self._journal, None
                for undo in reversed(journal):
                    undo()
                raise
            self._journal = None

    def record_undo(self, undo: Callable[[], object]) -> None:
        if self._journal is not None:
            self._journal.append(undo)

    def _put(self, store: TableStore, row: dict[str, Any]) -> None:
        previous = store.put(row)
        row_id = row[store.table.id_column]
        self.record_undo(lambda: store.put(previous) if previous is not None else store.remove(row_id))

    def _remove(self, store: TableStore, row_id: str) -> None:
        previous = store.remove(row_id)
        if previous is not None:
            self.record_undo(lambda: store.put(previous))

    def _stamp(self, row: dict[str, Any]) -> None:
        self.row_version += 1
        row["versionnumber"] = self.row_version
        row["modifiedon"] = format_time(self.clock())

    # ----------------------------------------------------------------- reads
    def rows(self, table: str) -> list[dict[str, Any]]:
        """Copies of every row of ``table``, in primary-key order."""
        with self.lock:
            jobs.advance(self)
            store = self.store(table)
            return [dict(store.rows[i]) for i in store.order]

    def get(self, table: str, row_id: str) -> dict[str, Any] | None:
        with self.lock:
            jobs.advance(self)
            row = self.store(table).get(normalize_guid(row_id) or row_id)
            return dict(row) if row is not None else None

    def find(self, table: str, column: str, value: Any) -> list[dict[str, Any]]:
        """Rows whose ``column`` (read-side name) equals ``value`` (strings case-insensitively)."""
        with self.lock:
            store = self.store(table)
            ids = store.lookup(column, value)
            candidates = (store.rows[i] for i in sorted(ids)) if ids is not None else store.rows.values()
            wanted = key_value(value)
            return [dict(r) for r in candidates if key_value(r.get(column)) == wanted]

    # ----------------------------------------------------------------- writes
    def insert(self, table: str, row: Mapping[str, Any]) -> dict[str, Any]:
        """Create a row (the primary id may be given). Raises DataverseError like the Web API."""
        with self.transaction():
            tdef = self.table(table)
            store = self.stores[tdef.logical_name]
            given = row.get(tdef.id_column)
            row_id = normalize_guid(given) if isinstance(given, str) else None
            if given is not None and row_id is None:
                raise errors.payload_error(tdef.entity_set, f"'{given}' is not a valid GUID.")
            row_id = row_id or str(uuid.uuid4())
            if store.get(row_id) is not None:
                raise errors.duplicate_record("Cannot insert duplicate key.")
            new: dict[str, Any] = {}
            for col in tdef.columns.values():
                new[col.prop] = False if col.type == "Boolean" and col.default is None else col.default
            new.update(self._coerced(tdef, row))
            new[tdef.id_column] = row_id
            created = row.get("createdon")
            new["createdon"] = coerce(tdef, tdef.columns["createdon"], created) or format_time(self.clock())
            self._check(tdef, new, None)
            self._stamp(new)
            self._put(store, new)
            return dict(new)

    def update(self, table: str, row_id: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        with self.transaction():
            tdef = self.table(table)
            store = self.stores[tdef.logical_name]
            rid = normalize_guid(row_id) or row_id
            current = store.get(rid)
            if current is None:
                raise errors.not_found(tdef.logical_name, row_id)
            given = changes.get(tdef.id_column)
            if given is not None and normalize_guid(str(given)) != rid:
                raise errors.payload_error(
                    tdef.entity_set, "The primary key in the payload does not match the URL."
                )
            new = dict(current)
            new.update(self._coerced(tdef, {k: v for k, v in changes.items() if k != tdef.id_column}))
            self._check(tdef, new, current)
            self._stamp(new)
            self._put(store, new)
            return dict(new)

    def delete(self, table: str, row_id: str) -> None:
        """Delete a row; its N:N associations go with it and lookups to it are cleared."""
        with self.transaction():
            tdef = self.table(table)
            store = self.stores[tdef.logical_name]
            rid = normalize_guid(row_id) or row_id
            if store.get(rid) is None:
                raise errors.not_found(tdef.logical_name, row_id)
            for rel in self.relationships.values():
                for side_table, column in (
                    (rel.left_table, rel.left_column),
                    (rel.right_table, rel.right_column),
                ):
                    if side_table == tdef.logical_name:
                        inter = self.stores[rel.intersect]
                        for pair_id in sorted(inter.lookup(column, rid) or ()):
                            self._remove(inter, pair_id)
            for other in self.tables.values():
                for col in other.columns.values():
                    if col.type == "Lookup" and col.target == tdef.logical_name:
                        ostore = self.stores[other.logical_name]
                        for ref_id in sorted(ostore.lookup(col.prop, rid) or ()):
                            if ref_id != rid:
                                self.update(other.logical_name, ref_id, {col.prop: None})
            self._remove(store, rid)

    def _coerced(self, tdef: TableDef, row: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for prop, value in row.items():
            if prop == tdef.id_column or prop in _SYSTEM_MANAGED:
                continue
            col = tdef.column(prop)
            if col is None:
                raise errors.payload_error(
                    tdef.entity_set,
                    f"The property '{prop}' does not exist on type 'Microsoft.Dynamics.CRM.{tdef.logical_name}'. "
                    "Make sure to only use property names that are defined by the type or mark the type as open type.",
                )
            out[prop] = coerce(tdef, col, value)
        return out

    def _check(self, tdef: TableDef, new: dict[str, Any], current: dict[str, Any] | None) -> None:
        """Constraints Dataverse enforces on create and update."""
        if tdef.compute is not None:
            tdef.compute(new)
        store = self.stores[tdef.logical_name]
        row_id = new[tdef.id_column]
        for col in tdef.columns.values():
            value = new.get(col.prop)
            if col.required and value is None:
                raise errors.validation_error(
                    f"The '{col.name}' attribute of the '{tdef.logical_name}' entity is required and cannot be null."
                )
            if (
                col.type == "Lookup"
                and value is not None
                and (current is None or current.get(col.prop) != value)
            ):
                target = col.target or ""
                if self.stores[target].get(value) is None:
                    raise errors.not_found(target, value)
        if tdef.logical_name == "systemuser" and new.get("applicationid"):
            others = (store.lookup("applicationid", new["applicationid"]) or set()) - {row_id}
            if others:
                raise errors.duplicate_record(
                    f"An application user with application ID {new['applicationid']} already exists."
                )
        for kdef in tdef.keys:
            if self.key_states[(tdef.logical_name, kdef.logical_name)].status != "Active":
                continue
            values = store.key_tuple(kdef, new)
            if values is None or (current is not None and store.key_tuple(kdef, current) == values):
                continue
            if store.key_lookup(kdef, values) - {row_id}:
                shown = ", ".join(str(new.get(tdef.by_logical[c].prop)) for c in kdef.columns)
                raise errors.DataverseError(
                    412,
                    errors.DUPLICATE_KEY_VALUES,
                    f"A record that has the attribute values {shown} already exists. The entity key "
                    f"{kdef.schema_name} requires that this set of attributes contains unique values. "
                    "Select unique values and try again.",
                )

    # ----------------------------------------------------------------- N:N
    def relationship(self, name: str) -> RelationshipDef:
        rel = self.relationships.get(name)
        if rel is None:
            raise KeyError(f"org {self.host} has no relationship {name!r}")
        return rel

    def _pair(self, rel: RelationshipDef, left_id: str, right_id: str) -> str | None:
        inter = self.stores[rel.intersect]
        for pair_id in inter.lookup(rel.left_column, left_id) or ():
            if inter.rows[pair_id][rel.right_column] == right_id:
                return pair_id
        return None

    def _pair_ends(self, rel: RelationshipDef, left_id: str, right_id: str) -> tuple[str, str]:
        left, right = normalize_guid(left_id) or left_id, normalize_guid(right_id) or right_id
        if self.stores[rel.left_table].get(left) is None:
            raise errors.not_found(rel.left_table, left_id)
        if self.stores[rel.right_table].get(right) is None:
            raise errors.not_found(rel.right_table, right_id)
        return left, right

    def associate(self, relationship: str, left_id: str, right_id: str) -> None:
        """Associate two rows; associating twice fails ("Cannot insert duplicate key.")."""
        with self.transaction():
            rel = self.relationship(relationship)
            left, right = self._pair_ends(rel, left_id, right_id)
            if self._pair(rel, left, right) is not None:
                raise errors.duplicate_record("Cannot insert duplicate key.")
            pair_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{rel.name}/{left}/{right}"))
            inter = self.table(rel.intersect)
            self.insert(
                rel.intersect, {inter.id_column: pair_id, rel.left_column: left, rel.right_column: right}
            )

    def disassociate(self, relationship: str, left_id: str, right_id: str) -> None:
        """Remove an association; removing one that does not exist is a no-op, as in Dataverse."""
        with self.transaction():
            rel = self.relationship(relationship)
            left, right = self._pair_ends(rel, left_id, right_id)
            pair_id = self._pair(rel, left, right)
            if pair_id is not None:
                self._remove(self.stores[rel.intersect], pair_id)

    def related_ids(self, relationship: str, from_table: str, row_id: str) -> list[str]:
        """Ids on the other side of ``relationship`` for a row of ``from_table``, sorted."""
        rel = self.relationship(relationship)
        inter = self.stores[rel.intersect]
        if from_table == rel.left_table:
            mine, other = rel.left_column, rel.right_column
        else:
            mine, other = rel.right_column, rel.left_column
        return sorted(inter.rows[p][other] for p in inter.lookup(mine, row_id) or ())

    # ----------------------------------------------------------------- keys & jobs
    def set_key_status(
        self, table: str, key_logical_name: str, status: str, error_message: str | None = None
    ) -> None:
        """Put an alternate key into a status; Failed/Pending leave a failed index job (AsyncJob)."""
        with self.transaction():
            jobs.set_key_status(self, self.table(table).logical_name, key_logical_name, status, error_message)

    def key_status(self, table: str, key_logical_name: str) -> KeyState:
        with self.lock:
            jobs.advance(self)
            state = self.key_states[(self.table(table).logical_name, key_logical_name)]
            return KeyState(state.status, state.async_job)

    # ----------------------------------------------------------------- integration behaviour
    def record_pin_request(self, domainname: str, technician_id: str) -> dict[str, Any] | None:
        """What the integration does on a user's first PIN request: create an empty settings row
        holding only the technician ID. Returns the new row, or None when the user already has
        one (or does not exist)."""
        tech = self.schema.technician_settings
        with self.transaction():
            users = self.find("systemuser", "domainname", domainname)
            if not users:
                return None
            user_id = users[0]["systemuserid"]
            if self.find(tech.table, tech.user_value_column, user_id):
                return None
            return self.insert(
                tech.table, {tech.user_value_column: user_id, tech.columns["technician_id"]: technician_id}
            )


def _builtin_names(schema: SolutionSchema) -> set[str]:
    tables, _ = build_tables(schema, {})
    return set(tables)
