"""Type checks and normalisation of column values, as Dataverse applies them on every write.

GUIDs are stored lowercase, date-times as UTC ``YYYY-MM-DDTHH:MM:SSZ`` (the Web API's format),
option-set values must be one of the column's options, strings respect their maximum length.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

from rescue_sandbox.dataverse import errors
from rescue_sandbox.dataverse.schema import Column, TableDef

_CANONICAL = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_last_time: tuple[int, str] = (-1, "")


def normalize_guid(value: str) -> str | None:
    """The canonical lowercase form of a GUID, or None when ``value`` is not one."""
    if isinstance(value, str) and _CANONICAL.match(value):
        return value
    try:
        return str(uuid.UUID(value.strip("{}")))
    except (ValueError, AttributeError):
        return None


def format_time(ts: float) -> str:
    global _last_time
    second = int(ts)
    cached = _last_time
    if cached[0] != second:
        cached = (second, datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
        _last_time = cached
    return cached[1]


def parse_datetime(text: str) -> str | None:
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _convert_error(table: TableDef, column: Column, value: Any) -> errors.DataverseError:
    return errors.payload_error(
        table.entity_set,
        f"Cannot convert the literal '{value}' to the expected type '{column.edm}' "
        f"for the property '{column.prop}'.",
    )


def coerce(table: TableDef, column: Column, value: Any) -> Any:
    """The stored form of ``value`` for ``column``; raises a Dataverse error when it does not fit."""
    if value is None:
        return None
    kind = column.type
    if kind in ("String", "Memo"):
        if not isinstance(value, str):
            raise _convert_error(table, column, value)
        if column.max_length is not None and len(value) > column.max_length:
            raise errors.validation_error(
                f"The length of the '{column.name}' attribute of the '{table.logical_name}' entity "
                f"exceeded the maximum allowed length of '{column.max_length}'."
            )
        return value
    if kind in ("Uniqueidentifier", "Lookup"):
        guid = normalize_guid(value) if isinstance(value, str) else None
        if guid is None:
            raise _convert_error(table, column, value)
        return guid
    if kind == "Boolean":
        if not isinstance(value, bool):
            raise _convert_error(table, column, value)
        return value
    if kind == "Decimal":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _convert_error(table, column, value)
        return value
    if kind == "DateTime":
        parsed = parse_datetime(value) if isinstance(value, str) else None
        if parsed is None:
            raise _convert_error(table, column, value)
        return parsed
    # Integer, BigInt, Picklist, State, Status
    if isinstance(value, bool) or not isinstance(value, int):
        raise _convert_error(table, column, value)
    if column.options is not None and value not in column.options:
        accepted = ",".join(str(v) for v in column.options)
        raise errors.DataverseError(
            400,
            errors.OUT_OF_RANGE,
            f"A validation error occurred.  The value {value} of '{column.name}' on record of type "
            f"'{table.logical_name}' is outside the valid range. Accepted Values: {accepted}",
        )
    return value
