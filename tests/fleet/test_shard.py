"""`--shard K/N`: every tenant in exactly one shard, and a tenant's shard never depends on the others."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.config.shard import Shard, in_shard, parse_shard, shard_of, split
from reconciler.errors import InputError

NAMES = [f"tenant-{i:04d}" for i in range(1000)]
tenant_names = st.from_regex(r"[a-z0-9][a-z0-9_-]{0,20}", fullmatch=True)


def test_parse_accepts_k_of_n_counted_from_zero() -> None:
    assert parse_shard("0/4") == Shard(0, 4)
    assert parse_shard(" 3 / 4 ") == Shard(3, 4)
    assert str(parse_shard("0/1")) == "0/1"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("0/0", "N must be between 1"),
        ("3/2", "K must be between 0 and 1"),
        ("2/2", "K must be between 0 and 1"),
        ("x", "expected K/N"),
        ("-1/2", "expected K/N"),
        ("1/", "expected K/N"),
        ("0/100000", "N must be between 1"),
        ("\u0661/\u0662", "expected K/N"),  # Arabic-Indic digits: `\d` and int() take them
        ("\uff10/\uff12", "expected K/N"),  # fullwidth digits
        ("0/2\n", "expected K/N"),
    ],
)
def test_parse_refuses_bad_values(text: str, says: str) -> None:
    with pytest.raises(InputError, match=says):
        parse_shard(text)


def test_every_tenant_is_in_exactly_one_shard_and_the_shards_are_balanced() -> None:
    shards = [in_shard(NAMES, Shard(k, 8)) for k in range(8)]
    assert sorted(t for shard in shards for t in shard) == NAMES
    assert all(80 < len(s) < 180 for s in shards), [len(s) for s in shards]  # 125 expected
    groups = split(NAMES, 8)
    assert [list(names) for _, names in groups] == shards


@settings(max_examples=50, deadline=None)
@given(tenant=tenant_names, others=st.lists(tenant_names, max_size=30), count=st.integers(1, 64))
def test_a_tenants_shard_does_not_change_when_other_tenants_are_added(
    tenant: str, others: list[str], count: int
) -> None:
    before = dict(split([tenant], count)[0:1])
    after = {s: names for s, names in split([*others, tenant], count) if tenant in names}
    assert list(before) == list(after)


def test_adding_a_shard_moves_only_the_tenants_the_new_shard_takes() -> None:
    moved = [t for t in NAMES if shard_of(t, 10) != shard_of(t, 11)]
    assert all(shard_of(t, 11) == 10 for t in moved)
    assert 40 < len(moved) < 140  # about 1000/11; hash mod N would move about 90 %
