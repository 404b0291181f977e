"""A safe YAML loader that remembers where every key and value came from.

PyYAML's ``safe_load`` forgets positions, accepts duplicate keys silently (the last one wins)
and expands aliases without limit (the "billion laughs" attack). Tenant files are reviewed in
pull requests and their errors must point at ``file:line:col``, so this module composes the
YAML node graph (its nodes carry marks) and converts the nodes itself: it records a position
for every mapping key and value, refuses duplicate keys, caps the nodes produced through
aliases and turns YAML's own errors into plain-words ``Problem``s. Scalars are still
constructed by ``SafeConstructor`` so types match ``safe_load``.

Composing with the pure-Python ``SafeLoader`` costs 5-10x more than composing with libyaml
(``CSafeLoader``), and a large tenant (thousands of technicians) is mostly parse time. So
``parse_yaml`` composes with libyaml when PyYAML was built with it, converts the nodes the
same way, and keeps the result only when the document converts cleanly. The pure-Python
loader stays the reference: libyaml words its errors differently, marks a few nodes elsewhere
and accepts some texts the pure-Python scanner refuses. So a text that ``_reference_only``
flags goes straight to the pure-Python loader, and a document the fast path
finds any problem in (a YAML error, a duplicate key, an alias bomb, an empty file, a
non-mapping top level...) is parsed again by it: every problem is reported with exactly the
words and positions it always had.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from reconciler.config.text import excerpt, printable, shorten
from reconciler.errors import ConfigErrors, Location, Problem
from reconciler.regularfile import FileTooLarge, NotRegularFile, read_regular_file

if TYPE_CHECKING:  # yaml.CSafeLoader exists only when PyYAML was built with libyaml
    from typing import TypeAlias

    _Loader: TypeAlias = yaml.SafeLoader | yaml.CSafeLoader

logger = logging.getLogger(__name__)

MAX_FILE_BYTES = 1024 * 1024
MAX_ALIAS_NODES = 10_000
MAX_DEPTH = 64

YamlPath = tuple[str | int, ...]

_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_STR_TAG = "tag:yaml.org,2002:str"

# libyaml composes the same node graph ~10x faster; absent when PyYAML was built without it.
_FAST_LOADER: type[yaml.CSafeLoader] | None = yaml.CSafeLoader if yaml.__with_libyaml__ else None
# Texts where libyaml and the pure-Python scanner disagree on valid input (found by comparing
# both on many generated and mutated documents) are left to the pure-Python loader: tabs used
# as separators, `?` (explicit keys, and inside flow scalars), a byte order mark or a Unicode
# line break inside the text, tags (libyaml resolves a bare `!` differently), a `#` right after
# a block scalar header or a directive (libyaml takes it as a comment), and an empty value in
# a flow collection (`{key: }`: libyaml marks it at the next token, not right after the `:`).
_REFERENCE_ONLY_CHARS = "\t?\ufeff\x85\u2028\u2029"  # tabs, `?`, a byte order mark, Unicode line breaks
_REFERENCE_ONLY = (
    re.compile(r"!(?<![^\s\[\]{},:]!)"),  # a tag: `!` at the start or after a space or flow indicator
    re.compile(r"%(?<![^\n\r]%)"),  # a directive: `%` at the start of a line
    re.compile(r"[|>][-+0-9]*#"),  # a block scalar header touching a `#`
    re.compile(r":(?:\s|#[^\n\r]*)*+[,\]}]"),  # an empty value in a flow collection (comments skipped)
)
_EXAMPLE = "e.g. `tenant: contoso`"


@dataclass(frozen=True)
class SourceMap:
    """Where each path of some data was written: the key's position and the value's position."""

    fallback: Location
    keys: dict[YamlPath, Location] = field(default_factory=dict)
    values: dict[YamlPath, Location] = field(default_factory=dict)
    # The source text of each unquoted value YAML read as something other than text (a number,
    # a bool, a date): `0123` was read as 83, and only the text says what was written.
    plain: dict[YamlPath, str] = field(default_factory=dict)

    def locate(self, path: YamlPath, *, key: bool = False) -> Location:
        """The position of ``path`` (its key when ``key``), else of its nearest known ancestor."""
        current = tuple(path)
        while current:
            first, second = (self.keys, self.values) if key else (self.values, self.keys)
            found = first.get(current) or second.get(current)
            if found is not None:
                return found
            current = current[:-1]
        return self.values.get((), self.fallback)

    def absorb(self, other: SourceMap) -> None:
        """Add ``other``'s positions for paths not known yet (earlier sources win)."""
        for path, loc in other.keys.items():
            self.keys.setdefault(path, loc)
        for path, loc in other.values.items():
            self.values.setdefault(path, loc)
        for path, text in other.plain.items():
            self.plain.setdefault(path, text)


