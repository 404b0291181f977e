"""Pydantic validation errors rewritten as located, plain-words ``Problem``s.

An admin reads ``tenants/x/tenant.yaml:12:5: integration.options.close_tiket_on_session_end:
unknown key ...; did you mean ...?`` and knows what to fix; pydantic's own text ("Extra inputs
are not permitted", a documentation URL) does not say that. Each error's ``loc`` is mapped back
to the YAML position of the value (or of the key, for unknown and missing keys), messages say
what is expected, and the validators' own messages are kept as they are.
"""

from __future__ import annotations

import datetime as dt
import difflib
import types
from collections.abc import Iterable, Sequence
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import ErrorDetails

from reconciler.config.text import TRIMMED_PATTERN, excerpt
from reconciler.config.yamlpos import SourceMap, YamlPath
from reconciler.errors import Problem

_MAX_LISTED = 12


def dotted(path: Sequence[str | int]) -> str:
    """``("technicians", 2, "user")`` -> ``technicians.2.user``."""
    return ".".join(str(p) for p in path)


def describe(value: Any) -> str:
    """A short description of a value for "got ..." (text is quoted and cut to a sane length)."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, str):
        return excerpt(value)
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return f"a {type(value).__name__}"


def _unwrap(annotation: Any) -> Any:
    """Strip Annotated / Optional; a union prefers its model or container member."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
            continue
        if origin is Union or origin is types.UnionType:
            members = [a for a in get_args(annotation) if a is not type(None)]
            structured = [m for m in members if _is_model(m) or get_origin(m) in (list, dict)]
            annotation = (structured or members or [None])[0]
            continue
        return annotation


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def annotation_at(root: type[BaseModel], path: YamlPath) -> Any:
    """The type annotation that validates the value at ``path`` (None when no field is there)."""
    current: Any = root
    for part in path:
        current = _unwrap(current)
        if isinstance(part, str) and _is_model(current):
            field = current.model_fields.get(part)
            if field is None:
                return None
            # Pydantic moves a field's own Annotated metadata into `field.metadata`: put it back.
            current = Annotated[(field.annotation, *field.metadata)] if field.metadata else field.annotation
        elif get_origin(current) is list and isinstance(part, int):
            current = get_args(current)[0]
        elif get_origin(current) is dict:
            current = get_args(current)[1]
        else:
            return None
    return current


def unwrap(annotation: Any) -> Any:
    """``annotation`` without Annotated / Optional (a union prefers its model or container member)."""
    return _unwrap(annotation)


def model_at(root: type[BaseModel], path: YamlPath) -> type[BaseModel] | None:
    """The model class that validates the mapping at ``path`` (None when it is not a model)."""
    current = _unwrap(annotation_at(root, path))
    return current if _is_model(current) else None


def _unknown_key(root: type[BaseModel], loc: YamlPath) -> str:
    key = str(loc[-1])
    parent = model_at(root, loc[:-1])
    if parent is None:
        return f"unknown key {excerpt(key)}"
    names = list(parent.model_fields)
    close = difflib.get_close_matches(key, names, n=1, cutoff=0.6)
    if close:
        return f"unknown key {excerpt(key)}; did you mean {excerpt(close[0])}?"
    listed = ", ".join(names[:_MAX_LISTED]) + (", ..." if len(names) > _MAX_LISTED else "")
    return f"unknown key {excerpt(key)}; expected one of: {listed}"


def _expected(err: ErrorDetails) -> str:
    kind = err["type"]
    value = err.get("input")
    got = describe(value)
    msg = err["msg"]
    if kind in ("value_error", "assertion_error"):
        text = msg.split(", ", 1)[1] if msg.startswith(("Value error, ", "Assertion failed, ")) else msg
        return f"the value {text}" if text.startswith("is ") else text
    if kind in ("bool_parsing", "bool_type"):
        return f"expected true or false, got {got}"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return f"expected a whole number, got {got}"
    if kind in ("float_parsing", "float_type"):
        return f"expected a number, got {got}"
    if kind == "string_type":
        if isinstance(value, int | float) and not isinstance(value, bool):
            return f'expected text, got the number {got}; put it in quotes, e.g. "{got}"'
        return f"expected text, got {got}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"expected a mapping of keys, got {got}"
    if kind == "list_type":
        return f"expected a list, got {got}"
    if kind == "literal_error":
        return f"expected {err.get('ctx', {}).get('expected', 'one of the allowed values')}, got {got}"
    if kind.startswith(("date_", "datetime_")):
        return f"expected a date YYYY-MM-DD, got {got}"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "string_pattern_mismatch":
        if err.get("ctx", {}).get("pattern") == TRIMMED_PATTERN:
            return f"the value {got} starts or ends with white space; remove it"
        return f"the value {got} does not have the expected form ({err.get('ctx', {}).get('pattern')})"
    if kind == "string_too_long" or (kind == "too_long" and isinstance(value, str)):
        # `too_long`: a length limit on an optional value is checked after its validators
        limit = err.get("ctx", {}).get("max_length")
        size = len(value) if isinstance(value, str) else 0
        return f"is {size:,} characters long; at most {limit} are allowed (what the service stores)"
    if msg.startswith("Input should be "):
        rest = msg[len("Input should be ") :]
        article = "" if rest.startswith(("a ", "an ", "'")) else "a value "
        return f"expected {article}{rest}, got {got}"
    return msg


def _structured(value: Any) -> bool:
    return isinstance(value, dict | list)


def validation_problems(
    errors: Iterable[ErrorDetails], root: type[BaseModel], positions: SourceMap, *, prefix: YamlPath = ()
) -> list[Problem]:
    """Each pydantic error of validating ``root`` as a located Problem.

    ``prefix`` is where ``root``'s data sits in the file (e.g. ``("profile",)``).
    """
    problems: list[Problem] = []
    for err in errors:
        loc: YamlPath = tuple(err["loc"])
        full = (*prefix, *loc)
        kind = err["type"]
        if kind == "extra_forbidden":
            problems.append(Problem(positions.locate(full, key=True), dotted(full), _unknown_key(root, loc)))
        elif kind == "missing" and loc:
            where = positions.locate(full[:-1], key=True)
            problems.append(Problem(where, dotted(full), f"missing required key {excerpt(str(loc[-1]))}"))
        else:
            where = positions.locate(full, key=_structured(err.get("input")))
            problems.append(Problem(where, dotted(full), _expected(err)))
    return problems


__all__ = ["annotation_at", "describe", "dotted", "model_at", "unwrap", "validation_problems"]
