"""A saved plan against its recomputation (engine/staleness.py, pure): what is a difference,
what is left to the staleness check, and which dependencies a saved plan may not leave out."""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Iterator
from typing import Any

import pytest
from test_plan_render import sample_plan

from reconciler.engine.staleness import count_mismatches, mismatches, stale_reasons
from reconciler.errors import PlanFileError, PlanMismatchError
from reconciler.kinds import KINDS
from reconciler.kinds.rescue_technician import RescueTechnician
from reconciler.kinds.technician_settings import TechnicianSettings
from reconciler.plan import Change, Create, FieldChange, SafetySettings, TenantPlan, Update, decode_plan
from reconciler.render import render_json
from reconciler.resources import LiveMeta, LiveState, Resource

ROW = LiveMeta(id="row-1", etag='W/"7"')
BOB_LIVE = TechnicianSettings(user="bob@x.com", technician_id="2", sso_id="old", meta=ROW)
BOB_WANT = TechnicianSettings(user="bob@x.com", technician_id="2", sso_id="bob")
BOB = Update("technician", "bob@x.com", (), BOB_WANT, BOB_LIVE, (FieldChange("sso_id", "old", "bob"),))
NEW_NODE = RescueTechnician(technician_id="new:eve@x.com", email="eve@x.com", sso_id="eve", create_group="G")
NODE = Create("rescue_technician", "new:eve@x.com", (), NEW_NODE)
EVE = Create(
    "technician",
    "eve@x.com",
    ("rescue_technician:new:eve@x.com",),
    TechnicianSettings(user="eve@x.com", technician_id="new:eve@x.com", sso_id="eve"),
)


DEFAULT_RAILS = SafetySettings()


def _plan(*changes: Change, safety: SafetySettings = DEFAULT_RAILS) -> TenantPlan:
    return TenantPlan("t", "digest", changes=changes, live_counts={"technician": 3}, safety=safety)


def _live(*resources: Resource) -> LiveState:
    live = LiveState(listed={"technician", "rescue_technician"})
    for resource in resources:
        live.add(resource)
    return live


NOW = _plan(BOB, NODE, EVE)
LIVE = _live(BOB_LIVE)


def test_the_recomputed_plan_itself_and_any_part_of_it_with_its_dependencies_pass() -> None:
    assert mismatches(NOW, NOW, LIVE) == []
    assert mismatches(_plan(NODE, EVE), NOW, LIVE) == []  # e.g. `plan --target technician:eve@x.com`
    assert stale_reasons(NOW, "digest", LIVE) == []


def test_an_edited_desired_value_is_one_line() -> None:
    edited = dataclasses.replace(BOB, desired=dataclasses.replace(BOB_WANT, sso_id="mallory"))
    assert mismatches(_plan(edited, NODE, EVE), NOW, LIVE) == [
        'technician:bob@x.com: desired.fields.sso_id: the plan has "mallory", '
        'the tenant files and live state give "bob"'
    ]


def test_a_change_that_leaves_out_what_it_depends_on_is_refused() -> None:
    """Applied without its Rescue technician, eve's settings row would point at no node."""
    assert mismatches(_plan(EVE), NOW, LIVE) == [
        "technician:eve@x.com: depends on rescue_technician:new:eve@x.com, which the plan leaves out"
    ]


def test_a_change_the_recomputation_does_not_have_is_refused() -> None:
    ghost = Create("technician", "z@x.com", (), TechnicianSettings(user="z@x.com", technician_id="2"))
    assert mismatches(_plan(ghost), NOW, LIVE) == [
        "technician:z@x.com: the plan has a create; the tenant files and live state give no such change"
    ]


def test_a_change_whose_object_is_not_its_own_is_refused_not_called_stale() -> None:
    renamed = dataclasses.replace(BOB, key="carol@x.com")
    lines = mismatches(_plan(renamed), NOW, LIVE)
    assert lines == [
        "technician:carol@x.com: its desired object is technician:bob@x.com, not the object the change names",
        "technician:carol@x.com: its live object is technician:bob@x.com, not the object the change names",
    ]
    assert stale_reasons(_plan(renamed), "digest", LIVE) == []  # not "is gone now": it never was


