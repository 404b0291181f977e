"""`reconcile profile discover`: find the solution's tables and columns in the org's metadata.

The installed solution's components (``solutioncomponents``, componenttype 1) give its tables;
their ``EntityDefinitions`` give attributes, keys and display labels in every language the org
carries. Each role of the solution profile is matched by an exact label (English or Italian, the
help text this project started from; accents, case and punctuation ignored) *and* the attribute
type it must have (a lookup also by its target), among the columns the solution made: the system
columns Dataverse adds to every table (IsCustomAttribute false: owner, created by, state...) and
virtual columns (AttributeOf: ``…name``, ``…yominame``) never play a role. A role with no match,
or more than one, is reported with every candidate, never guessed. Only reads.
"""

from __future__ import annotations

import asyncio
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.config import LoadedTenant
from reconciler.engine.planner import RunOptions
from reconciler.engine.session import TenantSession
from reconciler.engine.vault import open_connection
from reconciler.profile import SolutionProfile, default_profile_data, effective_profile
from reconciler.profile.columns import INSTANCE_LABELS, KEY_LABELS, TABLE_LABELS, Column, columns_of
from reconciler.providers.dynamics.client import DataverseClient
from reconciler.providers.dynamics.metadata import AttributeInfo, KeyInfo, Labels, MetadataReader, TableInfo
from reconciler.providers.http import RequestStats

LANGUAGES = {1033: "en", 1040: "it"}


def normalise(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(re.sub(r"[^0-9a-z]+", " ", plain.casefold()).split())


def _label_match(labels: Labels, wanted: tuple[str, ...]) -> str | None:
    """``'ID SSO' (it)`` when one of ``labels`` is one of ``wanted``, else None."""
    targets = {normalise(w) for w in wanted}
    for lcid, text in sorted(labels.items()):
        if normalise(text) in targets:
            return f"label {text!r} ({LANGUAGES.get(lcid, lcid)})"
    return None


@dataclass(frozen=True)
class Match:
    path: str  # profile path, e.g. technician_settings.columns.sso_id
    value: Any
    why: str


@dataclass
class Discovery:
    matches: list[Match] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # missing or ambiguous roles, never guessed
    problem_sections: set[str] = field(default_factory=set)

    def found(self, path: str, value: Any, why: str) -> None:
        self.matches.append(Match(path, value, why))

    def problem(self, section: str, text: str) -> None:
        self.problems.append(text)
        self.problem_sections.add(section)

    def overrides(self) -> dict[str, Any]:
        """Only what differs from the default profile, as a nested ``profile:`` mapping."""
        defaults = default_profile_data()
        out: dict[str, Any] = {}
        for match in self.matches:
            keys = match.path.split(".")
            default: Any = defaults
            for key in keys:
                default = default.get(key) if isinstance(default, Mapping) else None
            if _comparable(default) == _comparable(match.value):
                continue
            node = out
            for key in keys[:-1]:
                node = node.setdefault(key, {})
            node[keys[-1]] = match.value
        return out


def _comparable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple | list) else value


def _pick(discovery: Discovery, section: str, path: str, candidates: list[tuple[Any, str]], what: str) -> Any:
    if len(candidates) == 1:
        value, why = candidates[0]
        discovery.found(path, value, why)
        return value
    if not candidates:
        discovery.problem(section, f"{path}: no {what} found")
    else:
        shown = ", ".join(f"{v!r} ({why})" for v, why in candidates)
        discovery.problem(section, f"{path}: {len(candidates)} candidates for {what}, not guessing: {shown}")
    return None


async def discover(client: DataverseClient, profile: SolutionProfile, solution_name: str) -> Discovery:
    discovery = Discovery()
    reader = MetadataReader(client)
    solution = await reader.solution(solution_name)
    if solution is None:
        for section in TABLE_LABELS:
            discovery.problem(
                section, f"solution {solution_name!r} is not installed: nothing to discover from"
            )
        return discovery
    ids = await reader.solution_table_ids(solution.solution_id)
    found = await asyncio.gather(*(reader.table_by_id(i) for i in ids))
    tables = [t for t in found if t is not None]
    for section, labels in TABLE_LABELS.items():
        candidates = [(t, why) for t in tables if (why := _label_match(t.labels, labels))]
        table = _pick(
            discovery,
            section,
            f"{section}.table",
            [(t.logical_name, why) for t, why in candidates],
            f"table labelled {labels[0]!r}",
        )
        if table is None:
            continue
        info = next(t for t, _ in candidates)
        discovery.found(f"{section}.entity_set", info.entity_set, f"EntitySetName of {info.logical_name}")
        discovery.found(f"{section}.id_column", info.id_column, f"PrimaryIdAttribute of {info.logical_name}")
        for col in columns_of(section):
            _column(discovery, info, col)
        if section == "integration":
            await _instance_values(discovery, reader, info, profile)
        elif section == "session":
            _session(discovery, info)
            await _lookup_to(discovery, reader, info, section, "case_lookup", "case_navigation", "incident")
        else:
            await _lookup_to(discovery, reader, info, section, "user_lookup", "user_navigation", "systemuser")
    return discovery


