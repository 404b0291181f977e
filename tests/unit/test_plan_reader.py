"""The one strict reader of saved plan files (issue 16, case 6): every bad file is one line and
exit 1, a file that contradicts itself exit 4; FIFOs, devices, huge and deep files never hang,
fill the memory or blow the stack."""

from __future__ import annotations

import copy
import json
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_plan_render import sample_plan

from reconciler.errors import EXIT_ERROR, EXIT_UNSAFE, PlanFileError, PlanMismatchError
from reconciler.plan import decode_plan, encode_plan, read_plan_file
from reconciler.plan import reader as plan_reader
from reconciler.plan.reader import MAX_DEPTH, nesting_depth
from reconciler.render import render_json


def good() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(render_json(sample_plan()))
    return data


def edited(change: Callable[[dict[str, Any]], None]) -> str:
    data = good()
    change(data)
    return json.dumps(data)


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """Set ``tenants.0.changes.1.desired.fields.sso_id``-style paths."""

    def apply(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = data
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return apply


# (name, file text, what the one line says)
MALFORMED: list[tuple[str, str | bytes, str]] = [
    ("changes [[1]]", edited(_set("tenants.0.changes", [[1]])), "tenants[0].changes[0]: Input should be"),
    ("100,000 [", "[" * 100_000, f"nested more than {MAX_DEPTH} deep"),
    ("100,000 { in a plan", '{"format_version": 2, "x": ' + '{"a":' * 100_000, f"more than {MAX_DEPTH}"),
    ("NaN", edited(_set("tenants.0.safety.max_change_fraction", "NAN")).replace('"NAN"', "NaN"), "holds NaN"),
    (
        "Infinity",
        edited(_set("tenants.0.live_counts.technician", "INF")).replace('"INF"', "Infinity"),
        "Infinity",
    ),
    (
        "-Infinity",
        edited(_set("tenants.0.safety.min_objects", "INF")).replace('"INF"', "-Infinity"),
        "-Infinity",
    ),
    (
        "1e999",
        edited(_set("tenants.0.safety.max_change_fraction", "BIG")).replace('"BIG"', "1e999"),
        "out of range",
    ),
    ("min_objects 1e9 (a float)", edited(_set("tenants.0.safety.min_objects", 1e9)), "safety.min_objects"),
    (
        "fraction above 1",
        edited(_set("tenants.0.safety.max_change_fraction", 5)),
        "safety.max_change_fraction",
    ),
    ("negative count", edited(_set("tenants.0.live_counts.technician", -1)), "live_counts.technician"),
    (
        "sso_id a number",
        edited(_set("tenants.0.changes.1.desired.fields.sso_id", 5)),
        "desired.fields.sso_id",
    ),
    ("bool for an int", edited(_set("tenants.0.safety.min_objects", True)), "safety.min_objects"),
    ("unknown op", edited(_set("tenants.0.changes.1.op", "erase")), "changes[1]: Input tag 'erase'"),
    ("unknown kind", edited(_set("tenants.0.changes.1.desired.kind", "user")), "changes[1].desired"),
    ("extra key", edited(_set("tenants.0.changes.1.force", True)), "changes[1].force: Extra inputs"),
    (
        "missing field",
        edited(lambda d: d["tenants"][0]["changes"][1]["desired"]["fields"].pop("sso_id")),
        "sso_id",
    ),
    ("item of no field", edited(_set("tenants.0.changes.0.items.1.path", "colour")), "has no field 'colour'"),
    ("item of a wrong type", edited(_set("tenants.0.changes.0.items.1.after", "no")), "items[1].after"),
    ("sensitive item shown", edited(_set("tenants.0.changes.0.items.0.after", "hunter2")), "items[0].after"),
    ("repeated key", '{"format_version": 2, "format_version": 2}', "holds the key"),
    (
        "tenant twice",
        edited(lambda d: d["tenants"].append(copy.deepcopy(d["tenants"][0]))),
        "in the file twice",
    ),
    (
        "change twice",
        edited(lambda d: d["tenants"][0]["changes"].append(d["tenants"][0]["changes"][1])),
        "twice",
    ),
    ("not JSON", "{", "is not JSON"),
    ("not UTF-8", b'{"a": "\xff"}', "is not UTF-8"),
    ("empty", "", "is not JSON"),
    ("a list", "[]", "no format_version"),
    ("version 1", '{"format_version": 1}', "format_version 1 is not supported"),
    ("version as text", '{"format_version": "2"}', 'format_version "2" is not supported'),
    ("a huge integer", '{"format_version": ' + "9" * 5000 + "}", "is not JSON"),
]


@pytest.mark.parametrize(("text", "expected"), [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED])
def test_a_malformed_plan_file_is_one_line_and_exit_1(
    tmp_path: Path, text: str | bytes, expected: str
) -> None:
    path = tmp_path / "plan.json"
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    with pytest.raises(PlanFileError) as caught:
        read_plan_file(path)
    assert caught.value.exit_code == EXIT_ERROR
    lines = caught.value.format().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"error: {path}: ") and expected in lines[0], lines


# Edits of what reconcile derives from the rest: the file contradicts itself (exit 4).
CONTRADICTIONS = [
    ("id", "tenants.0.changes.1.id", "technician:eve@contoso.com", "tenants[0].changes[1].id"),
    ("resource key", "tenants.0.changes.1.desired.key", "eve@contoso.com", "changes[1].desired.key"),
    ("summary", "tenants.0.summary.technician.create", 0, "tenants[0].summary.technician.create"),
    ("has_changes", "has_changes", False, "has_changes: the file has false"),
    ("violations", "tenants.0.violations", [], "tenants[0].violations"),
    (
        "a role twice",
        "tenants.0.changes.2.desired.fields.roles",
        ["LogMeIn Integration User"] * 2,
        "fields.roles",
    ),
]


