"""The one reader of saved plan files (``plan --out``): every command that reads a plan reads it
here (``apply --plan``, ``manual --from-plan``, the ``gitops`` helpers).

A plan file comes from an artifact, a pull request or a shared folder: it is read as hostile
input. Before anything is sent to any service, the file must be a regular file (a FIFO would
hang the reader, ``/dev/zero`` would fill the memory) of at most ``MAX_PLAN_BYTES``, UTF-8,
JSON nested at most ``MAX_DEPTH`` deep (counted before parsing, so 100,000 ``[`` is one line,
not a ``RecursionError``), without NaN, infinity or a repeated key, and of the plan schema
(``file_schema.py``). Each failure is one line, exit 1 (``PlanFileError``).

A well-formed file must also be what ``reconcile plan`` writes for its own content: a change's
``id``, a resource's ``key``, the counts and rail verdicts are derived, so an edit of one of
them is a file that contradicts itself: refused, exit 4 (``PlanMismatchError``). Whether the
plan is still what the tenant files give is ``apply --plan``'s check (engine/saved_plan.py).

This module reads a local file: the one place of the plan layer that does I/O, so that no
command can read a plan file any other way.
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
from functools import partial
from itertools import accumulate
from pathlib import Path
from typing import Any

from reconciler.errors import PlanFileError, PlanMismatchError, printable
from reconciler.plan.jsondiff import json_differences
from reconciler.plan.model import FORMAT_VERSION, Plan
from reconciler.plan.serialize import decode_plan_data, encode_plan
from reconciler.regularfile import FileTooLarge, NotRegularFile, describe, read_regular_file

# A 1,000-technician tenant's first plan is about 2 MB: 256 MiB is a fleet of a hundred such
# tenants in one file. Larger runs save one plan per shard or tenant (docs/plan-format.md).
MAX_PLAN_BYTES = 256 * 1024 * 1024
# A plan nests 9 deep at most (tenants, changes, a resource, its fields, an export setting).
MAX_DEPTH = 32

# A JSON string (its escapes included): what the depth count skips, as brackets in text do not nest.
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


def read_plan_file(path: Path) -> Plan:
    """The plan saved in ``path``; ``PlanFileError`` (exit 1) when it is not a readable plan file,
    ``PlanMismatchError`` (exit 4) when it contradicts itself."""
    name = str(path)
    data = parse_plan_text(_read_bytes(path), name)
    return decode_plan(data, name)


def read_json_file(path: Path, what: str) -> Any:
    """The JSON of another file a command reads beside a plan (``what``: "an issues file"), held
    to the same guards as a plan file: regular file, size cap, depth cap, no NaN or repeated
    key; else ``PlanFileError`` (one line, exit 1). An empty file is None."""
    raw = _read_bytes(path, what=what)
    return parse_plan_text(raw, str(path), what=what) if raw.strip() else None


def decode_plan(data: Any, name: str = "plan file") -> Plan:
    """The plan ``data`` (parsed JSON) holds, checked as ``read_plan_file`` checks a file's."""
    if not isinstance(data, dict) or "format_version" not in data:
        raise PlanFileError(name, ["not a reconcile plan (no format_version)"])
    version = data["format_version"]
    if type(version) is not int or version != FORMAT_VERSION:
        shown = printable(json.dumps(version, ensure_ascii=False)[:40])
        raise PlanFileError(name, [f"format_version {shown} is not supported (expected {FORMAT_VERSION})"])
    # Here, not at the top: the schema's models cost a fifth of a second to build, which commands
    # that never read a plan (`changed-tenants`, `validate`) should not pay.
    from reconciler.plan.file_schema import schema_problems

    problems = schema_problems(data)
    if problems:
        raise PlanFileError(name, problems)
    duplicates = _duplicates(data)
    if duplicates:
        raise PlanFileError(name, duplicates)
    plan = decode_plan_data(data)
    canonical = json.loads(json.dumps(encode_plan(plan), default=str))
    contradictions = json_differences(data, canonical, "", "the file has", "its content gives")
    if contradictions:
        raise PlanMismatchError(
            f"{printable(name)} contradicts itself (it is not what reconcile plan writes; "
            "nothing was written):\n  " + "\n  ".join(contradictions)
        )
    return plan


