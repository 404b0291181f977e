"""Accepting drift without forgetting: merge a freshly exported tenant into its existing files.

`reconcile export --overwrite` used to rewrite the tenant file from live state, which dropped
what only a person knows: `confirmed:` dates of manual steps, `export:` settings no API can
read, `create:` blocks, comments, key order and the split into several files. So the next plan
silently stopped listing a manual step. This module merges instead, with ruamel.yaml's
round-trip mode (comments, key order and quoting survive):

- a value the export holds replaces the value written (live state is what is being accepted);
  an equal value is left untouched, so its formatting and comment stay;
- a key the export does not hold is kept: live state says nothing about it;
- list items are matched by identity (technicians by `user`, groups by `path`, without case) and
  merged the same way; an item live state does not have is kept and reported, never dropped;
- each key is updated in the file that sets it; a new key goes to the file that holds its parent
  mapping (else the first file), and a value `_defaults.yaml` already gives is not repeated;
- `rescue_email` and `technician_id` exclude each other: the exported one replaces the other;
- `solution.min_version` is a person's floor, not live state: a written one stays.

Pure: file texts in, file texts out (only those that changed).
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark
from ruamel.yaml.tokens import CommentToken

from reconciler.errors import InputError

# List items are matched on these keys (compared without case).
IDENTITY = {"technicians": "user", "rescue_groups": "path"}
EXCLUSIVE = {"rescue_email": "technician_id", "technician_id": "rescue_email"}
# What a person chose, not what live state is: kept when written (the installed version is not
# the lowest acceptable one).
PERSON_ONLY = {("solution", "min_version")}


@dataclass
class MergeResult:
    """The new text of each file that changed, and the list items live state does not have."""

    texts: dict[Path, str] = field(default_factory=dict)
    kept: list[str] = field(default_factory=list)


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=4, offset=2)  # the layout of the example tenants
    yaml.width = 4096
    # `key: null` as the export writes it (ruamel's default leaves the value empty).
    yaml.representer.add_representer(
        type(None), lambda rep, _: rep.represent_scalar("tag:yaml.org,2002:null", "null")
    )
    return yaml


def _plain(value: Any) -> Any:
    """Round-trip nodes as plain data, for comparing."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value


def _identity(item: Any, key: str) -> str | None:
    value = item.get(key) if isinstance(item, Mapping) else None
    return str(value).casefold() if value is not None else None