@pytest.mark.parametrize(
    ("path", "value", "expected"), [c[1:] for c in CONTRADICTIONS], ids=[c[0] for c in CONTRADICTIONS]
)
def test_a_plan_file_that_contradicts_itself_is_refused_with_exit_4(
    tmp_path: Path, path: str, value: Any, expected: str
) -> None:
    file = tmp_path / "plan.json"
    file.write_text(edited(_set(path, value)))
    with pytest.raises(PlanMismatchError) as caught:
        read_plan_file(file)
    assert caught.value.exit_code == EXIT_UNSAFE
    (
        header,
        *lines,
    ) = caught.value.message.splitlines()
    assert "contradicts itself" in header
    assert len(lines) == 1 and expected in lines[0], lines


def test_a_plan_reconcile_wrote_reads_back_exactly(tmp_path: Path) -> None:
    file = tmp_path / "plan.json"
    file.write_text(render_json(sample_plan()))
    assert encode_plan(read_plan_file(file)) == encode_plan(decode_plan(good()))
    assert json.loads(json.dumps(encode_plan(read_plan_file(file)), default=str)) == good()


def test_a_fifo_is_refused_at_once_and_never_waited_on(tmp_path: Path) -> None:
    fifo = tmp_path / "plan.json"
    os.mkfifo(fifo)
    outcome: list[BaseException] = []
    worker = threading.Thread(target=lambda: _catch(lambda: read_plan_file(fifo), outcome), daemon=True)
    worker.start()
    worker.join(timeout=10)
    if worker.is_alive():  # it hangs: let it go (a writer end unblocks the open), then fail
        with open(fifo, "w"):
            pass
        pytest.fail("reading a FIFO hung")
    assert isinstance(outcome[0], PlanFileError)
    assert (
        outcome[0].format()
        == f"error: {fifo}: is a FIFO, not a regular file: a plan file is read only from a regular file"
    )


def _catch(call: Callable[[], object], into: list[BaseException]) -> None:
    try:
        call()
    except BaseException as exc:
        into.append(exc)


def test_a_fifo_swapped_in_after_the_check_is_refused_by_fstat(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race: a regular file at stat time, a FIFO at open time (opened non-blocking)."""
    fifo = tmp_path / "plan.json"
    os.mkfifo(fifo)
    regular = os.stat(__file__)
    real_stat = os.stat
    monkeypatch.setattr(os, "stat", lambda p, *a, **k: regular if Path(p) == fifo else real_stat(p, *a, **k))
    with pytest.raises(PlanFileError, match="is a FIFO"):
        read_plan_file(fifo)


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
def test_dev_zero_is_refused_without_reading_it() -> None:
    with pytest.raises(PlanFileError) as caught:
        read_plan_file(Path("/dev/zero"))
    assert (
        caught.value.format()
        == "error: /dev/zero: is a device, not a regular file: a plan file is read only from a regular file"
    )


def test_a_folder_and_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PlanFileError, match="is a folder"):
        read_plan_file(tmp_path)
    with pytest.raises(PlanFileError, match="does not exist"):
        read_plan_file(tmp_path / "nope.json")


def test_a_file_over_the_size_cap_is_refused_before_it_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "plan.json"
    path.write_text(render_json(sample_plan()))
    monkeypatch.setattr(plan_reader, "MAX_PLAN_BYTES", 100)
    with pytest.raises(
        PlanFileError, match=r"is larger than a plan file may be \([0-9,]+ bytes; at most 100\)"
    ):
        read_plan_file(path)


def test_a_sparse_file_of_a_terabyte_is_refused_by_its_size(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    with open(path, "wb") as handle:
        handle.truncate(1 << 40)
    with pytest.raises(PlanFileError, match="is larger than a plan file may be"):
        read_plan_file(path)


def test_a_file_that_grows_after_the_check_is_cut_at_the_cap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The size checks passed (as before the file grew): the read itself stops at the cap."""
    path = tmp_path / "plan.json"
    path.write_text(" " * 300)
    monkeypatch.setattr(plan_reader, "MAX_PLAN_BYTES", 200)
    monkeypatch.setattr(plan_reader, "_check_regular", lambda info, name, **what: None)
    real_fstat = os.fstat  # and the open handle reports the size it had before it grew
    monkeypatch.setattr(os, "fstat", lambda fd: os.stat_result((*real_fstat(fd)[:6], 0, *real_fstat(fd)[7:])))
    with pytest.raises(PlanFileError, match=r"more than 200 bytes"):
        read_plan_file(path)


JSON_LEAVES = st.none() | st.booleans() | st.integers() | st.text(alphabet=st.sampled_from('ab"\\[]{}:,\n'))
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(alphabet='[]{}"\\x'), inner, max_size=3)
    ),
    max_leaves=20,
)


def _depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    return 0


@given(JSON_VALUES)
def test_the_depth_count_skips_brackets_inside_strings(value: Any) -> None:
    assert nesting_depth(json.dumps(value)) == _depth(value)
    assert nesting_depth(json.dumps(value, indent=2, ensure_ascii=False)) == _depth(value)