def _read_bytes(path: Path, *, what: str = "a plan file") -> bytes:
    name = str(path)
    try:
        before = os.stat(path)
    except FileNotFoundError:
        raise PlanFileError(name, ["does not exist"]) from None
    except OSError as exc:
        raise PlanFileError(name, [f"cannot be read: {exc.strerror or exc}"]) from None
    _check_regular(before, name, what=what)
    # Checked again on the open handle (regularfile.py): a FIFO swapped in since is never waited on.
    try:
        return read_regular_file(path, MAX_PLAN_BYTES)
    except NotRegularFile as exc:
        raise PlanFileError(name, [_not_regular(exc.mode, what)]) from None
    except FileTooLarge as exc:
        raise PlanFileError(name, [_too_large(exc.size, what)]) from None
    except OSError as exc:
        raise PlanFileError(name, [f"cannot be read: {exc.strerror or exc}"]) from None


def _check_regular(info: os.stat_result, name: str, *, what: str = "a plan file") -> None:
    """Before opening: a FIFO or device is named without being opened at all."""
    if not stat.S_ISREG(info.st_mode):
        raise PlanFileError(name, [_not_regular(info.st_mode, what)])
    if info.st_size > MAX_PLAN_BYTES:
        raise PlanFileError(name, [_too_large(info.st_size, what)])


def _not_regular(mode: int, what: str) -> str:
    if stat.S_ISDIR(mode):
        return f"is a folder, not {what}"
    return f"is {describe(mode)}, not a regular file: {what} is read only from a regular file"


def _too_large(size: int | None, what: str) -> str:
    amount = f"{size:,} bytes" if size is not None else f"more than {MAX_PLAN_BYTES:,} bytes"
    hint = ": save one plan per shard or tenant" if what == "a plan file" else ""
    return f"is larger than {what} may be ({amount}; at most {MAX_PLAN_BYTES:,}){hint}"


def parse_plan_text(raw: bytes, name: str, *, what: str = "a plan file") -> Any:
    """JSON of a plan file (or of ``what`` other file): UTF-8, nested at most ``MAX_DEPTH``
    deep, no NaN/Infinity, no repeated key, every number finite; else ``PlanFileError`` (one line)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PlanFileError(name, [f"is not UTF-8 text (byte {exc.start})"]) from None
    depth = nesting_depth(text)
    if depth > MAX_DEPTH:
        raise PlanFileError(name, [f"is nested more than {MAX_DEPTH} deep: not {what}"])
    try:
        return json.loads(
            text,
            parse_constant=partial(_refuse_constant, what=what),
            parse_float=partial(_finite_float, what=what),
            object_pairs_hook=_unique_keys,
        )
    except _Refused as exc:
        raise PlanFileError(name, [str(exc)]) from None
    except RecursionError:  # the count above should have caught it; never a traceback
        raise PlanFileError(name, [f"is nested more than {MAX_DEPTH} deep: not {what}"]) from None
    except ValueError as exc:  # JSONDecodeError, and an integer of more digits than Python converts
        raise PlanFileError(name, [f"is not JSON: {exc}"]) from None


def nesting_depth(text: str) -> int:
    """How deep ``text``'s brackets nest outside strings, counted without recursion (at C speed:
    strings and everything but brackets are cut out by regular expressions)."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)


class _Refused(ValueError):
    pass


def _refuse_constant(name: str, *, what: str) -> Any:
    raise _Refused(f"holds {name}: {what} holds finite numbers only")


def _finite_float(text: str, *, what: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(f"holds a number out of range ({text[:20]}): {what} holds finite numbers only")
    return value


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _Refused(f"holds the key {json.dumps(key)[:60]} twice in one object")
        out[key] = value
    return out


def _duplicates(data: dict[str, Any]) -> list[str]:
    """A tenant twice in the file, or a change id twice in a tenant."""
    problems: list[str] = []
    tenants: set[str] = set()
    for t, tenant in enumerate(data["tenants"]):
        if tenant["tenant"] in tenants:
            problems.append(f"tenants[{t}].tenant: {tenant['tenant']!r} is in the file twice")
        tenants.add(tenant["tenant"])
        ids: set[tuple[str, str]] = set()
        for c, change in enumerate(tenant["changes"]):
            ident = (change["kind"], change["key"])
            if ident in ids:
                problems.append(
                    f"tenants[{t}].changes[{c}]: {change['kind']}:{change['key']} is in the plan twice"
                )
            ids.add(ident)
    return problems
