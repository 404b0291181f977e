"""Exit codes are decided by the values themselves: the plan, the apply result, each error."""

from __future__ import annotations

import pytest

from reconciler.errors import (
    ChangeFailed,
    IncompleteError,
    TransportError,
    UnsafePlanError,
)
from reconciler.plan import (
    ApplyResult,
    Create,
    Delete,
    Outcome,
    Plan,
    TenantApplyResult,
    TenantPlan,
    UnknownChange,
)
from reconciler.resources import TechnicianSettings

ROW = TechnicianSettings(user="a@x.com", technician_id="1")
CREATE = Create("technician", "a@x.com", (), desired=ROW)


def _plan(*changes: object, error: str = "") -> Plan:
    return Plan((TenantPlan("t", "d", changes=tuple(changes), error=error),))  # type: ignore[arg-type]


def test_plan_exit_codes() -> None:
    assert _plan().exit_code(changes_exit=True) == 0
    assert _plan(CREATE).exit_code(changes_exit=False) == 0
    assert _plan(CREATE).exit_code(changes_exit=True) == 2
    assert _plan(CREATE, UnknownChange("technician", "b", (), reason="503")).exit_code(changes_exit=True) == 3
    assert _plan(error="credentials refused").exit_code(changes_exit=True) == 1


def test_the_plan_refuses_itself_when_a_rail_holds_it_back() -> None:
    unsafe = _plan(Delete("technician", "a@x.com", (), live=ROW))
    with pytest.raises(UnsafePlanError, match=r"deletes technician a@x\.com") as info:
        unsafe.raise_if_unsafe()
    assert info.value.exit_code == 4
    unsafe.raise_if_unsafe(force=True)
    _plan(CREATE).raise_if_unsafe()


def test_apply_result_exit_codes() -> None:
    plan = _plan(CREATE)
    done = TenantApplyResult("t", outcomes=(Outcome(CREATE.id, "done"),))
    failed = TenantApplyResult("t", outcomes=(Outcome(CREATE.id, "failed", "boom"),))
    assert ApplyResult((done,)).exit_code(plan) == 0
    assert ApplyResult((failed,)).exit_code(plan) == 1
    assert ApplyResult((done, failed)).exit_code(plan) == 3
    assert ApplyResult((TenantApplyResult("t", error="refused"),)).exit_code(plan) == 1
    incomplete = _plan(CREATE, UnknownChange("technician", "b", (), reason="503"))
    assert ApplyResult((done,)).exit_code(incomplete) == 3


def test_apply_failures_join_the_tree() -> None:
    assert issubclass(ChangeFailed, IncompleteError) and ChangeFailed("x").exit_code == 3
    assert TransportError("lost").maybe_applied is False
    assert TransportError("lost", maybe_applied=True).maybe_applied is True