def test_a_stale_change_is_left_to_the_staleness_check() -> None:
    changed = dataclasses.replace(BOB_LIVE, sso_id="by-hand", meta=LiveMeta(id="row-1", etag='W/"8"'))
    live = _live(changed)
    now = _plan(dataclasses.replace(BOB, live=changed, items=(FieldChange("sso_id", "by-hand", "bob"),)))
    assert mismatches(_plan(BOB), now, live) == []
    assert stale_reasons(_plan(BOB), "digest", live) == [
        'technician:bob@x.com: sso_id: planned "old", now "by-hand"'
    ]


def test_content_outside_the_etag_that_changed_is_stale() -> None:
    """Equal ETags, other content (an application user's roles are associations, not columns)."""
    done = dataclasses.replace(BOB_LIVE, sso_id="bob")  # same ETag
    assert stale_reasons(_plan(BOB), "digest", _live(done)) == [
        'technician:bob@x.com: sso_id: planned "old", now "bob"'
    ]


def test_rails_thresholds_come_from_the_files_and_counts_from_the_fresh_read() -> None:
    loose = _plan(BOB, safety=SafetySettings(max_change_fraction=1.0, min_objects=10**9))
    assert mismatches(loose, NOW, LIVE) == [
        "safety.max_change_fraction: the plan has 1.0, the tenant files give 0.3",
        "safety.min_objects: the plan has 1000000000, the tenant files give 10",
    ]
    inflated = dataclasses.replace(_plan(BOB), live_counts={"technician": 3_000_000})
    assert count_mismatches(inflated, NOW) == [
        "live_counts.technician: the plan has 3000000, live state has 3 (the safety rails count live objects)"
    ]
    # Only the kinds the plan updates or deletes count for the rails.
    assert count_mismatches(dataclasses.replace(_plan(EVE), live_counts={"technician": 1}), NOW) == []


# -- No edit of a saved change goes unnoticed ----------------------------------------------------
#
# Every leaf of every change apply would carry out in a saved plan file, edited to another value
# of its type: the reader refuses the file, or the check against the recomputation (here: the
# plan as it was saved, live state as it was read) names a difference or a stale object. There
# is no field of a change whose edit would be applied unseen.


def _leaves(value: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, (*path, key))
    elif isinstance(value, list) and value:
        for n, item in enumerate(value):
            yield from _leaves(item, (*path, n))
    else:
        yield path, value


def _other(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value + 1
    if isinstance(value, str):
        return value + "x"
    if value == []:
        return ["x"]
    return "x"


SAVED = json.loads(render_json(sample_plan()))
ACTIONABLE = [
    n
    for n, c in enumerate(SAVED["tenants"][0]["changes"])
    if c["op"] in ("create", "update", "delete", "action")
]
EDITS = [
    (("tenants", 0, "changes", n, *path), value)
    for n in ACTIONABLE
    for path, value in _leaves(SAVED["tenants"][0]["changes"][n])
]


def _edit(data: Any, path: tuple[str | int, ...], value: Any) -> Any:
    edited = copy.deepcopy(data)
    node = edited
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return edited


@pytest.mark.parametrize(("path", "value"), EDITS, ids=[".".join(map(str, p[3:])) for p, _ in EDITS])
def test_an_edit_of_any_field_of_a_saved_change_is_noticed(path: tuple[str | int, ...], value: Any) -> None:
    original = decode_plan(SAVED).tenants[0]
    live = LiveState(listed=set(KINDS))
    for change in original.actionable:
        resource = getattr(change, "live", None)
        if resource is not None:
            live.add(resource)
    assert mismatches(original, original, live) == [] and stale_reasons(original, "abc", live) == []
    try:
        edited = decode_plan(_edit(SAVED, path, _other(value))).tenants[0]
    except (PlanFileError, PlanMismatchError):
        return  # the reader refused it
    assert mismatches(edited, original, live) or stale_reasons(edited, "abc", live)