def _authored(info: TableInfo) -> list[AttributeInfo]:
    """The columns the solution made: a real table also carries the ones Dataverse adds (owner,
    created by, state...) and virtual ``…name`` columns of each lookup; none of them is a role."""
    return [a for a in info.attributes.values() if a.authored]


def _column(discovery: Discovery, info: TableInfo, col: Column) -> None:
    candidates = [
        (a.logical_name, f"{why}, {a.attribute_type}")
        for a in _authored(info)
        if a.attribute_type in col.types and (why := _label_match(a.labels, col.labels))
    ]
    _pick(
        discovery,
        col.section,
        f"{col.section}.columns.{col.role}",
        candidates,
        f"{'/'.join(col.types)} column labelled {col.english[0]!r} on {info.logical_name}",
    )


async def _instance_values(
    discovery: Discovery, reader: MetadataReader, info: TableInfo, profile: SolutionProfile
) -> None:
    column = next((m.value for m in discovery.matches if m.path == "integration.columns.instance"), None)
    if column is None:
        return
    options = await reader.options(info.logical_name, column)
    for name, labels in INSTANCE_LABELS.items():
        candidates = [
            (value, why) for value, option in options.items() if (why := _label_match(option, labels))
        ]
        _pick(
            discovery,
            "integration",
            f"integration.instance_values.{name}",
            candidates,
            f"option {labels[0]!r}",
        )


async def _lookup_to(
    discovery: Discovery,
    reader: MetadataReader,
    info: TableInfo,
    section: str,
    role: str,
    navigation: str,
    target: str,
) -> None:
    """The table's only lookup to ``target`` of its own plays ``role`` (createdby, modifiedby,
    owninguser... are Dataverse's); its SchemaName is the navigation."""
    lookups = [a for a in _authored(info) if a.attribute_type == "Lookup"]
    targets = await asyncio.gather(
        *(reader.lookup_targets(info.logical_name, a.logical_name) for a in lookups)
    )
    to_target = [a for a, t in zip(lookups, targets, strict=True) if target in t]
    value = _pick(
        discovery,
        section,
        f"{section}.{role}",
        [(a.logical_name, f"the table's only custom lookup to {target}") for a in to_target],
        f"lookup to {target} on {info.logical_name}",
    )
    if value is not None:
        nav = next(a.schema_name for a in to_target if a.logical_name == value)
        discovery.found(f"{section}.{navigation}", nav, f"SchemaName of {value}")


def _session(discovery: Discovery, info: TableInfo) -> None:
    candidates: list[tuple[KeyInfo, str]] = [
        (k, why) for k in info.keys if (why := _label_match(k.labels, KEY_LABELS))
    ]
    key = _pick(
        discovery,
        "session",
        "session.key_logical_name",
        [(k.logical_name, why) for k, why in candidates],
        f"alternate key labelled {KEY_LABELS[0]!r} on {info.logical_name}",
    )
    if key is None:
        return
    found = next(k for k, _ in candidates)
    discovery.found("session.key_schema_name", found.schema_name, f"SchemaName of key {key}")
    discovery.found("session.key_columns", list(found.columns), f"KeyAttributes of key {key}")


def run_discover(loaded: LoadedTenant, options: RunOptions) -> Discovery:
    """Discover the solution's names in a tenant's org (its solution name from the tenant file)."""
    model = loaded.model
    profile = effective_profile(model.profile)
    name = (model.solution.unique_name if model.solution else None) or profile.solution.unique_name

    async def run() -> Discovery:
        conn = await open_connection(loaded, options.sandbox, options.vault, options.settings, RequestStats())
        async with TenantSession(conn, options.settings, RequestStats()) as session:
            return await discover(session.dataverse, profile, name)

    return asyncio.run(run())
