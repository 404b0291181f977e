"""Checks of every value as written, before the models see it: safe text, and YAML 1.1 surprises.

Three mistakes pass a type check and do harm later. A string holding a control or bidi character
(a newline from a `"...\\n..."` escape, U+202E) is applied but never converges, and rewrites the
terminal or the review page that shows it: every string, at any depth, must be printable text,
with no zero-width or tag character and in Unicode NFC form (else two values that look the same
differ, and a second, identical-looking group is planned).
And YAML 1.1 reads some unquoted words as something else: `0123` is the octal number 83, `1:20`
the sexagesimal 80, `1e3` a float, `no` / `on` a bool, `2024-01-01` a date. Where a field
expects text, such a value is refused with "quote it" and its source text; a digits-only field
(`company_id`, `technician_id`) keeps the digits as written, never the converted number.

Pure: the loader passes the merged data and its source map, and gets the data to validate
(digits restored) and the problems.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterator
from typing import Annotated, Any, get_args, get_origin

from pydantic import BaseModel

from reconciler.config.models import Tenant
from reconciler.config.problems import annotation_at, describe, dotted, unwrap
from reconciler.config.text import excerpt, unsafe_character
from reconciler.config.types import Digits
from reconciler.config.yamlpos import SourceMap, YamlPath
from reconciler.errors import Problem
from reconciler.profile import SolutionProfile

_DIGITS_ONLY = re.compile(r"^[0-9]+$")


def _strings(value: Any, path: YamlPath) -> Iterator[tuple[YamlPath, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, (*path, index))


def _annotation(path: YamlPath) -> Any:
    root: type[BaseModel] = Tenant
    if path[:1] == ("profile",):  # overrides are validated against the profile's own model
        root, path = SolutionProfile, path[1:]
    return annotation_at(root, path)


_DIGITS_MARK = get_args(Digits)[1]  # the validator object every use of `Digits` shares


def _is_digits(annotation: Any) -> bool:
    if get_origin(annotation) is Annotated and any(m is _DIGITS_MARK for m in get_args(annotation)[1:]):
        return True
    return any(_is_digits(arg) for arg in get_args(annotation))


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "the bool"
    if isinstance(value, int | float):
        return "the number"
    return "the date" if isinstance(value, dt.date) else "the value"


def _replaced(data: Any, path: YamlPath, value: Any) -> Any:
    """``data`` with the value at ``path`` replaced, copying only the containers on the way."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    copy: Any = dict(data) if isinstance(data, dict) else list(data)
    copy[head] = _replaced(data[head], rest, value)
    return copy


def _get(data: Any, path: YamlPath) -> Any:
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def value_problems(data: dict[str, Any], positions: SourceMap) -> tuple[dict[str, Any], list[Problem]]:
    """The data to validate (digits kept as written) and every unsafe or surprising value."""
    problems: list[Problem] = []
    for path, text in _strings(data, ()):
        found = unsafe_character(text)
        if found is not None:
            index, name = found
            problems.append(
                Problem(
                    positions.locate(path),
                    dotted(path),
                    f"the value {excerpt(text)} holds the control, bidi or invisible character {name} "
                    f"at position {index + 1}; only printable text is allowed (no newline, tab, "
                    "control, direction or zero-width characters)",
                )
            )
        elif not unicodedata.is_normalized("NFC", text):
            # `Café` with a combining accent looks like `Café` but is another name: a second,
            # identical-looking group would be planned.
            problems.append(
                Problem(
                    positions.locate(path),
                    dotted(path),
                    f"the value {excerpt(text)} is not in Unicode NFC form (a letter and a combining "
                    "accent where one precomposed letter belongs); write it in NFC form",
                )
            )
    for path, source in sorted(positions.plain.items(), key=lambda item: dotted(item[0])):
        value = _get(data, path)
        if value is None or isinstance(value, str | dict | list):
            continue  # overridden by another file, or already text
        annotation = _annotation(path)
        if unwrap(annotation) is not str:
            continue
        data = _replaced(data, path, source)
        if _is_digits(annotation) and _DIGITS_ONLY.match(source):
            continue  # `company_id: 0123` is the text "0123", not the octal number 83
        problems.append(
            Problem(
                positions.locate(path),
                dotted(path),
                f"YAML reads the unquoted {excerpt(source)} as {_kind(value)} {describe(value)}, not as "
                "text; quote it to keep it as written",
            )
        )
    return data, problems


__all__ = ["value_problems"]
