"""Write discovered names into a tenant file's `profile:`, keeping its comments and layout.

ruamel.yaml's round-trip mode keeps comments, key order and quoting of everything it does not
touch. Only paths discovery matched change: a value equal to the default profile's is removed
(with mappings it leaves empty), any other is set; the rest of `profile:` stays as written.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, MutableMapping
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap

from reconciler.atomicfile import write_atomic
from reconciler.config import LoadedTenant
from reconciler.engine.discover import Match
from reconciler.errors import InputError
from reconciler.profile import default_profile_data


def profile_file(loaded: LoadedTenant) -> Path:
    """The file of the tenant that holds `profile:` (else its first file)."""
    own = [f for f in loaded.files if f.name != "_defaults.yaml"]  # never the shared defaults
    where = loaded.locate(("profile",), key=True) if "profile" in loaded.data else None
    if where is not None and where.file and Path(where.file) in own:
        return Path(where.file)
    return own[0]


def _default(path: list[str]) -> Any:
    node: Any = default_profile_data()
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    return node


def _remove(node: MutableMapping[str, Any], path: list[str]) -> None:
    if len(path) == 1:
        node.pop(path[0], None)
        return
    child = node.get(path[0])
    if isinstance(child, MutableMapping):
        _remove(child, path[1:])
        if not child:
            node.pop(path[0])


def write_profile(target: Path, matches: Iterable[Match]) -> None:
    yaml = YAML()  # round-trip
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)  # the tenant files' style: lists indented under their key
    try:
        document = yaml.load(target.read_text("utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read {target}: {exc.strerror}") from None
    if not isinstance(document, MutableMapping):
        raise InputError(f"{target}: not a mapping of settings; cannot write `profile:`")
    profile = document.get("profile")
    if profile is None:
        profile = CommentedMap()
    for match in matches:
        path = match.path.split(".")
        value = list(match.value) if isinstance(match.value, tuple) else match.value
        if _default(path) == value:
            _remove(profile, path)
            continue
        node = profile
        for key in path[:-1]:
            if not isinstance(node.get(key), MutableMapping):
                node[key] = CommentedMap()
            node = node[key]
        node[path[-1]] = value
    if profile:
        document["profile"] = profile
    else:
        document.pop("profile", None)
    text = io.StringIO()  # dumped whole first: the file is replaced at once, never left half-written
    yaml.dump(document, text)
    write_atomic(target, text.getvalue())
