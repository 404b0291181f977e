"""Issue 5 reliability: `apply --plan FILE` applies exactly a reviewed plan, or nothing.

When an object the plan touches changed since (a field changed by hand, a row that appeared),
apply refuses with exit 1, says field by field what changed, and writes nothing (checked in the
sandbox's request log). So it does when the tenant files changed since the plan.

Issue 16: nothing in the file is trusted. A plan edited after review (a desired value, a change
or tenant the files do not declare, its dependencies, the rails) is refused with exit 4 and one
line per difference; a file that is no plan (NaN, wrong types, deep, huge, endless) with exit 1
and one line, before any request.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.plan.serialize import decode_plan_data
from reconciler.render import render_json
from rescue_sandbox import SandboxHandle

from .conftest import EXAMPLE_TENANTS, control, invoke
from .test_apply_support import (
    actionable,
    client_settings,
    live_view,
    log_entries,
    plan_json,
    reset_log,
    writes,
)

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _fast_clients(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with client_settings(monkeypatch):
        yield


def _save_plan(tenants: Path, handle: SandboxHandle, out: Path) -> None:
    run = invoke("plan", str(tenants), "--sandbox", str(handle.state_dir), "--out", str(out))
    assert run.code == 0, run.output
    assert out.is_file()


def _apply_saved(tenants: Path, handle: SandboxHandle, plan: Path) -> tuple[int, str]:
    run = invoke(
        "apply",
        str(tenants),
        "--plan",
        str(plan),
        "--sandbox",
        str(handle.state_dir),
        "--auto-approve",
        "--force",
    )
    return run.code, run.output


def test_stale_saved_plan_is_refused_field_by_field_and_nothing_is_written(
    demo_sandbox: SandboxHandle, tenants_copy: Path, tmp_path: Path
) -> None:
    plan = tmp_path / "plan.json"
    _save_plan(tenants_copy, demo_sandbox, plan)
    # By hand, after the review: another option of the integration row the plan updates, the
    # SSO ID of the Rescue technician the plan updates, and the settings row the plan would
    # create appears (the integration creates it at dave's first PIN request).
    control(
        demo_sandbox,
        "PATCH",
        "/tenants/contoso/dynamics/integration",
        {"fields": {"reassign_case_on_session_start": False}},
    )
    control(
        demo_sandbox,
        "PATCH",
        "/tenants/fabrikam/rescue/technicians/grace.smith@fabrikam.com",
        {"ssoid": "grace-2"},
    )
    pin = control(demo_sandbox, "POST", "/tenants/contoso/rescue/pin", {"email": "dave@contoso.com"})
    assert pin["settings_row_created"]
    reset_log(demo_sandbox)

    code, output = _apply_saved(tenants_copy, demo_sandbox, plan)

    assert code == 1, output
    assert "the saved plan is stale; nothing was written" in output
    assert (
        "contoso: integration:configuration: reassign_case_on_session_start: planned true, now false"
        in output
    )
    assert 'fabrikam: rescue_technician:30213: sso_id: planned "g.smith", now "grace-2"' in output
    assert "contoso: technician:dave@contoso.com: did not exist at plan time, exists now" in output
    # What did not change is not blamed.
    assert "erin@contoso.com" not in output
    assert "session_key" not in output
    assert writes(demo_sandbox) == []


def test_saved_plan_is_refused_when_the_tenant_files_changed(
    demo_sandbox: SandboxHandle, tenants_copy: Path, tmp_path: Path
) -> None:
    plan = tmp_path / "plan.json"
    _save_plan(tenants_copy, demo_sandbox, plan)
    path = tenants_copy / "contoso" / "tenant.yaml"
    data = yaml.safe_load(path.read_text("utf-8"))
    data["technicians"][0]["sso_id"] = "alice-2"
    path.write_text(yaml.safe_dump(data, sort_keys=False), "utf-8")
    reset_log(demo_sandbox)

    code, output = _apply_saved(tenants_copy, demo_sandbox, plan)

    assert code == 1, output
    assert "contoso: the tenant files changed since the plan was made" in output
    assert "fabrikam: the tenant files changed" not in output
    assert writes(demo_sandbox) == []


def test_unchanged_saved_plan_is_applied_exactly(
    demo_sandbox: SandboxHandle, tenants_copy: Path, tmp_path: Path
) -> None:
    """Drift on an object the plan does not touch neither blocks the plan nor is fixed by it."""
    plan = tmp_path / "plan.json"
    _save_plan(tenants_copy, demo_sandbox, plan)
    control(demo_sandbox, "PATCH", "/tenants/contoso/dynamics/settings/bob@contoso.com", {"sso_id": "bobby"})

    code, output = _apply_saved(tenants_copy, demo_sandbox, plan)

    assert code == 0, output
    run = invoke("plan", str(tenants_copy), "--sandbox", str(demo_sandbox.state_dir), "--format", "json")
    assert actionable(plan_json(run.stdout)) == {
        "contoso": [("update", "technician:bob@contoso.com")],
        "fabrikam": [],
    }
    row = live_view(demo_sandbox, "contoso").row("bob@contoso.com")
    assert row is not None and row[live_view(demo_sandbox, "contoso").sso_column] == "bobby"


# -- Issue 16, case 5: the plan applied is the plan shown, and still follows from the files -------
#
# A saved plan is edited after review, the way an attacker with write access to the artifact
# would: each edit keeps the file consistent with itself (its ids, counts and rail verdicts are
# re-derived, see `_tamper`), so only the recomputation from the tenant files can tell. Each is
# refused with exit 4 and exactly one line naming the difference, even with --force, and nothing
# is written.

Edit = Callable[[dict[str, Any]], None]


def _tenant(data: dict[str, Any], name: str) -> dict[str, Any]:
    return next(t for t in data["tenants"] if t["tenant"] == name)


def _change(data: dict[str, Any], tenant: str, change_id: str) -> dict[str, Any]:
    return next(c for c in _tenant(data, tenant)["changes"] if c["id"] == change_id)


def _sso_of_dave(data: dict[str, Any]) -> None:
    _change(data, "contoso", "technician:dave@contoso.com")["desired"]["fields"]["sso_id"] = "mallory"


def _create_for_an_undeclared_user(data: dict[str, Any]) -> None:
    dave = _change(data, "contoso", "technician:dave@contoso.com")
    mallory = copy.deepcopy(dave)  # mapped to dave's Rescue node
    mallory["key"] = mallory["desired"]["fields"]["user"] = "mallory@contoso.com"
    mallory["desired"]["fields"]["user_id"] = "0f0f0f0f-0000-4000-8000-000000000001"
    _tenant(data, "contoso")["changes"].append(mallory)


def _create_with_a_line_break(data: dict[str, Any]) -> None:
    """A key that would start a line of its own (a GitHub `::error` command) is shown escaped."""
    dave = _change(data, "contoso", "technician:dave@contoso.com")
    odd = copy.deepcopy(dave)
    odd["key"] = odd["desired"]["fields"]["user"] = "x\n::error::\u202eowned@contoso.com"
    _tenant(data, "contoso")["changes"].append(odd)


def _key_of_dave(data: dict[str, Any]) -> None:
    _change(data, "contoso", "technician:dave@contoso.com")["key"] = "frank@contoso.com"


def _dependencies_of_dave(data: dict[str, Any]) -> None:
    _change(data, "contoso", "technician:dave@contoso.com")["depends_on"] = ["integration:configuration"]


def _shown_item(data: dict[str, Any]) -> None:
    """The reviewer sees `close_ticket_on_session_end: true -> true`; the desired value is false."""
    update = _change(data, "contoso", "integration:configuration")
    item = next(i for i in update["items"] if i["path"] == "close_ticket_on_session_end")
    item["after"] = True


def _rails(field: str, value: Any) -> Edit:
    def edit(data: dict[str, Any]) -> None:
        _tenant(data, "contoso")["safety"][field] = value

    return edit


def _counts_times_a_million(data: dict[str, Any]) -> None:
    counts = _tenant(data, "contoso")["live_counts"]
    for kind in counts:
        counts[kind] *= 1_000_000


TAMPERED: list[tuple[str, Edit, str]] = [
    (
        "edited desired field",
        _sso_of_dave,
        'contoso: technician:dave@contoso.com: desired.fields.sso_id: the plan has "mallory", '
        'the tenant files and live state give "dave"',
    ),
    (
        "added change",
        _create_for_an_undeclared_user,
        "contoso: technician:mallory@contoso.com: the plan has a create; "
        "the tenant files and live state give no such change",
    ),
    (
        "added change, its key escaped",
        _create_with_a_line_break,
        "contoso: technician:x\\n::error::\\u202eowned@contoso.com: the plan has a create; "
        "the tenant files and live state give no such change",
    ),
    (
        "changed key",
        _key_of_dave,
        "contoso: technician:frank@contoso.com: its desired object is technician:dave@contoso.com, "
        "not the object the change names",
    ),
    (
        "changed dependencies",
        _dependencies_of_dave,
        'contoso: technician:dave@contoso.com: depends_on: the plan has ["integration:configuration"], '
        "the tenant files and live state give []",
    ),
    (
        "rendered item disagrees with the desired value",
        _shown_item,
        "contoso: integration:configuration: items[0].after: the plan has true, "
        "the tenant files and live state give false",
    ),
    (
        "rails: max_change_fraction",
        _rails("max_change_fraction", 1.0),
        "contoso: safety.max_change_fraction: the plan has 1.0, the tenant files give 0.3",
    ),
    (
        "rails: min_objects",
        _rails("min_objects", 1_000_000_000),
        "contoso: safety.min_objects: the plan has 1000000000, the tenant files give 10",
    ),
    (
        "rails: live_counts x 10^6",
        _counts_times_a_million,
        "contoso: live_counts.application_user: the plan has 1000000, live state has 1 "
        "(the safety rails count live objects)\n"
        "contoso: live_counts.integration: the plan has 1000000, live state has 1 "
        "(the safety rails count live objects)",
    ),
]


@pytest.fixture(scope="module")
def saved(
    shared_demo: SandboxHandle, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, Any]]:
    """The demo tenants and the plan saved from them (every test here is refused: nothing changes)."""
    folder = tmp_path_factory.mktemp("saved")
    tenants = folder / "tenants"
    shutil.copytree(EXAMPLE_TENANTS, tenants)
    with client_settings(pytest.MonkeyPatch()):
        _save_plan(tenants, shared_demo, folder / "plan.json")
    return tenants, json.loads((folder / "plan.json").read_text("utf-8"))


def _tamper(data: dict[str, Any], edit: Edit, path: Path) -> Path:
    """The edited plan, its derived parts (ids, counts, rail verdicts) made to agree again."""
    changed = copy.deepcopy(data)
    edit(changed)
    path.write_text(render_json(decode_plan_data(changed)), "utf-8")
    return path


def _difference_lines(output: str) -> list[str]:
    """The indented lines of a refusal: one per difference."""
    return [line.strip() for line in output.splitlines() if line.startswith("  ")]


@pytest.mark.parametrize(("edit", "line"), [t[1:] for t in TAMPERED], ids=[t[0] for t in TAMPERED])
def test_a_tampered_saved_plan_is_refused_with_exit_4_and_one_line(
    shared_demo: SandboxHandle, saved: tuple[Path, dict[str, Any]], tmp_path: Path, edit: Edit, line: str
) -> None:
    tenants, data = saved
    plan = _tamper(data, edit, tmp_path / "plan.json")
    reset_log(shared_demo)

    code, output = _apply_saved(tenants, shared_demo, plan)  # with --force: no rail lets it through

    assert code == 4, output
    assert (
        "the saved plan is not the plan the tenant files and live state give; nothing was written" in output
    )
    assert _difference_lines(output) == line.split("\n"), output  # one line per difference
    assert writes(shared_demo) == []


def test_an_untampered_copy_of_the_saved_plan_passes_the_same_check(
    shared_demo: SandboxHandle, saved: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    """The table above refuses the edits, not the way `_tamper` rewrites a file (without --force
    the rails refuse the role change, so nothing is written either)."""
    tenants, data = saved
    plan = _tamper(data, lambda d: None, tmp_path / "plan.json")
    reset_log(shared_demo)
    run = invoke(
        "apply", str(tenants), "--plan", str(plan), "--sandbox", str(shared_demo.state_dir), "--auto-approve"
    )
    assert run.code == 4, run.output
    assert "refused by the safety rails" in run.output
    assert "contoso: changes the application user's security roles" in run.output
    assert writes(shared_demo) == []


def test_a_tenant_the_files_do_not_declare_is_refused_before_any_request(
    shared_demo: SandboxHandle, saved: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    tenants, data = saved

    def ghost(plan: dict[str, Any]) -> None:
        extra = copy.deepcopy(_tenant(plan, "fabrikam"))
        extra["tenant"] = "ghost"
        plan["tenants"].append(extra)

    plan = _tamper(data, ghost, tmp_path / "plan.json")
    reset_log(shared_demo)
    code, output = _apply_saved(tenants, shared_demo, plan)
    assert code == 4, output
    assert _difference_lines(output) == ["ghost: no such tenant in the tenant files"], output
    assert log_entries(shared_demo) == []


def test_an_edit_that_leaves_the_file_contradicting_itself_is_refused_before_any_request(
    shared_demo: SandboxHandle, saved: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    """A naive edit (the change's key, not its id): the reader refuses it, exit 4."""
    tenants, data = saved
    edited = copy.deepcopy(data)
    _key_of_dave(edited)
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(edited), "utf-8")
    reset_log(shared_demo)
    code, output = _apply_saved(tenants, shared_demo, plan)
    assert code == 4, output
    assert "contradicts itself" in output
    assert _difference_lines(output) == [
        'tenants[0].changes[3].id: the file has "technician:dave@contoso.com", '
        'its content gives "technician:frank@contoso.com"'
    ], output
    assert log_entries(shared_demo) == []


