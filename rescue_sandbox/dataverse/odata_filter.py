"""The ``$filter`` language: a tokenizer and recursive-descent parser compiled to a predicate.

Supported, as Dataverse does: ``eq ne gt ge lt le``, ``and or not``, parentheses, ``null``,
``true``/``false``, numbers, string literals with ``''`` escaping, unquoted GUID and date-time
literals, ``contains``/``startswith``/``endswith``, single-valued navigation paths
(``businessunitid/name``) and parameter aliases (``@p1``). Like Dataverse (SQL collation), string
comparisons ignore case. Operand types are checked: comparing a GUID column with a quoted string
fails with the OData "incompatible types" error, because the real service rejects it too.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rescue_sandbox.dataverse import errors
from rescue_sandbox.dataverse.schema import GUID_TYPES, NUMBER_TYPES, STRING_TYPES, Column
from rescue_sandbox.dataverse.values import parse_datetime

Row = dict[str, Any]
Predicate = Callable[[Row], bool]

_TOKEN = re.compile(
    r"""(?P<ws>\s+)
    |(?P<str>'(?:[^']|'')*')
    |(?P<guid>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(?![\w-]))
    |(?P<dt>\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)?(?![\w-]))
    |(?P<num>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?[mMdDfFlL]?(?![\w-]))
    |(?P<ident>@?[A-Za-z_][\w.]*(?:/[A-Za-z_][\w.]*)*)
    |(?P<punct>[(),])
    """,
    re.VERBOSE,
)
_COMPARE = {"eq", "ne", "gt", "ge", "lt", "le"}
_FUNCTIONS = {"contains", "startswith", "endswith"}
_EDM_OF_KIND = {
    "string": "Edm.String",
    "guid": "Edm.Guid",
    "bool": "Edm.Boolean",
    "datetime": "Edm.DateTimeOffset",
    "null": "null",
}
_OP_NAMES = {
    "eq": "Equal",
    "ne": "NotEqual",
    "gt": "GreaterThan",
    "ge": "GreaterThanOrEqual",
    "lt": "LessThan",
    "le": "LessThanOrEqual",
}


def column_kind(column: Column) -> str:
    if column.type in STRING_TYPES:
        return "string"
    if column.type in GUID_TYPES:
        return "guid"
    if column.type in NUMBER_TYPES:
        return "number"
    if column.type == "Boolean":
        return "bool"
    return "datetime"


def normalize(kind: str, value: Any) -> Any:
    """The comparable form of a stored or literal value of ``kind``."""
    if value is None:
        return None
    if kind == "string" and isinstance(value, str):
        return value.casefold()
    if kind == "guid" and isinstance(value, str):
        return value.lower()
    return value


@dataclass
class Operand:
    get: Callable[[Row], Any]
    kind: str
    edm: str
    prop: str | None = None  # a plain column of the queried table
    literal: bool = False
    value: Any = None


@dataclass
class Compiled:
    """A compiled filter: the predicate and the top-level ``prop eq value`` equalities (for indexes)."""

    predicate: Predicate
    equalities: list[tuple[str, Any]] = field(default_factory=list)


Resolver = Callable[[list[str]], tuple[Callable[[Row], Any], Column]]


@dataclass
class _Tok:
    kind: str
    text: str
    pos: int


def _tokenize(text: str) -> list[_Tok]:
    out: list[_Tok] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise errors.query_error(f"Syntax error at position {pos} in '{text}'.")
        kind = match.lastgroup or ""
        if kind != "ws":
            out.append(_Tok(kind, match.group(), pos))
        pos = match.end()
    return out


class _Parser:
    def __init__(self, text: str, resolve: Resolver, aliases: Mapping[str, str]) -> None:
        self.text = text
        self.resolve = resolve
        self.aliases = aliases
        self.toks = _tokenize(text)
        self.i = 0

    # -- helpers
    def peek(self) -> _Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def error(self, tok: _Tok | None = None) -> errors.DataverseError:
        pos = tok.pos if tok else len(self.text)
        return errors.query_error(f"Syntax error at position {pos} in '{self.text}'.")

    def take(self, text: str | None = None) -> _Tok:
        tok = self.peek()
        if tok is None or (text is not None and tok.text != text):
            raise self.error(tok)
        self.i += 1
        return tok

    def at(self, text: str) -> bool:
        tok = self.peek()
        return tok is not None and tok.kind in ("ident", "punct") and tok.text == text

    # -- grammar
    def parse(self) -> Compiled:
        if not self.toks:
            raise errors.query_error("The $filter expression is empty.")
        compiled = self.parse_or()
        if self.peek() is not None:
            raise self.error(self.peek())
        return compiled

    def parse_or(self) -> Compiled:
        left = self.parse_and()
        while self.at("or"):
            self.take()
            right = self.parse_and()
            left = Compiled(_either(left.predicate, right.predicate))
        return left

    def parse_and(self) -> Compiled:
        left = self.parse_not()
        while self.at("and"):
            self.take()
            right = self.parse_not()
            left = Compiled(_both(left.predicate, right.predicate), left.equalities + right.equalities)
        return left

    def parse_not(self) -> Compiled:
        if self.at("not"):
            self.take()
            inner = self.parse_not().predicate
            return Compiled(lambda r: not inner(r))
        return self.parse_comparison()

    def parse_comparison(self) -> Compiled:
        if self.at("("):
            self.take("(")
            inner = self.parse_or()
            self.take(")")
            return Compiled(inner.predicate)
        tok = self.peek()
        if tok is not None and tok.kind == "ident" and tok.text in _FUNCTIONS:
            return self.parse_function()
        left = self.parse_operand()
        tok = self.peek()
        if tok is None or tok.text not in _COMPARE:
            if left.kind == "bool":
                get = left.get
                return Compiled(lambda r: get(r) is True)
            raise self.error(tok)
        op = self.take().text
        right = self.parse_operand()
        return self.compare(op, left, right)

    def parse_function(self) -> Compiled:
        name = self.take().text
        self.take("(")
        subject = self.parse_operand()
        self.take(",")
        needle = self.parse_operand()
        self.take(")")
        if subject.kind != "string" or not needle.literal or needle.kind != "string":
            raise errors.query_error(
                f"The function '{name}' needs a string property and a string literal in '{self.text}'."
            )
        wanted = needle.value
        get = subject.get
        tests: dict[str, Callable[[str], bool]] = {
            "contains": lambda v: wanted in v,
            "startswith": lambda v: v.startswith(wanted),
            "endswith": lambda v: v.endswith(wanted),
        }
        test = tests[name]
        return Compiled(lambda r: (v := get(r)) is not None and test(v))

    def parse_operand(self) -> Operand:
        tok = self.take()
        if tok.kind == "ident" and tok.text.startswith("@"):
            if tok.text not in self.aliases:
                raise errors.query_error(f"The parameter alias '{tok.text}' is not defined.")
            sub = _Parser(self.aliases[tok.text], self.resolve, {})
            operand = sub.parse_operand()
            if sub.peek() is not None:
                raise sub.error(sub.peek())
            return operand
        if tok.kind == "str":
            return _literal("string", tok.text[1:-1].replace("''", "'"))
        if tok.kind == "guid":
            return _literal("guid", tok.text)
        if tok.kind == "dt":
            parsed = parse_datetime(tok.text)
            if parsed is None:
                raise self.error(tok)
            return _literal("datetime", parsed)
        if tok.kind == "num":
            text = tok.text.rstrip("mMdDfFlL")
            number: int | float = float(text) if any(c in text for c in ".eE") else int(text)
            edm = "Edm.Int32" if isinstance(number, int) else "Edm.Decimal"
            op = _literal("number", number)
            op.edm = edm
            return op
        if tok.kind == "ident":
            if tok.text in ("true", "false"):
                return _literal("bool", tok.text == "true")
            if tok.text == "null":
                return _literal("null", None)
            if tok.text in _COMPARE or tok.text in ("and", "or", "not"):
                raise self.error(tok)
            getter, column = self.resolve(tok.text.split("/"))
            kind = column_kind(column)
            return Operand(
                _normalized(getter, kind),
                kind,
                column.edm,
                prop=column.prop if "/" not in tok.text else None,
            )
        raise self.error(tok)

    def compare(self, op: str, left: Operand, right: Operand) -> Compiled:
        kinds = {left.kind, right.kind}
        if "null" not in kinds and left.kind != right.kind:
            raise errors.query_error(
                "A binary operator with incompatible types was detected. Found operand types "
                f"'{left.edm}' and '{right.edm}' for operator kind '{_OP_NAMES[op]}'."
            )
        lg, rg = left.get, right.get
        equalities: list[tuple[str, Any]] = []
        if op == "eq":
            if left.prop and right.literal and right.value is not None:
                equalities.append((left.prop, right.value))
            return Compiled(lambda r: lg(r) == rg(r), equalities)
        if op == "ne":
            return Compiled(lambda r: lg(r) != rg(r))
        if "null" in kinds or left.kind in ("bool", "guid"):
            if left.kind == "guid" or right.kind == "guid":
                raise errors.query_error(
                    f"The operator '{op}' is not supported for operands of type '{left.edm}' and '{right.edm}'."
                )
            return Compiled(lambda r: False)
        ops: dict[str, Callable[[Any, Any], bool]] = {
            "gt": lambda a, b: a > b,
            "ge": lambda a, b: a >= b,
            "lt": lambda a, b: a < b,
            "le": lambda a, b: a <= b,
        }
        fn = ops[op]

        def ordered(r: Row) -> bool:
            a, b = lg(r), rg(r)
            return a is not None and b is not None and fn(a, b)

        return Compiled(ordered)


def _either(a: Predicate, b: Predicate) -> Predicate:
    return lambda r: a(r) or b(r)


def _both(a: Predicate, b: Predicate) -> Predicate:
    return lambda r: a(r) and b(r)


def _normalized(getter: Callable[[Row], Any], kind: str) -> Callable[[Row], Any]:
    return lambda r: normalize(kind, getter(r))


def _literal(kind: str, value: Any) -> Operand:
    normalized = normalize(kind, value)
    return Operand(
        lambda r: normalized, kind, _EDM_OF_KIND.get(kind, "Edm.Int32"), literal=True, value=normalized
    )


def compile_filter(text: str, resolve: Resolver, aliases: Mapping[str, str] | None = None) -> Compiled:
    """Compile a ``$filter`` expression; ``resolve`` maps a property path to (getter, column)."""
    return _Parser(text, resolve, aliases or {}).parse()
