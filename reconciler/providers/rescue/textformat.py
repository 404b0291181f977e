"""The Rescue API's plain-text replies: a status token, then blocks of ``KEY:value`` lines.

Pure (no I/O). ``OK\\n\\nAUTHCODE:x``: the first line's first token is the status; after it come
blocks separated by blank lines, one per node for ``getHierarchy_v2``. Keys are compared without
case (normalised to upper case here); values may contain ':' (split on the first one) and the
docs print both ``KEY:value`` and ``KEY: value``. A few methods answer a bare value instead
(``createGroup``: "OK [new group nodeid]"), kept in ``values``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from reconciler.errors import ProtocolError

_STATUS = re.compile(r"^[A-Z][A-Z0-9_]*$")


@dataclass(frozen=True)
class RescueResponse:
    """A parsed reply: ``status`` token, ``blocks`` of fields, and bare ``values`` (lines without ':')."""

    status: str
    blocks: list[dict[str, str]] = field(default_factory=list)
    values: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == "OK"


def parse_response(text: str) -> RescueResponse:
    """Parse a reply body. Raises ``ProtocolError`` when there is no status token or a block repeats a key.

    A repeated key in one block means two records ran together (a missing blank line): reading
    that as one record would silently mix two nodes, so it is refused instead.
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    if not lines:
        raise ProtocolError("empty reply (no status token)", service="rescue")
    first = lines[0].strip().split(None, 1)
    status = first[0].upper()
    if not _STATUS.match(status):
        raise ProtocolError(f"reply does not start with a status token ({status[:40]!r})", service="rescue")
    values: list[str] = [first[1].strip()] if len(first) > 1 else []
    blocks: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for raw in lines[1:]:
        line = raw.strip()
        if not line:
            if current:
                blocks.append(current)
                current = {}
            continue
        key, sep, value = line.partition(":")
        key = key.rstrip()
        if not sep or not key or " " in key:
            values.append(line)
            continue
        name = key.upper()
        if name in current:
            raise ProtocolError(
                f"reply block repeats the key {name} (records run together)", service="rescue"
            )
        current[name] = value.strip()
    if current:
        blocks.append(current)
    return RescueResponse(status, blocks, values)
