"""Unknown keys in a seed are errors, named with a did-you-mean: a key nobody reads (a misplaced
`solution_schema:`) would change nothing and say nothing. One wording for every section."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rescue_sandbox.errors import InputError


def unknown_key(path: str, key: object, allowed: Sequence[str]) -> str:
    """``path: unknown key 'x'; did you mean 'y'?`` (or the allowed keys when none is close)."""
    close = difflib.get_close_matches(str(key), allowed, n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"allowed: {', '.join(allowed)}"
    return f"{path}: unknown key {str(key)!r}; {hint}"


def unknown_keys(raw: Mapping[str, Any], known: Iterable[str], where: str) -> None:
    """InputError naming every key of ``raw`` the format does not know, each with its hint."""
    allowed = tuple(known)
    problems = [unknown_key(where, key, allowed) for key in raw if key not in allowed]
    if problems:
        raise InputError("; ".join(problems))