# -- Issue 16, case 6: bad plan files are one line, exit 1, and no request ------------------------

MALFORMED: list[tuple[str, Callable[[dict[str, Any]], str], str]] = [
    (
        '"changes": [[1]]',
        lambda d: json.dumps({**d, "tenants": [{**d["tenants"][0], "changes": [[1]]}]}),
        "tenants[0].changes[0]: Input should be a valid dictionary",
    ),
    (
        "NaN",
        lambda d: json.dumps(d).replace('"max_change_fraction": 0.3', '"max_change_fraction": NaN', 1),
        "holds NaN",
    ),
    (
        "Infinity",
        lambda d: json.dumps(d).replace('"technician": 3', '"technician": Infinity', 1),
        "holds Infinity",
    ),
    (
        "wrong type",
        lambda d: json.dumps(d).replace('"sso_id": "dave"', '"sso_id": ["dave"]', 1),
        "desired.fields.sso_id: Input should be a valid string",
    ),
    ("deep nesting", lambda d: "[" * 100_000, "is nested more than 32 deep"),
]


@pytest.mark.parametrize(("make", "expected"), [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED])
def test_a_malformed_plan_file_is_one_line_exit_1_and_no_request(
    shared_demo: SandboxHandle,
    saved: tuple[Path, dict[str, Any]],
    tmp_path: Path,
    make: Callable[[dict[str, Any]], str],
    expected: str,
) -> None:
    tenants, data = saved
    plan = tmp_path / "plan.json"
    plan.write_text(make(data), "utf-8")
    _refused_unread(tenants, shared_demo, plan, expected)


def test_huge_endless_and_special_plan_files_are_refused_unread(
    shared_demo: SandboxHandle, saved: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    tenants, _ = saved
    huge = tmp_path / "huge.json"
    with open(huge, "wb") as handle:
        handle.truncate(1 << 40)  # a terabyte, sparse
    _refused_unread(tenants, shared_demo, huge, "is larger than a plan file may be")
    _refused_unread(tenants, shared_demo, Path("/dev/zero"), "is a device, not a regular file")
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    _refused_unread(tenants, shared_demo, fifo, "is a FIFO, not a regular file")


def _refused_unread(tenants: Path, handle: SandboxHandle, plan: Path, expected: str) -> None:
    reset_log(handle)
    done: list[tuple[int, str]] = []
    worker = threading.Thread(target=lambda: done.append(_apply_saved(tenants, handle, plan)), daemon=True)
    worker.start()
    worker.join(timeout=30)
    assert done, f"apply --plan {plan} did not return"
    code, output = done[0]
    assert code == 1, output
    lines = output.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {plan}: ") and expected in lines[0], lines
    assert log_entries(handle) == []
