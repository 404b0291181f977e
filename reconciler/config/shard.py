"""Which shard a tenant belongs to: `--shard K/N`, the GitHub matrix and Kubernetes Indexed Jobs.

Pure: a tenant's shard depends on its name and N only, so adding or removing OTHER tenants
never moves it. The rule is jump consistent hashing (Lamping and Veach, "A Fast, Minimal
Memory, Consistent Hash Algorithm", 2014) on the first 8 bytes of sha256(name). Compared with
``hash mod N`` it also keeps tenants in place when N changes: going from N to N+1 shards moves
only the ~1/(N+1) of the tenants that the new shard takes, so the Kubernetes parallelism or
the matrix size can grow without reshuffling everything. sha256, not ``hash()``, so that every
process and every Python version agrees. K counts from 0, like Kubernetes' ``JOB_COMPLETION_INDEX``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from reconciler.errors import InputError

# A cap well above any sane fleet split; it keeps a typo (1/1000000) from hashing for minutes.
MAX_SHARDS = 10_000
_SHARD_RE = re.compile(r"^ *([0-9]+) */ *([0-9]+) *\Z")  # ASCII digits: `\d` takes Arabic-Indic ones


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count`` (0 <= index < count)."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def holds(self, tenant: str) -> bool:
        return shard_of(tenant, self.count) == self.index


def parse_shard(text: str) -> Shard:
    """``"K/N"`` -> ``Shard(K, N)``; anything else is an ``InputError`` saying what is expected."""
    match = _SHARD_RE.match(text)
    if match is None:
        raise InputError(f"--shard {text!r}: expected K/N, e.g. 0/4 (shard K of N, K from 0 to N-1)")
    index, count = int(match[1]), int(match[2])
    if not 1 <= count <= MAX_SHARDS:
        raise InputError(f"--shard {text!r}: N must be between 1 and {MAX_SHARDS}")
    if index >= count:
        raise InputError(f"--shard {text!r}: K must be between 0 and {count - 1} (shards count from 0)")
    return Shard(index, count)


_MASK = (1 << 64) - 1


def shard_of(tenant: str, count: int) -> int:
    """The shard (0..count-1) that holds ``tenant`` (jump consistent hash, O(log count))."""
    key = int.from_bytes(hashlib.sha256(tenant.encode()).digest()[:8], "big")
    bucket, jump = -1, 0
    while jump < count:
        bucket = jump
        key = (key * 2862933555777941757 + 1) & _MASK
        jump = int((bucket + 1) * ((1 << 31) / ((key >> 33) + 1)))
    return bucket


def in_shard(tenants: Iterable[str], shard: Shard | None) -> list[str]:
    """The tenants of ``shard`` in their given order (all of them when ``shard`` is None)."""
    return [t for t in tenants if shard is None or shard.holds(t)]


def split(tenants: Sequence[str], count: int) -> list[tuple[Shard, tuple[str, ...]]]:
    """The non-empty shards of ``tenants`` over ``count`` shards, each tenant in exactly one."""
    groups: dict[int, list[str]] = {}
    for tenant in tenants:
        groups.setdefault(shard_of(tenant, count), []).append(tenant)
    return [(Shard(k, count), tuple(groups[k])) for k in sorted(groups)]
