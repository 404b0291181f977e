"""OData query options on a collection: parse, filter, order, page, project, expand.

Faithful to the reference: ``$select $filter $orderby $top $count $expand`` (plus ``$skiptoken``
in next links); ``$skip $search $format`` are refused with a 400 as Dataverse does; names are
case-sensitive. Paging follows ``Prefer: odata.maxpagesize`` (at most 5,000, the unpaged cap
too) with an opaque ``$skiptoken``; ``$top`` wins over paging. Without ``$orderby`` rows come
in primary-key order, so a next page resumes with a bisect (O(page)); with ``$orderby`` the
token carries the offset into the sorted result.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote, urlencode

from rescue_sandbox.dataverse import errors
from rescue_sandbox.dataverse.odata_filter import Compiled, column_kind, compile_filter, normalize
from rescue_sandbox.dataverse.schema import Column, TableDef

MAX_PAGE = 5000
ALLOWED = {"$select", "$filter", "$orderby", "$top", "$count", "$expand", "$skiptoken"}
REFUSED = {"$skip", "$search", "$format"}
SANDBOX_UNSUPPORTED = {"$apply", "fetchXml", "savedQuery", "userQuery"}  # real Dataverse has them
Row = dict[str, Any]


class Source(Protocol):
    """Where rows come from: a table store, or a fixed list (metadata, navigation results)."""

    def get(self, row_id: str) -> Row | None: ...
    def ids_after(self, after: str | None) -> Iterator[str]: ...
    def lookup(self, prop: str, value: Any) -> set[str] | None: ...


class Tables(Protocol):
    """What expansion and navigation paths need from the org."""

    def table(self, name: str) -> TableDef: ...
    def store(self, name: str) -> Any: ...
    def related_ids(self, relationship: str, from_table: str, row_id: str) -> list[str]: ...


class ListSource:
    def __init__(self, rows: Iterable[Row], id_column: str) -> None:
        self.rows = {str(r[id_column]): r for r in rows}
        self.order = sorted(self.rows)

    def get(self, row_id: str) -> Row | None:
        return self.rows.get(row_id)

    def ids_after(self, after: str | None) -> Iterator[str]:
        return iter([i for i in self.order if after is None or i > after])

    def lookup(self, prop: str, value: Any) -> set[str] | None:
        return None


@dataclass
class Expand:
    nav: str
    target: TableDef
    collection: bool
    select: list[str] | None = None
    filter: Compiled | None = None
    orderby: list[tuple[str, bool]] = field(default_factory=list)
    top: int | None = None


@dataclass
class Query:
    select: list[str] | None = None
    filter: Compiled | None = None
    orderby: list[tuple[str, bool]] = field(default_factory=list)
    top: int | None = None
    count: bool = False
    expand: list[Expand] = field(default_factory=list)
    skiptoken: str | None = None
    passthrough: list[tuple[str, str]] = field(default_factory=list)


def split_top(text: str, sep: str) -> list[str]:
    """Split on ``sep`` outside parentheses and quotes."""
    parts, depth, quoted, start = [], 0, False, 0
    for i, ch in enumerate(text):
        if ch == "'":
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")":
            depth -= 1
        elif not quoted and depth == 0 and ch == sep:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def resolver(
    table: TableDef, tables: Tables | None
) -> Callable[[list[str]], tuple[Callable[[Row], Any], Column]]:
    def resolve(path: list[str]) -> tuple[Callable[[Row], Any], Column]:
        if len(path) == 1:
            col = table.column(path[0])
            if col is None:
                raise errors.unknown_property(path[0], table.logical_name)
            prop = col.prop
            return (lambda r: r.get(prop)), col
        if len(path) == 2 and tables is not None and path[0] in table.navs:
            lookup = table.navs[path[0]]
            target = tables.table(lookup.target or "")
            col = target.column(path[1])
            if col is None:
                raise errors.unknown_property(path[1], target.logical_name)
            store, lprop, tprop = tables.store(target.logical_name), lookup.prop, col.prop

            def get(r: Row) -> Any:
                ref = r.get(lprop)
                other = store.get(ref) if ref else None
                return other.get(tprop) if other else None

            return get, col
        raise errors.unknown_property("/".join(path), table.logical_name)

    return resolve


def _select(text: str, table: TableDef) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    for name in names:
        if table.column(name) is None:
            raise errors.unknown_property(name, table.logical_name)
    return names


def _orderby(text: str, table: TableDef) -> list[tuple[str, bool]]:
    out = []
    for part in split_top(text, ","):
        words = part.split()
        if len(words) > 2 or (len(words) == 2 and words[1] not in ("asc", "desc")):
            raise errors.query_error(f"Syntax error in $orderby '{text}'.")
        if table.column(words[0]) is None:
            raise errors.unknown_property(words[0], table.logical_name)
        out.append((words[0], len(words) == 2 and words[1] == "desc"))
    return out


def _top(text: str) -> int:
    if not text.isdigit():
        raise errors.query_error(f"Invalid value '{text}' for $top query option found.")
    return int(text)


def _expand(text: str, table: TableDef, tables: Tables) -> list[Expand]:
    out = []
    for item in split_top(text, ","):
        nav, _, rest = item.partition("(")
        nav = nav.strip()
        if nav in table.navs:
            target = tables.table(table.navs[nav].target or "")
            spec = Expand(nav, target, collection=False)
        elif nav in table.collection_navs:
            rel = table.collection_navs[nav]
            other = rel.right_table if rel.left_table == table.logical_name else rel.left_table
            spec = Expand(nav, tables.table(other), collection=True)
        else:
            raise errors.unknown_property(nav, table.logical_name)
        if rest:
            if not rest.endswith(")"):
                raise errors.query_error(f"Syntax error in $expand '{text}'.")
            for option in split_top(rest[:-1], ";"):
                name, _, value = option.partition("=")
                name = name.strip()
                if name == "$select":
                    spec.select = _select(value, spec.target)
                elif name == "$filter" and spec.collection:
                    spec.filter = compile_filter(value, resolver(spec.target, tables))
                elif name == "$orderby" and spec.collection:
                    spec.orderby = _orderby(value, spec.target)
                elif name == "$top" and spec.collection:
                    spec.top = _top(value.strip())
                else:
                    raise errors.query_error(
                        f"The query option '{name}' is not supported inside $expand of '{nav}'."
                    )
        out.append(spec)
    return out


def parse_query(params: Sequence[tuple[str, str]], table: TableDef, tables: Tables | None) -> Query:
    """Validate and parse the query options of a request on ``table``."""
    seen: dict[str, str] = {}
    aliases: dict[str, str] = {}
    query = Query()
    for name, value in params:
        if name.startswith("@"):
            aliases[name] = value
            query.passthrough.append((name, value))
            continue
        if name in SANDBOX_UNSUPPORTED:
            raise errors.not_supported(f"the query option {name}")
        if name in REFUSED or (name.startswith("$") and name not in ALLOWED):
            raise errors.query_error(f"The query parameter {name} is not supported")
        if not name.startswith("$"):
            continue
        if name in seen:
            raise errors.query_error(
                f"Query option '{name}' was specified more than once, but it must be specified at most once."
            )
        seen[name] = value
        if name != "$skiptoken":
            query.passthrough.append((name, value))
    if "$select" in seen:
        query.select = _select(seen["$select"], table)
    if "$filter" in seen:
        query.filter = compile_filter(seen["$filter"], resolver(table, tables), aliases)
    if "$orderby" in seen:
        query.orderby = _orderby(seen["$orderby"], table)
    if "$top" in seen:
        query.top = _top(seen["$top"])
    if "$count" in seen:
        if seen["$count"] not in ("true", "false"):
            raise errors.query_error(f"'{seen['$count']}' is not a valid count option.")
        query.count = seen["$count"] == "true"
    if "$expand" in seen:
        if tables is None:
            raise errors.query_error("$expand is not supported on this resource.")
        query.expand = _expand(seen["$expand"], table, tables)
    query.skiptoken = seen.get("$skiptoken")
    return query


def _encode_token(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")


def _decode_token(token: str) -> dict[str, Any]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError) as exc:
        raise errors.query_error("The $skiptoken value is not valid.") from exc
    if not isinstance(data, dict) or "i" not in data:
        raise errors.query_error("The $skiptoken value is not valid.")
    return data


def _sort_key(table: TableDef, orderby: list[tuple[str, bool]]) -> Callable[[Row], Any]:
    kinds = [column_kind(table.columns[p]) for p, _ in orderby]

    def key(row: Row) -> Any:
        return tuple(
            (0, 0) if v is None else (1, normalize(k, v))
            for (p, _), k in zip(orderby, kinds, strict=True)
            for v in [row.get(p)]
        )

    return key


def sort_rows(rows: list[Row], table: TableDef, orderby: list[tuple[str, bool]]) -> list[Row]:
    """Stable multi-key sort; nulls first ascending (SQL Server order), ties by primary key."""
    rows = sorted(rows, key=lambda r: str(r[table.id_column]))
    for prop, desc in reversed(orderby):
        rows.sort(key=_sort_key(table, [(prop, desc)]), reverse=desc)
    return rows


def _candidates(source: Source, compiled: Compiled | None, after: str | None) -> Iterator[str]:
    if compiled is not None:
        for prop, value in compiled.equalities:
            ids = source.lookup(prop, value)
            if ids is not None:
                return iter(sorted(i for i in ids if after is None or i > after))
    return source.ids_after(after)


def matching(source: Source, compiled: Compiled | None, after: str | None = None) -> Iterator[Row]:
    for row_id in _candidates(source, compiled, after):
        row = source.get(row_id)
        if row is not None and (compiled is None or compiled.predicate(row)):
            yield row


@dataclass
class Page:
    rows: list[Row]
    next_token: str | None
    count: int | None


def fetch(table: TableDef, source: Source, query: Query, page_size: int | None) -> Page:
    """One page of the query's result (``page_size`` None = the 5,000-row default)."""
    limit = query.top if query.top is not None else min(page_size or MAX_PAGE, MAX_PAGE)
    limit = min(limit, MAX_PAGE)
    count = sum(1 for _ in matching(source, query.filter)) if query.count else None
    token = _decode_token(query.skiptoken) if query.skiptoken else None
    if query.orderby:
        ordered = sort_rows(list(matching(source, query.filter)), table, query.orderby)
        start = int(token.get("o", 0)) if token else 0
        rows = ordered[start : start + limit + 1]
        more = len(rows) > limit and query.top is None
        rows = rows[:limit]
        next_token = (
            _encode_token({"o": start + limit, "i": str(rows[-1][table.id_column])}) if more else None
        )
    else:
        after = str(token["i"]) if token else None
        rows = []
        for row in matching(source, query.filter, after):
            rows.append(row)
            if len(rows) > limit:
                break
        more = len(rows) > limit and query.top is None
        rows = rows[:limit]
        next_token = _encode_token({"i": str(rows[-1][table.id_column])}) if more else None
    return Page(rows, next_token, None if count is None else min(count, MAX_PAGE))


def next_link(resource_url: str, query: Query, token: str) -> str:
    params = [*query.passthrough, ("$skiptoken", token)]
    return f"{resource_url}?{urlencode(params, quote_via=quote, safe=',()$')}"


def annotation_wanted(patterns: list[str], name: str) -> bool:
    for pattern in patterns:
        if pattern == "*" or pattern == name or (pattern.endswith("*") and name.startswith(pattern[:-1])):
            return True
    return False


def context_fragment(table: TableDef, select: list[str] | None, expand: list[Expand]) -> str:
    parts = list(select or [])
    for spec in expand:
        parts.append(f"{spec.nav}({','.join(spec.select or [])})" if spec.select else f"{spec.nav}()")
    return f"{table.entity_set}({','.join(parts)})" if parts else table.entity_set