@dataclass(frozen=True)
class YamlDocument:
    """One parsed YAML file: plain data (a mapping) and where each part of it was written."""

    file: str
    data: dict[str, Any]
    positions: SourceMap


class _Refused(Exception):
    """Stops the conversion of a document (alias bomb, recursion, nesting too deep)."""

    def __init__(self, node: Node, path: YamlPath, message: str) -> None:
        super().__init__(message)
        self.node = node
        self.path = path
        self.message = message


def _loc(file: str, mark: Any) -> Location:
    if mark is None:
        return Location(file, 1, 1)
    return Location(file, int(mark.line) + 1, int(mark.column) + 1)


class _Converter:
    """Turns a composed node graph into plain data, recording positions and problems."""

    def __init__(self, loader: SafeConstructor, file: str) -> None:
        self.loader = loader
        # A `str` scalar constructs to its own text; skip the constructor's bookkeeping for it
        # unless someone registered another constructor for the tag.
        self._plain_str = type(loader).yaml_constructors.get(_STR_TAG) is SafeConstructor.construct_yaml_str
        self.file = file
        self.positions = SourceMap(Location(file, 1, 1))
        self.problems: list[Problem] = []
        self._seen: set[int] = set()
        self._active: set[int] = set()
        self._alias_nodes = 0

    def convert(self, node: Node, path: YamlPath) -> Any:
        if len(path) > MAX_DEPTH:
            raise _Refused(node, path, f"nesting deeper than {MAX_DEPTH} levels is not allowed")
        ident = id(node)
        if ident in self._active:
            raise _Refused(
                node, path, "an alias refers to the mapping or list that contains it (a recursive alias)"
            )
        if ident in self._seen:
            # Every node produced again through an alias counts against the cap.
            self._alias_nodes += 1
            if self._alias_nodes > MAX_ALIAS_NODES:
                raise _Refused(
                    node,
                    path,
                    f"aliases expand to more than {MAX_ALIAS_NODES:,} nodes (an alias bomb?); "
                    "write the values out or use fewer nested aliases",
                )
        self._seen.add(ident)
        self.positions.values.setdefault(path, _loc(self.file, node.start_mark))
        if isinstance(node, ScalarNode):
            value = self._scalar(node)
            if not node.style and value is not None and not isinstance(value, str):
                self.positions.plain.setdefault(path, node.value)
            return value
        self._active.add(ident)
        try:
            if isinstance(node, SequenceNode):
                self._check_tag(node, _SEQ_TAG)
                return [self.convert(item, (*path, i)) for i, item in enumerate(node.value)]
            if isinstance(node, MappingNode):
                self._check_tag(node, _MAP_TAG)
                return self._mapping(node, path)
        finally:
            self._active.discard(ident)
        raise _Refused(node, path, f"unsupported YAML node {type(node).__name__}")

    def _check_tag(self, node: Node, expected: str) -> None:
        if node.tag != expected:
            self._problem(
                node, f"unsupported tag {excerpt(node.tag)}; tenant files use plain YAML mappings and lists"
            )

    def _problem(self, node: Node, message: str, path: YamlPath = ()) -> None:
        dotted = ".".join(str(p) for p in path)
        self.problems.append(Problem(_loc(self.file, node.start_mark), dotted, message))

    def _scalar(self, node: ScalarNode) -> Any:
        if self._plain_str and node.tag == _STR_TAG:
            return node.value
        try:
            return self.loader.construct_object(node, deep=True)
        except yaml.MarkedYAMLError as exc:
            problem = exc.problem or str(exc)
            if "constructor for the tag" in problem:
                problem = f"unsupported tag {excerpt(node.tag)}; tenant files use plain YAML values"
            self._problem(node, f"cannot read this value: {problem}")
            return None
        except ValueError as exc:  # e.g. a date that does not exist (2024-13-45)
            self._problem(node, f"cannot read this value: {exc}; quote it to keep it as text")
            return None

    def _key(self, node: Node, path: YamlPath) -> str | None:
        if not isinstance(node, ScalarNode):
            self._problem(node, "a key must be a plain word or string, not a mapping or list", path)
            return None
        value = self._scalar(node)
        # Keys are kept as written: `on:` stays "on", `2024-01-01:` stays a string.
        return value if isinstance(value, str) else str(node.value)

    def _mapping(self, node: MappingNode, path: YamlPath) -> dict[str, Any]:
        result: dict[str, Any] = {}
        first_seen: dict[str, Node] = {}
        merges: list[Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merges.append(value_node)
                continue
            key = self._key(key_node, path)
            if key is None:
                continue
            if key in first_seen:
                first = first_seen[key]
                self._problem(
                    key_node,
                    f"duplicate key {excerpt(key)}: it is already defined at line {first.start_mark.line + 1}; "
                    "a key may appear only once in a mapping",
                    (*path, key),
                )
                continue
            first_seen[key] = key_node
            self.positions.keys.setdefault((*path, key), _loc(self.file, key_node.start_mark))
            result[key] = self.convert(value_node, (*path, key))
        # `<<: *base` merge keys: explicit keys win, then earlier merged mappings win.
        for merge_node in merges:
            sources = merge_node.value if isinstance(merge_node, SequenceNode) else [merge_node]
            for source in sources:
                merged = self.convert(source, path)
                if not isinstance(merged, dict):
                    self._problem(source, "a merge key `<<` needs a mapping or a list of mappings", path)
                    continue
                for key, value in merged.items():
                    result.setdefault(key, value)
        return result


def _yaml_error_message(exc: yaml.MarkedYAMLError) -> tuple[str, Any]:
    """Plain words for PyYAML's errors, and the mark that best shows where to look."""
    problem = exc.problem or ""
    context = exc.context or ""
    if "\\t" in problem or "\t" in problem:
        return "tabs are not allowed for indentation; use spaces", exc.problem_mark
    if "quoted scalar" in context and "end of stream" in problem:
        return (
            "unclosed quote: the string that starts here has no closing quote; add the matching quote",
            exc.context_mark,
        )
    if "quoted scalar" in context and "escape" in problem:
        return (
            "unknown escape sequence in a double-quoted string; use single quotes or write \\\\",
            exc.problem_mark,
        )
    if "mapping values are not allowed" in problem:
        return "unexpected ':' here; a value that contains ': ' must be quoted", exc.problem_mark
    if "single document" in context or "single document" in problem:
        return "a tenant file holds one YAML document; remove the second `---` document", exc.problem_mark
    if "undefined alias" in problem:
        return "this alias refers to an anchor (&name) that is not defined above it", exc.problem_mark
    if "duplicate anchor" in problem:
        return "this anchor name is defined twice", exc.problem_mark
    detail = shorten(printable(f"{problem} ({context})" if context else problem), 200)
    return f"invalid YAML: {detail}; check the indentation and quoting", exc.problem_mark or exc.context_mark


def _fail(file: str, message: str, line: int = 1, col: int = 1) -> ConfigErrors:
    return ConfigErrors([Problem(Location(file, line, col), "", message)])


def parse_yaml(text: str, file: str, *, allow_empty: bool = False) -> YamlDocument:
    """Parse one YAML document that must be a mapping; raise ``ConfigErrors`` with every problem."""
    if _FAST_LOADER is not None and not _reference_only(text):
        try:
            # Not allow_empty: an empty document is cheap, and the reference decides what it holds.
            return _parse_with(_FAST_LOADER, text, file)
        except Exception:  # any trouble: the reference loader reports it, in its own words
            logger.debug("%s: libyaml could not take the document cleanly; parsing it again", file)
    return _parse_with(yaml.SafeLoader, text, file, allow_empty=allow_empty)


def _reference_only(text: str) -> bool:
    """Whether ``text`` holds something libyaml reads differently from the pure-Python loader."""
    # Literal-first patterns and `in`: 0.3 ms for 1,000 technicians, where one alternation takes 3 ms.
    if any(char in text for char in _REFERENCE_ONLY_CHARS):
        return True
    return any(pattern.search(text) is not None for pattern in _REFERENCE_ONLY)


def _reader_failure(file: str, text: str, exc: yaml.reader.ReaderError) -> ConfigErrors:
    """A character YAML does not allow: located from the error's offset (it has no mark)."""
    line = text.count("\n", 0, exc.position) + 1
    column = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
    character = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1] or "?")
    return _fail(
        file,
        f"the character U+{character:04X} is not allowed in YAML; remove it, or write it escaped in a "
        "double-quoted string",
        line,
        column,
    )


