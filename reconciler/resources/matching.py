"""Which live object a declared reference names: one decision for every kind.

A reference (a group path, an e-mail, a UPN, an Entra member) is matched against live objects in
one normal form, the form validate accepts declared values in: Unicode NFC, no control, bidi or
invisible character (``reconciler.errors.UNSAFE_CHARACTERS``), no surrounding space, and
case-folded (the services compare names and addresses without case). So a live ``Cafe`` plus a
combining accent, or ``Sup<U+200B>port``, or ``"SUPPORT "`` is the declared ``Café`` / ``Support``,
never a second object beside it.

The answer is exactly one object, none, or *ambiguous* with every candidate (``Match``): the
caller never picks "the first" (STYLE 15); it reports the reference Unknown and names them all.

Group paths are tuples of names: ``("Support", "Tier 2")`` and the one group literally named
``"Support/Tier 2"`` are different objects. A declared path is text, though, and ``/`` separates
its names, so it reads as both: ``path_key`` splits every live name at ``/`` too, and both groups
are candidates of the declared ``Support/Tier 2`` (ambiguous: Unknown until one is renamed or
the tenant file pins a node ID).

Pure.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from reconciler.errors import UNSAFE_CHARACTERS, printable

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)

PATH_SEPARATOR = "/"
# At most this many candidates are named in one message (the count says how many more).
SHOWN_CANDIDATES = 10


def name_key(text: str) -> str:
    """``text`` in the normal form names are compared in (see the module docstring)."""
    visible = unicodedata.normalize("NFC", UNSAFE_CHARACTERS.sub("", text)).strip()
    # Case folding can leave a sequence NFC composes differently (rare): normalise once more.
    return unicodedata.normalize("NFC", visible.casefold())


def path_key(names: Iterable[str]) -> tuple[str, ...]:
    """A group path (its names, root first) as a declared path string would read it: every
    name split at ``/`` and each part in normal form."""
    return tuple(name_key(part) for name in names for part in name.split(PATH_SEPARATOR))


def declared_path_key(path: str) -> tuple[str, ...]:
    """The key of a declared path string (``Support/Tier 2``)."""
    return path_key((path,))


def show_path(names: Sequence[str]) -> str:
    """A live path as people can tell paths apart: each name quoted and escaped,
    ``"Support" / "Tier 2"`` (two groups) vs ``"Support/Tier 2"`` (one)."""
    return " / ".join(show_name(name) for name in names)


def show_name(name: str) -> str:
    """A live name quoted, invisible characters escaped and a decomposed accent marked."""
    shown = '"' + printable(name).replace('"', '\\"') + '"'
    if not unicodedata.is_normalized("NFC", name):
        shown += " (not NFC: a letter and a combining accent)"
    return shown


def differs_in_form(live: str, declared: str) -> bool:
    """Whether ``live`` names the same as ``declared`` only in another form (case aside)."""
    return live.casefold() != declared.casefold() and name_key(live) == name_key(declared)


@dataclass(frozen=True)
class Match(Generic[T]):
    """The live objects a reference may name: none, exactly one, or several (ambiguous)."""

    candidates: tuple[T, ...] = ()

    @property
    def one(self) -> T | None:
        """The object, when exactly one matches."""
        return self.candidates[0] if len(self.candidates) == 1 else None

    @property
    def ambiguous(self) -> bool:
        return len(self.candidates) > 1

    @property
    def none(self) -> bool:
        return not self.candidates

    def pinned(self, pin: str, ident: Callable[[T], str]) -> Match[T]:
        """The candidate a pin in the tenant file (a node ID, a user ID) names: one, or none when
        the pin names no candidate (a pin chooses among candidates, it never adds one)."""
        return Match(tuple(c for c in self.candidates if ident(c) == pin))

    def named(self, show: Callable[[T], str]) -> str:
        """Every candidate, shown (at most ``SHOWN_CANDIDATES``, then how many more)."""
        shown = [show(c) for c in self.candidates[:SHOWN_CANDIDATES]]
        more = len(self.candidates) - len(shown)
        return ", ".join(shown) + (f" and {more} more" if more else "")


def match(candidates: Iterable[T]) -> Match[T]:
    """The one decision: the candidates a reference's key selected, in a stable order."""
    return Match(tuple(candidates))


class Index(Generic[K, T]):
    """Live objects by the normal-form key of their name, every object kept (none wins)."""

    def __init__(self, items: Iterable[T], key: Callable[[T], K]) -> None:
        self._by_key: dict[K, list[T]] = {}
        for item in items:
            self._by_key.setdefault(key(item), []).append(item)

    def find(self, key: K) -> Match[T]:
        return match(self._by_key.get(key, ()))

    def ambiguous(self) -> dict[K, tuple[T, ...]]:
        """Every key several objects share, with them."""
        return {k: tuple(v) for k, v in self._by_key.items() if len(v) > 1}

    def unique(self) -> dict[K, T]:
        """Every key exactly one object has."""
        return {k: v[0] for k, v in self._by_key.items() if len(v) == 1}

    def keys(self) -> Iterable[K]:
        return self._by_key.keys()


__all__ = [
    "PATH_SEPARATOR",
    "Index",
    "Match",
    "declared_path_key",
    "differs_in_form",
    "match",
    "name_key",
    "path_key",
    "show_name",
    "show_path",
]
