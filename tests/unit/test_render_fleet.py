"""Names collapsed into ranges, identical blocks said once, and the closing tally (pure)."""

from __future__ import annotations

from reconciler.plan.health import TenantHealth
from reconciler.render.fleet import collapse_names, names_head, shared_blocks, tally_line
from reconciler.render.health import render_health_text


def test_only_consecutive_numbers_of_one_prefix_and_width_make_a_range() -> None:
    assert collapse_names(["t001", "t002", "t003"]) == "t001..t003"
    assert collapse_names(["t001", "t002"]) == "t001, t002"  # two names read better than a range
    assert collapse_names(["t001", "t002", "t004", "t005", "t006"]) == "t001, t002, t004..t006"
    assert collapse_names(["a9", "a10", "a11"]) == "a9, a10, a11"  # widths differ: a10 is not after a9
    assert collapse_names(["x1", "y2", "y3", "y4", "z"]) == "x1, y2..y4, z"
    assert collapse_names(["c3", "c2", "c1"]) == "c3, c2, c1"  # only ascending runs


def test_a_range_counts_as_one_name_and_the_rest_are_counted() -> None:
    names = [f"n{i}" for i in range(0, 60, 2)]  # no run: 30 separate names
    assert collapse_names(names).endswith("n38 and 10 more")
    many = [f"c-{i:03d}" for i in range(500)] + ["zeta"]
    assert collapse_names(many) == "c-000..c-499, zeta"


def test_names_are_shown_through_the_callers_escaping() -> None:
    hostile = ["a\u202eb", "x\ny"]
    text = collapse_names(hostile)
    assert "\u202e" not in text and "\n" not in text
    assert names_head(["only"]) == "only" and names_head(["a", "b"]) == "a, b (2 tenants)"


def test_identical_blocks_are_grouped_in_first_seen_order_and_the_tally_counts_statuses() -> None:
    grouped = shared_blocks([("a", ("x",)), ("b", ("y",)), ("c", ("x",))])
    assert grouped == [(("x",), ["a", "c"]), (("y",), ["b"])]
    assert tally_line(["changes", "no changes", "changes"], hidden=1) == (
        "3 tenants: 2 changes, 1 no changes. 1 with nothing more to say not shown (-v shows every tenant)."
    )


def _health(name: str, verdict: str, notes: tuple[str, ...] = ()) -> TenantHealth:
    return TenantHealth(name, "2026-12-01", "2026-12-07", verdict, True, notes=notes)  # type: ignore[arg-type]


def test_healthy_tenants_with_nothing_to_say_are_counted_not_listed_unless_verbose() -> None:
    tenants = [_health(f"t{i:02d}", "healthy") for i in range(10)] + [
        _health("odd", "failing", ("own note",))
    ]
    quiet = render_health_text(tenants, verbose=False)
    assert "t00" not in quiet and "odd: no session arrives" in quiet and "note: own note" in quiet
    assert quiet.rstrip().endswith(
        "10 with nothing more to say not shown (-v shows every tenant). Groups losing sessions: 0."
    )
    loud = render_health_text(tenants, verbose=True)
    assert "t00..t09 (10 tenants): healthy" in loud
