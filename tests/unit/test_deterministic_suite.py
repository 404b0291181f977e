"""The suite is the same from one run to the next (issue 16, case 11)."""

from __future__ import annotations

import os

from hypothesis import settings


def test_property_tests_draw_from_a_fixed_seed_with_no_example_database() -> None:
    if os.environ.get("HYPOTHESIS_PROFILE", "deterministic") != "deterministic":
        return  # someone is exploring on purpose
    assert settings.default.derandomize is True
    assert settings.default.database is None
