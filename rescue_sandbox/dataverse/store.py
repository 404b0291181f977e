"""Row storage of one table: rows by id, ids in key order, hash indexes, alternate-key indexes.

Paging must cost O(page), not O(table): ids are kept sorted (the default order of a Dataverse
query without ``$orderby`` is the primary key), so a ``$skiptoken`` resumes with a bisect. GUID
and lookup columns carry hash indexes so ``_x_value eq <guid>`` filters do not scan. Alternate-key
indexes are multimaps because duplicates can exist while a key's index is not Active, which is
exactly how an index job ends up Failed.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from typing import Any

from rescue_sandbox.dataverse.schema import EntityKeyDef, TableDef


def key_value(value: Any) -> Any:
    """Normalise a value for an index: Dataverse's collation is case-insensitive."""
    return value.casefold() if isinstance(value, str) else value


class TableStore:
    def __init__(self, table: TableDef) -> None:
        self.table = table
        self.rows: dict[str, dict[str, Any]] = {}
        self.order: list[str] = []
        self.indexes: dict[str, dict[Any, set[str]]] = {p: {} for p in table.indexed_props()}
        self.key_indexes: dict[str, dict[tuple[Any, ...], set[str]]] = {
            k.logical_name: {} for k in table.keys
        }
        self.mutations = 0

    def __len__(self) -> int:
        return len(self.rows)

    def get(self, row_id: str) -> dict[str, Any] | None:
        return self.rows.get(row_id)

    def key_tuple(self, key: EntityKeyDef, row: dict[str, Any]) -> tuple[Any, ...] | None:
        """The row's values for ``key``; None when any is null (nulls are not indexed)."""
        values = []
        for col in key.columns:
            value = row.get(self.table.by_logical[col].prop)
            if value is None:
                return None
            values.append(key_value(value))
        return tuple(values)

    def put(self, row: dict[str, Any]) -> dict[str, Any] | None:
        """Insert or replace a row; returns the previous version."""
        row_id = row[self.table.id_column]
        previous = self.rows.get(row_id)
        if previous is not None:
            self._unindex(previous)
        else:
            bisect.insort(self.order, row_id)
        self.rows[row_id] = row
        self._index(row)
        self.mutations += 1
        return previous

    def remove(self, row_id: str) -> dict[str, Any] | None:
        previous = self.rows.pop(row_id, None)
        if previous is not None:
            self._unindex(previous)
            pos = bisect.bisect_left(self.order, row_id)
            del self.order[pos]
            self.mutations += 1
        return previous

    def ids_after(self, after: str | None) -> Iterator[str]:
        start = 0 if after is None else bisect.bisect_right(self.order, after)
        for pos in range(start, len(self.order)):
            yield self.order[pos]

    def lookup(self, prop: str, value: Any) -> set[str] | None:
        """Ids whose ``prop`` equals ``value``; None when the column has no index."""
        index = self.indexes.get(prop)
        if index is None:
            return None
        return index.get(key_value(value), set())

    def key_lookup(self, key: EntityKeyDef, values: tuple[Any, ...]) -> set[str]:
        return self.key_indexes[key.logical_name].get(tuple(key_value(v) for v in values), set())

    def duplicates(self, key: EntityKeyDef) -> list[tuple[tuple[Any, ...], int]]:
        """Key values held by more than one row, with their counts."""
        index = self.key_indexes[key.logical_name]
        return [(values, len(ids)) for values, ids in index.items() if len(ids) > 1]

    def _index(self, row: dict[str, Any]) -> None:
        row_id = row[self.table.id_column]
        for prop, index in self.indexes.items():
            value = row.get(prop)
            if value is not None:
                index.setdefault(key_value(value), set()).add(row_id)
        for key in self.table.keys:
            values = self.key_tuple(key, row)
            if values is not None:
                self.key_indexes[key.logical_name].setdefault(values, set()).add(row_id)

    def _unindex(self, row: dict[str, Any]) -> None:
        row_id = row[self.table.id_column]
        for prop, index in self.indexes.items():
            value = row.get(prop)
            if value is not None:
                bucket = index.get(key_value(value))
                if bucket is not None:
                    bucket.discard(row_id)
                    if not bucket:
                        del index[key_value(value)]
        for key in self.table.keys:
            values = self.key_tuple(key, row)
            if values is not None:
                kbucket = self.key_indexes[key.logical_name].get(values)
                if kbucket is not None:
                    kbucket.discard(row_id)
                    if not kbucket:
                        del self.key_indexes[key.logical_name][values]