def _parse_with(
    loader_class: type[_Loader], text: str, file: str, *, allow_empty: bool = False
) -> YamlDocument:
    """Compose with ``loader_class`` and convert; YAML errors become located problems."""
    try:
        loader = loader_class(text)
    except yaml.reader.ReaderError as exc:  # the pure-Python reader checks every character up front
        raise _reader_failure(file, text, exc) from None
    try:
        try:
            node = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            message, mark = _yaml_error_message(exc)
            loc = _loc(file, mark)
            raise _fail(file, message, loc.line, loc.column) from None
        except yaml.reader.ReaderError as exc:
            raise _reader_failure(file, text, exc) from None
        except RecursionError:
            raise _fail(file, f"nesting is too deep (more than {MAX_DEPTH} levels)") from None
        if node is None or (isinstance(node, ScalarNode) and node.tag == "tag:yaml.org,2002:null"):
            if allow_empty:
                return YamlDocument(file, {}, SourceMap(Location(file, 1, 1)))
            raise _fail(file, f"the file is empty; a tenant file must be a mapping of keys, {_EXAMPLE}")
        if not isinstance(node, MappingNode):
            found = "a list" if isinstance(node, SequenceNode) else f"a single value ({excerpt(node.value)})"
            loc = _loc(file, node.start_mark)
            raise _fail(
                file,
                f"a tenant file must be a mapping of keys, {_EXAMPLE}; found {found}",
                loc.line,
                loc.column,
            )
        converter = _Converter(loader, file)
        try:
            data = converter.convert(node, ())
        except _Refused as exc:
            # Nodes reached through an alias carry their anchor's mark: point at the key in use.
            keys = {p: loc for p, loc in converter.positions.keys.items() if loc.file == file}
            where = SourceMap(_loc(file, exc.node.start_mark), keys=keys).locate(exc.path, key=True)
            raise _fail(file, exc.message, where.line, where.column) from None
        if converter.problems:
            raise ConfigErrors(converter.problems)
        assert isinstance(data, dict)
        return YamlDocument(file, data, converter.positions)
    finally:
        loader.dispose()


