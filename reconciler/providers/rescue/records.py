"""``getHierarchy_v2`` replies read record by record, so one odd record never spoils the rest.

Pure (no I/O). Rescue frames a reply as the status token, a blank line, then one block of
``Key:value`` lines per node, each followed by a blank line, and it does not escape values
(docs/sandbox.md, "Rescue value framing"). A node's name or description holding a line break
therefore spills into extra lines (or, with a blank line, into an extra block), and one holding
``Key:value`` text looks like more fields. The hierarchy's fields come in a fixed order, so a
record is read by position: exactly these seven lines, each with its expected key. A ``:`` inside
a value is fine (the key ends at the first one). Anything else is an odd record: it is set aside
with the node ID of its first line when that line reads ``NodeID:<digits>`` (else its position),
and the caller treats that node as unknown instead of failing the whole tenant.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from reconciler.providers.rescue.textformat import RescueResponse, parse_response

HIERARCHY_FIELDS = ("NODEID", "PARENTID", "NAME", "EMAIL", "DESCRIPTION", "STATUS", "TYPE")
_RECORD_START = re.compile(r"^\s*nodeid\s*:\s*(\d+)\s*$", re.IGNORECASE)
_DIGITS = re.compile(r"^\d+$")


@dataclass(frozen=True)
class OddRecord:
    """A hierarchy record that could not be read field by field."""

    position: int  # 1-based, in reply order
    node_id: str | None
    reason: str

    @property
    def label(self) -> str:
        return f"Rescue node {self.node_id}" if self.node_id else f"Rescue hierarchy record #{self.position}"


@dataclass(frozen=True)
class HierarchyResponse(RescueResponse):
    """``blocks`` holds the records read whole; ``odd`` the ones set aside."""

    odd: list[OddRecord] = field(default_factory=list)


def parse_hierarchy(text: str) -> HierarchyResponse:
    """Parse a ``getHierarchy_v2`` reply; only a missing status token raises ``ProtocolError``."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    head = parse_response(lines[0] if lines else "")  # the status token (and nothing else)
    records: list[list[str]] = []
    for chunk in _chunks(lines[1:]):
        if _RECORD_START.match(chunk[0]) or not records:
            records.append(chunk)
        else:
            records[-1] += ["", *chunk]  # a value's blank line split one record in two
    blocks: list[dict[str, str]] = []
    odd: list[OddRecord] = []
    for position, record in enumerate(records, start=1):
        fields, reason = _read(record)
        if fields is not None:
            blocks.append(fields)
            continue
        start = _RECORD_START.match(record[0])
        odd.append(OddRecord(position, start.group(1) if start else None, reason))
    return HierarchyResponse(head.status, blocks, head.values, odd)


def _chunks(lines: list[str]) -> list[list[str]]:
    """Runs of non-blank lines."""
    chunks: list[list[str]] = [[]]
    for line in lines:
        if line.strip():
            chunks[-1].append(line)
        elif chunks[-1]:
            chunks.append([])
    return [c for c in chunks if c]


def _read(record: list[str]) -> tuple[dict[str, str] | None, str]:
    if len(record) != len(HIERARCHY_FIELDS):
        return None, (
            f"{len(record)} lines where a node has {len(HIERARCHY_FIELDS)} "
            "(a name or description holds a line break?)"
        )
    fields: dict[str, str] = {}
    for expected, line in zip(HIERARCHY_FIELDS, record, strict=True):
        key, sep, value = line.partition(":")
        if not sep or key.strip().upper() != expected:
            return None, f"expected the field {expected} where the reply has {line.strip()[:40]!r}"
        fields[expected] = value.strip()
    if not _DIGITS.match(fields["NODEID"]):
        return None, f"NodeID is not a number ({fields['NODEID'][:20]!r})"
    return fields, ""
