"""Pure mapping between Dataverse values and resource fields, shared by the kind modules
(``solution.py``, ``integration.py``, ``settings.py``, ``application_user.py``, ``session_key.py``).

A solution column is mapped by its line in the column table (``profile/columns.py``): its
value form says how a read value is normalised, so a new column needs no code here. Every
logical name comes from the solution profile.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.profile import SolutionProfile
from reconciler.profile.columns import Column, columns_of
from reconciler.resources import SecretHasher


def etag(row: Mapping[str, Any]) -> str:
    return str(row.get("@odata.etag") or "")


def url(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    text_ = value.strip().rstrip("/")
    scheme, sep, rest = text_.partition("://")
    if not sep:
        return text_
    host, slash, path = rest.partition("/")
    return f"{scheme.lower()}://{host.lower()}{slash}{path}"


def guid(value: Any) -> str | None:
    return value.strip().strip("{}").lower() if isinstance(value, str) and value.strip() else None


def text(value: Any) -> str | None:
    if value is None:
        return None
    stripped = str(value).strip()
    return stripped or None


def mapped_columns(section: str) -> tuple[Column, ...]:
    """The section's columns a resource carries (runtime and health-only ones are not)."""
    return tuple(c for c in columns_of(section) if c.mapped)


def choices(profile: SolutionProfile, section: str, col: Column) -> dict[str, int]:
    """A choice column's option values by name: ``<role>_values`` beside its table's columns."""
    values = getattr(getattr(profile, section), f"{col.role}_values")
    assert isinstance(values, dict)
    return values


def read_values(
    row: Mapping[str, Any], profile: SolutionProfile, section: str, hasher: SecretHasher | None = None
) -> dict[str, Any]:
    """The section's mapped columns of ``row`` as resource fields, normalised by value form; a
    secret only as a keyed digest (``hasher``)."""
    names = getattr(profile, section).columns
    values: dict[str, Any] = {}
    for col in mapped_columns(section):
        raw = row.get(names[col.role])
        if col.value == "choice":
            by_value = {v: k for k, v in choices(profile, section, col).items()}
            values[col.role] = by_value.get(raw) if isinstance(raw, int) else text(raw)
        elif col.value == "secret":
            assert hasher is not None, "a secret column is read only with a hasher"
            values[col.role] = hasher.sensitive(text(raw))
        elif col.value == "boolean":
            values[col.role] = bool(raw) if raw is not None else None
        elif col.value == "url":
            values[col.role] = url(raw)
        elif col.value == "guid":
            values[col.role] = guid(raw)
        else:
            values[col.role] = text(raw)
    return values


def write_values(
    fields: Mapping[str, Any],
    profile: SolutionProfile,
    section: str,
    *,
    secrets: Mapping[str, str | None] | None = None,
) -> dict[str, Any]:
    """Columns to write for the given resource fields (None or absent = leave alone).

    Secret columns take their value from ``secrets`` (role -> the resolved secret), so a
    secret never sits in a resource; a choice is written as its option value.
    """
    names = getattr(profile, section).columns
    row: dict[str, Any] = {}
    for col in mapped_columns(section):
        value = (secrets or {}).get(col.role) if col.value == "secret" else fields.get(col.role)
        if value is None:
            continue
        if col.value == "choice":
            value = choices(profile, section, col)[str(value)]
        row[names[col.role]] = value
    return row
