"""Does the org have every logical name of the effective solution profile, with the expected type?

The profile's names are guesses until checked against an org: a wrong one would surface as a
400 about an unknown property in the middle of a run. This check reads the metadata of the
tables the tenant's declared kinds need (one request per table, one per lookup and picklist)
and names every missing or mistyped name with the profile path that sets it. ``doctor`` shows
the result; ``plan`` and ``apply`` stop on it before reading or writing anything else.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass

from reconciler.config import Tenant
from reconciler.engine.needs import tenant_needs
from reconciler.profile import SolutionProfile, effective_profile
from reconciler.profile.columns import columns_of
from reconciler.providers.dynamics.client import DataverseClient
from reconciler.providers.dynamics.metadata import MetadataReader, TableInfo

FIX = "set it under the tenant's `profile:` (`reconcile profile discover --tenant {tenant} --write` finds it)"


@dataclass(frozen=True)
class SchemaProblem:
    path: str  # the profile path that names the thing, e.g. profile.technician_settings.columns.sso_id
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def needed_sections(model: Tenant) -> list[str]:
    """The solution tables the tenant's declared kinds read or write (``engine/needs.py``, where
    every source of needs is listed: technicians by rule use the settings table too)."""
    return list(tenant_needs(model, effective_profile(model.profile)).sections)


async def check_schema(
    client: DataverseClient, profile: SolutionProfile, sections: Iterable[str]
) -> list[SchemaProblem]:
    """Every mismatch between the profile's names (for ``sections``) and the org's metadata."""
    reader = MetadataReader(client)
    wanted = list(sections)
    tables = {
        "integration": profile.integration.table,
        "technician_settings": profile.technician_settings.table,
        "session": profile.session.table,
    }
    # Every table read runs to its end (no request left running when one fails), then the
    # first failure is raised.
    results = await asyncio.gather(*(reader.table(tables[s]) for s in wanted), return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    found = [r for r in results if not isinstance(r, BaseException)]
    problems: list[SchemaProblem] = []
    for section, info in zip(wanted, found, strict=True):
        base = f"profile.{section}"
        if info is None:
            problems.append(SchemaProblem(f"{base}.table", f"the org has no table {tables[section]!r}"))
            continue
        problems += _table_names(base, section, profile, info)
        if section == "integration":
            problems += await _instance_values(reader, profile, info)
        elif section == "technician_settings":
            problems += await _user_lookup(reader, profile, info)
        else:
            problems += _session_key(profile, info)
            problems += await _lookup(
                reader, info, "profile.session.case_lookup", profile.session.case_lookup, "incident"
            )
    return problems


def _table_names(base: str, section: str, profile: SolutionProfile, info: TableInfo) -> list[SchemaProblem]:
    part = getattr(profile, section)
    problems = []
    if part.entity_set != info.entity_set:
        problems.append(
            SchemaProblem(
                f"{base}.entity_set",
                f"table {info.logical_name!r} has entity set {info.entity_set!r}, not {part.entity_set!r}",
            )
        )
    if part.id_column != info.id_column:
        problems.append(
            SchemaProblem(
                f"{base}.id_column",
                f"table {info.logical_name!r} has primary id {info.id_column!r}, not {part.id_column!r}",
            )
        )
    for col in columns_of(section):
        problems += _column(f"{base}.columns.{col.role}", info, part.columns[col.role], col.types)
    return problems


def _column(path: str, info: TableInfo, name: str, expected: tuple[str, ...]) -> list[SchemaProblem]:
    attribute = info.attributes.get(name)
    if attribute is None:
        return [SchemaProblem(path, f"table {info.logical_name!r} has no column {name!r}")]
    if attribute.attribute_type not in expected:
        return [
            SchemaProblem(
                path,
                f"column {info.logical_name}.{name} is {attribute.attribute_type}, not {' or '.join(expected)}",
            )
        ]
    return []


async def _instance_values(
    reader: MetadataReader, profile: SolutionProfile, info: TableInfo
) -> list[SchemaProblem]:
    column = profile.integration.columns["instance"]
    if info.attributes.get(column) is None or info.attributes[column].attribute_type != "Picklist":
        return []  # already reported
    options = await reader.options(info.logical_name, column)
    return [
        SchemaProblem(
            f"profile.integration.instance_values.{name}",
            f"column {info.logical_name}.{column} has no option value {value} "
            f"(it has: {', '.join(str(v) for v in sorted(options)) or 'none'})",
        )
        for name, value in profile.integration.instance_values.items()
        if value not in options
    ]


async def _user_lookup(
    reader: MetadataReader, profile: SolutionProfile, info: TableInfo
) -> list[SchemaProblem]:
    path = "profile.technician_settings.user_lookup"
    return await _lookup(reader, info, path, profile.technician_settings.user_lookup, "systemuser")


async def _lookup(
    reader: MetadataReader, info: TableInfo, path: str, column: str, target: str
) -> list[SchemaProblem]:
    problems = _column(path, info, column, ("Lookup",))
    if problems:
        return problems
    targets = await reader.lookup_targets(info.logical_name, column)
    if target not in targets:
        return [
            SchemaProblem(
                path,
                f"lookup {info.logical_name}.{column} points at {', '.join(targets) or 'nothing'}, "
                f"not {target}",
            )
        ]
    return []


def _session_key(profile: SolutionProfile, info: TableInfo) -> list[SchemaProblem]:
    sess = profile.session
    key = next((k for k in info.keys if k.logical_name == sess.key_logical_name), None)
    if key is None:
        have = ", ".join(k.logical_name for k in info.keys) or "none"
        return [
            SchemaProblem(
                "profile.session.key_logical_name",
                f"table {info.logical_name!r} has no alternate key {sess.key_logical_name!r} (it has: {have})",
            )
        ]
    if tuple(key.columns) != tuple(sess.key_columns):
        return [
            SchemaProblem(
                "profile.session.key_columns",
                f"key {key.logical_name!r} is on ({', '.join(key.columns)}), not ({', '.join(sess.key_columns)})",
            )
        ]
    return []


def schema_message(tenant: str, problems: list[SchemaProblem]) -> str:
    """The message plan, apply and doctor show for a profile the org does not match."""
    lines = [f"the org's metadata does not match the solution profile ({len(problems)} problem(s)):"]
    lines += [f"  - {p}" for p in problems]
    lines.append("  fix: " + FIX.format(tenant=tenant) + "; `reconcile doctor` checks the whole setup")
    return "\n".join(lines)
