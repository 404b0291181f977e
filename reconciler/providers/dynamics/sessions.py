"""LogMeIn Session rows created in a window: their Session Key, technician, times, arrival.

One paged listing (``Prefer: odata.maxpagesize``) with only the columns health needs (key,
technician ID, start, end, ``createdon``), filtered on the window, so the cost is O(pages)
whatever the table's size.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from reconciler.errors import ProtocolError
from reconciler.plan.health import DynamicsSession
from reconciler.profile import SolutionProfile
from reconciler.providers.dynamics.client import DataverseClient


def _utc(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(value: object, where: str, column: str) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise ProtocolError(
            f"{where}: unreadable {column} {str(value)[:40]!r}", service="dataverse"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _optional_time(row: Mapping[str, Any], column: str, where: str) -> dt.datetime | None:
    value = row.get(column)
    return None if value in (None, "") else _parse(value, where, column)


def _text(value: object) -> str | None:
    return str(value) if value not in (None, "") else None


async def delivered_sessions(
    client: DataverseClient, profile: SolutionProfile, since: dt.datetime
) -> tuple[DynamicsSession, ...]:
    """Every LogMeIn Session row created since ``since``."""
    session = profile.session
    key_column = session.key_columns[0]
    columns = session.columns
    rows = await client.list_all(
        session.entity_set,
        select=[
            key_column,
            columns["technician_id"],
            columns["start_time"],
            columns["end_time"],
            "createdon",
        ],
        filter=f"createdon ge {_utc(since)}",
    )
    where = f"GET {session.entity_set}"
    return tuple(
        DynamicsSession(
            key=_text(r.get(key_column)),
            technician_id=_text(r.get(columns["technician_id"])),
            start=_optional_time(r, columns["start_time"], where),
            end=_optional_time(r, columns["end_time"], where),
            created=_parse(r.get("createdon"), where, "createdon"),
        )
        for r in rows
    )
