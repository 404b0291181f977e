"""YAML text for exported tenant files: one scalar at a time, quoted only where YAML needs it."""

from __future__ import annotations

import json
import re
from typing import Any

# Plain scalars YAML 1.1 would read as booleans or null.
_RESERVED = frozenset({"true", "false", "null", "yes", "no", "on", "off"})


def scalar(value: Any) -> str:
    """One YAML scalar (JSON is valid YAML and quotes exactly what needs quoting)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if (
        isinstance(value, str)
        and re.fullmatch(r"[A-Za-z][A-Za-z0-9 ._@/:-]*", value)
        and value not in _RESERVED
        and ": " not in value
        and not value.endswith(":")
    ):
        return value
    return json.dumps(value)
