"""Base of every resource: kind, key, canonical content, and the live-only metadata."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field
from typing import Any, ClassVar

# A kind's name. The one list of kinds is ``reconciler.kinds.REGISTRY`` (each kind module
# registers its resource type in ``resources/registry.py``); a Literal here was a second list.
Kind = str


@dataclass(frozen=True, slots=True)
class Sensitive:
    """A secret, held only as a reference and a keyed digest: never the value.

    Two ``Sensitive`` values are equal when their digests are equal (same run, same hasher).
    ``ref`` names where the desired value comes from (``env:NAME``), so apply resolves it late.
    """

    digest: str = field(repr=False)
    ref: str = ""

    def __repr__(self) -> str:
        return "(sensitive)"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sensitive) and hmac.compare_digest(self.digest, other.digest)

    def __hash__(self) -> int:
        return hash(self.digest)


class SecretHasher:
    """Digests secrets with a key made for this run only, so digests cannot be reversed or
    compared across runs. Desired and live sides of one plan share one hasher."""

    def __init__(self, key: bytes | None = None) -> None:
        self._key = key or secrets.token_bytes(32)

    def sensitive(self, value: str | None, ref: str = "") -> Sensitive | None:
        if value is None:
            return None
        digest = hmac.new(self._key, value.encode("utf-8"), hashlib.sha256).hexdigest()
        return Sensitive(digest=digest, ref=ref)


@dataclass(frozen=True, slots=True)
class LiveMeta:
    """What a provider knows about a live object beyond its content: never diffed."""

    id: str = ""
    etag: str = ""
    extra: tuple[tuple[str, str], ...] = ()

    def get(self, name: str, default: str = "") -> str:
        return dict(self.extra).get(name, default)


# Shared by every desired resource (a frozen value): one per resource was 100,000 objects in a
# 100 x 1,000 first apply.
NO_META = LiveMeta()


@dataclass(frozen=True, slots=True)
class Resource:
    """Base of all resource types. Subclasses are frozen dataclasses; ``meta`` is live-only."""

    kind: ClassVar[Kind]
    key_fields: ClassVar[tuple[str, ...]]
    meta: LiveMeta = field(default=NO_META, compare=False, kw_only=True)

    @property
    def key(self) -> str:
        return "/".join(str(getattr(self, name)) for name in self.key_fields)

    @property
    def ident(self) -> tuple[str, str]:
        return (self.kind, self.key)

    def content(self) -> dict[str, Any]:
        """Canonical content: every field except the key and ``meta``."""
        return {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.name not in self.key_fields and f.name != "meta" and f.compare
        }

    def live_version(self) -> str:
        """What a live object looked like when read: its ETag, else a content hash (Rescue)."""
        return self.meta.etag or self.content_hash()

    def content_hash(self) -> str:
        """A content hash (for objects without an ETag, e.g. Rescue nodes)."""
        payload = json.dumps({k: _plain(v) for k, v in self.content().items()}, sort_keys=True, default=str)
        return "sha256:" + hashlib.sha256(f"{self.kind}|{self.key}|{payload}".encode()).hexdigest()[:32]


def _plain(value: Any) -> Any:
    if isinstance(value, Sensitive):
        return value.digest
    if isinstance(value, frozenset):
        return sorted(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return value


@dataclass(frozen=True, slots=True)
class Unknown:
    """Live state that could not be read: never turned into a create or a delete."""

    kind: Kind
    key: str  # "*" when the whole kind is unknown
    reason: str


@dataclass(frozen=True, slots=True)
class Unmanaged:
    """A live object the tenant files do not declare (reported, deleted only with prune)."""

    kind: Kind
    key: str
    note: str