class _Merger:
    def __init__(self, docs: Sequence[CommentedMap], defaults: Mapping[str, Any]) -> None:
        self.docs = docs
        self.defaults = defaults
        self.kept: list[str] = []
        self.changed: set[int] = set()

    def _holders(self, path: tuple[str, ...]) -> list[tuple[int, CommentedMap]]:
        """The mappings at ``path`` in each file that has one."""
        found = []
        for index, doc in enumerate(self.docs):
            node: Any = doc
            for part in path:
                node = node.get(part) if isinstance(node, Mapping) else None
            if isinstance(node, CommentedMap):
                found.append((index, node))
        return found

    def _default(self, path: tuple[str, ...]) -> Any:
        node: Any = self.defaults
        for part in path:
            if not isinstance(node, Mapping) or part not in node:
                return _MISSING
            node = node[part]
        return node

    def merge_top(self, exported: CommentedMap, path: tuple[str, ...] = ()) -> None:
        holders = self._holders(path)
        for key, value in exported.items():
            here = (*path, str(key))
            owners = [(i, m) for i, m in holders if key in m]
            if isinstance(value, CommentedMap) and (
                not owners or isinstance(owners[0][1][key], CommentedMap)
            ):
                if not owners:
                    if _plain(value) == _plain(self._default(here)):
                        continue
                    index, parent = holders[0] if holders else (0, self._make_path(self.docs[0], path))
                    _append(parent, key, CommentedMap())
                    self.changed.add(index)
                self.merge_top(value, here)  # a mapping may be split across files: go down
                continue
            if owners:
                index, mapping = owners[0]
                self._assign(index, mapping, key, value, here)
            elif _plain(value) != _plain(self._default(here)):
                index, mapping = holders[0] if holders else (0, self._make_path(self.docs[0], path))
                _append(mapping, key, value)
                self.changed.add(index)

    def _make_path(self, doc: CommentedMap, path: tuple[str, ...]) -> CommentedMap:
        node = doc
        for part in path:
            if not isinstance(node.get(part), CommentedMap):
                node[part] = CommentedMap()
            node = node[part]
        return node

    def _assign(self, index: int, mapping: CommentedMap, key: Any, value: Any, path: tuple[str, ...]) -> None:
        old = mapping[key]
        if _plain(old) == _plain(value) or path in PERSON_ONLY:
            return
        if isinstance(old, CommentedMap) and isinstance(value, CommentedMap):
            self._merge_map(index, old, value, path)
        elif isinstance(old, CommentedSeq) and isinstance(value, CommentedSeq) and path[-1] in IDENTITY:
            self._merge_items(index, old, value, path)
        else:
            mapping[key] = value
            self.changed.add(index)

    def _merge_map(self, index: int, old: CommentedMap, new: CommentedMap, path: tuple[str, ...]) -> None:
        for key, value in new.items():
            other = EXCLUSIVE.get(str(key))
            if other is not None and other in old and other not in new:
                del old[other]
                self.changed.add(index)
            if key in old:
                self._assign(index, old, key, value, (*path, str(key)))
            else:
                _append(old, key, value)
                self.changed.add(index)

    def _merge_items(self, index: int, old: CommentedSeq, new: CommentedSeq, path: tuple[str, ...]) -> None:
        ident = IDENTITY[path[-1]]
        by_id = {_identity(item, ident): item for item in old}
        seen = set()
        for item in new:
            key = _identity(item, ident)
            seen.add(key)
            match = by_id.get(key)
            if match is None:
                old.append(item)
                self.changed.add(index)
            elif isinstance(match, CommentedMap) and isinstance(item, CommentedMap):
                # The identity matched without case: the written spelling stays.
                rest = CommentedMap((k, v) for k, v in item.items() if k != ident)
                self._merge_map(index, match, rest, (*path, str(key)))
        for item in old:
            key = _identity(item, ident)
            if key not in seen:
                self.kept.append(f"{path[-1]}: {item.get(ident) if isinstance(item, Mapping) else item}")


def _append(mapping: CommentedMap, key: Any, value: Any) -> None:
    """Add ``key`` at the end of ``mapping``; the blank lines and comments that followed the last
    key (they separate the mapping from what comes next) move below the new key."""
    last = next(reversed(mapping), None) if mapping else None
    entry = mapping.ca.items.get(last) if last is not None else None
    token = entry[2] if entry and len(entry) > 2 else None
    mapping[key] = value
    block = isinstance(value, CommentedMap | CommentedSeq) and bool(value) and not value.fa.flow_style()
    if token is None or block:  # a block value would carry the comment inside it
        return
    head, newline, rest = token.value.partition("\n")
    if rest:
        token.value = head + newline
        # The moved part starts on a line of its own: the new key's line ends first.
        mapping.ca.items[key] = [None, None, CommentToken("\n" + rest, CommentMark(0), None), None]


class _Missing:
    pass


_MISSING = _Missing()


def merge_export(
    files: Mapping[Path, str], exported: str, *, defaults: Mapping[str, Any] | None = None
) -> MergeResult:
    """The tenant files (``files``, in load order) with the exported document merged in.

    ``defaults`` is the plain data of the `_defaults.yaml` merged under the tenant, if any.
    """
    yaml = _yaml()
    docs: list[CommentedMap] = []
    for path, text in files.items():
        doc = yaml.load(text) if text.strip() else CommentedMap()
        if not isinstance(doc, CommentedMap):
            raise InputError(f"{path} is not a mapping of keys; fix it before accepting drift")
        docs.append(doc)
    new = yaml.load(exported)
    if not docs or not isinstance(new, CommentedMap):
        raise InputError("nothing to merge: no tenant file, or the export is not a mapping")
    merger = _Merger(docs, defaults or {})
    merger.merge_top(new)
    result = MergeResult(kept=merger.kept)
    for index, path in enumerate(files):
        if index in merger.changed:
            stream = io.StringIO()
            yaml.dump(docs[index], stream)
            result.texts[path] = stream.getvalue()
    return result


__all__ = ["MergeResult", "merge_export"]
