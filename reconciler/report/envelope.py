"""The result file of ``--out`` on drift, apply, doctor and manual: the command's own JSON with
what `reconcile report` needs to place it in time (docs/report-format.md, "Result files").

``plan --out`` keeps writing a bare saved plan (``apply --plan`` reads it) and ``health --out``
its bare health JSON: the report reads both as they are.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from reconciler import __version__

RESULT_FORMAT_VERSION = 1
RESULT_KIND = "reconcile-result"
# The commands whose ``--out`` writes an envelope (what the reader accepts in ``command``).
ENVELOPE_COMMANDS = ("drift", "apply", "doctor", "manual")


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def envelope(
    command: str, started_at: str, finished_at: str, tenants: Sequence[str], result: Any
) -> dict[str, Any]:
    """``result`` (the command's ``--format json`` document, parsed) in its envelope."""
    if command not in ENVELOPE_COMMANDS:
        raise ValueError(f"no result envelope for {command!r}")
    return {
        "result_format": RESULT_FORMAT_VERSION,
        "kind": RESULT_KIND,
        "command": command,
        "tool_version": __version__,
        "started_at": started_at,
        "finished_at": finished_at,
        "tenants": sorted(set(tenants)),
        "result": result,
    }
