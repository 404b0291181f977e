"""LogMeIn Session rows created in a window: their Session Key and when each arrived.

One paged listing (``Prefer: odata.maxpagesize``) with only the key column and ``createdon``,
filtered on the window, so the cost is O(pages) whatever the table's size.
"""

from __future__ import annotations

import datetime as dt

from reconciler.errors import ProtocolError
from reconciler.profile import SolutionProfile
from reconciler.providers.dynamics.client import DataverseClient


def _utc(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(value: object, where: str) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise ProtocolError(
            f"{where}: unreadable createdon {str(value)[:40]!r}", service="dataverse"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


async def delivered_sessions(
    client: DataverseClient, profile: SolutionProfile, since: dt.datetime
) -> dict[str, dt.datetime]:
    """Session Key value -> createdon, for every LogMeIn Session row created since ``since``."""
    session = profile.session
    key_column = session.key_columns[0]
    rows = await client.list_all(
        session.entity_set, select=[key_column, "createdon"], filter=f"createdon ge {_utc(since)}"
    )
    where = f"GET {session.entity_set}"
    return {str(r[key_column]): _parse(r.get("createdon"), where) for r in rows if r.get(key_column)}
