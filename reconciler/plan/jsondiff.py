"""Where two JSON values differ: one line per differing leaf, its path first (pure).

Used to say what a saved plan file holds that reconcile would not write (``reader.py``) and
what a saved plan holds that the tenant files do not give (``engine/saved_plan.py``). Values
are shown escaped and cut, as everything this tool prints.
"""

from __future__ import annotations

import json
from typing import Any

from reconciler.errors import printable

_SHOWN_CHARS = 80


def json_differences(have: Any, want: Any, where: str, have_label: str, want_label: str) -> list[str]:
    """``path: {have_label} X, {want_label} Y`` for every place ``have`` differs from ``want``.

    ``1`` and ``1.0`` are equal (JSON does not tell them apart); ``true`` and ``1`` are not."""
    if isinstance(have, dict) and isinstance(want, dict):
        out: list[str] = []
        for key in sorted(set(have) | set(want), key=str):
            at = f"{where}.{key}" if where else str(key)
            out += json_differences(
                have.get(key, _ABSENT), want.get(key, _ABSENT), at, have_label, want_label
            )
        return out
    if isinstance(have, list) and isinstance(want, list) and len(have) == len(want):
        return [
            line
            for n, (a, b) in enumerate(zip(have, want, strict=True))
            for line in json_differences(a, b, f"{where}[{n}]", have_label, want_label)
        ]
    if _same(have, want):
        return []
    return [f"{printable(where or '(top level)')}: {have_label} {shown(have)}, {want_label} {shown(want)}"]


class _Absent:
    def __repr__(self) -> str:
        return "(absent)"


_ABSENT = _Absent()


def _same(a: Any, b: Any) -> bool:
    if type(a) is type(b):
        return bool(a == b)
    numbers = (int, float)
    return (
        isinstance(a, numbers)
        and isinstance(b, numbers)
        and not isinstance(a, bool)
        and not isinstance(b, bool)
        and a == b
    )


def shown(value: Any) -> str:
    """A JSON value as one escaped line, cut after 80 characters."""
    if value is _ABSENT:
        return "nothing"
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    if len(text) > _SHOWN_CHARS:
        text = f"{text[:_SHOWN_CHARS]}…(+{len(text) - _SHOWN_CHARS} chars)"
    return printable(text)