def load_yaml_file(path: Path, display: str | None = None, *, allow_empty: bool = False) -> YamlDocument:
    """Read and parse one tenant YAML file (at most ``MAX_FILE_BYTES``, UTF-8)."""
    file = display if display is not None else str(path)
    try:
        # Checked on the open handle (regularfile.py): a FIFO or a device swapped in after
        # discovery is refused, never waited on or read.
        raw = read_regular_file(path, MAX_FILE_BYTES)
    except NotRegularFile:
        raise _fail(
            file, "not a regular file (a FIFO, socket or device); tenant files are plain files"
        ) from None
    except FileTooLarge as exc:
        if exc.size is None:
            raise _fail(
                file, f"the file is over {MAX_FILE_BYTES:,} bytes; tenant files are limited to that"
            ) from None
        raise _fail(
            file, f"the file is {exc.size:,} bytes; tenant files are limited to {MAX_FILE_BYTES:,} bytes"
        ) from None
    except OSError as exc:
        raise _fail(file, f"cannot read the file: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        col = exc.start - (before.rfind(b"\n") + 1) + 1
        raise _fail(file, "the file is not UTF-8 text; save it as UTF-8", line, col) from None
    return parse_yaml(text, file, allow_empty=allow_empty)


__all__ = [
    "MAX_ALIAS_NODES",
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "SourceMap",
    "YamlDocument",
    "YamlPath",
    "load_yaml_file",
    "parse_yaml",
]
