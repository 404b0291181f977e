"""Exit codes are decided by the values themselves: the plan, the apply result, each error."""

from __future__ import annotations

import ast
from pathlib import Path

import click
import pytest

import reconciler
import reconciler.cli as cli_module
from reconciler.errors import (
    ChangeFailed,
    IncompleteError,
    TransportError,
    UnsafePlanError,
)
from reconciler.kinds.technician_settings import TechnicianSettings
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
from reconciler.plan.outcomes import DemoResult, DemoStep, ProfileResult

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
    # A change left running (a solution import past its wait) is unknown: exit 3, never 1.
    unknown = TenantApplyResult("t", outcomes=(Outcome(CREATE.id, "unknown", "import running"),))
    assert ApplyResult((unknown,)).exit_code(plan) == 3
    assert ApplyResult((unknown, failed)).exit_code(plan) == 3
    assert ApplyResult((unknown,)).totals()["unknown"] == 1


def test_apply_failures_join_the_tree() -> None:
    assert issubclass(ChangeFailed, IncompleteError) and ChangeFailed("x").exit_code == 3
    assert TransportError("lost").maybe_applied is False
    assert TransportError("lost", maybe_applied=True).maybe_applied is True


def test_the_outcomes_of_profile_discover_and_the_demo_decide_their_exit_codes() -> None:
    assert ProfileResult().exit_code == 0
    assert ProfileResult(blocking=("integration.table: not found",)).exit_code == 1
    ran = DemoStep("plan", 2, expected=2)
    assert DemoResult((ran,)).exit_code == 0 and DemoResult(()).exit_code == 0
    wrong = DemoStep("drift", 0, expected=2)
    assert DemoResult((ran, wrong)).unexpected == (wrong,)
    assert DemoResult((ran, wrong)).exit_code == 1
    assert str(wrong) == "drift exited 0, expected 2"


# Where an exit code may be a number: the error tree defines the codes (EXIT_*, each error's
# own); every other module names them, and only result values and errors choose among them.
CODES_MODULE = "errors.py"
COMMANDS = "cli"
EXIT_CALLS = frozenset({"exit", "_exit", "SystemExit", "Exit"})  # sys.exit, ctx.exit, os._exit, click's


def _number(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) is int


def _code_name(node: ast.AST) -> bool:
    """A code named (EXIT_ERROR), not passed on; EXIT_OK is what a command that returned
    without an error exits with: no value decides it."""
    return isinstance(node, ast.Name) and node.id.startswith("EXIT_") and node.id != "EXIT_OK"


def _called(node: ast.Call) -> str:
    func = node.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def _target_names(node: ast.AST) -> list[str]:
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]  # type: ignore[attr-defined]
    return [
        t.id if isinstance(t, ast.Name) else t.attr if isinstance(t, ast.Attribute) else "" for t in targets
    ]


def numeric_exits(source: str, *, command: bool = False) -> list[str]:
    """Every place ``source`` decides an exit code with a number (``line: what``): an exit
    call given one, an ``exit_code``/``EXIT_*`` set to one, an ``exit_code`` returning one, and
    in a command module any ``return <number>``."""
    found: list[str] = []
    tree = ast.parse(source)
    exit_code_functions = [
        f
        for f in ast.walk(tree)
        if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef) and f.name == "exit_code"
    ]
    exit_code_returns = {id(r) for f in exit_code_functions for r in ast.walk(f) if isinstance(r, ast.Return)}
    for node in ast.walk(tree):
        where = f"{getattr(node, 'lineno', 0)}: {ast.unparse(node)[:60]}"
        if isinstance(node, ast.Call) and _called(node) in EXIT_CALLS:
            arguments = [n for a in [*node.args, *(k.value for k in node.keywords)] for n in ast.walk(a)]
            # A command passes a value's code on; naming a code (EXIT_ERROR) is choosing it.
            if any(_number(n) or (command and _code_name(n)) for n in arguments):
                found.append(where)
        elif isinstance(node, ast.Call) and any(
            k.arg == "exit_code" and _number(k.value) for k in node.keywords
        ):
            found.append(where)
        elif isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None and _number(node.value):
            if any(n == "exit_code" or n.startswith("EXIT_") for n in _target_names(node)):
                found.append(where)
        elif (
            isinstance(node, ast.Return)
            and node.value is not None
            and _number(node.value)
            and (command or id(node) in exit_code_returns)
        ):
            found.append(where)
    return found


@pytest.mark.parametrize(
    "source",
    [
        "import sys\nsys.exit(2)",
        "exit(1)",
        "def f(ctx):\n    ctx.exit(3)",
        "raise SystemExit(4)",
        "import os\nos._exit(1)",
        "import click\nraise click.exceptions.Exit(code=2)",
        "import sys\nsys.exit(code if code else 1)",
        "class R:\n    exit_code = 3",
        "class R:\n    exit_code: int = 3",
        "def f(self):\n    self.exit_code = 3",
        "EXIT_DRIFT = 2",
        "class R:\n    @property\n    def exit_code(self):\n        return 2",
        "Result(tenants=(), exit_code=3)",
    ],
)
def test_the_check_finds_each_numeric_exit(source: str) -> None:
    assert numeric_exits(source), source


def test_the_check_finds_a_command_returning_a_number_and_passes_named_codes() -> None:
    assert numeric_exits("def plan():\n    return 2", command=True)
    assert numeric_exits("def profile(ctx):\n    ctx.exit(EXIT_ERROR)", command=True)
    assert not numeric_exits("def count(xs):\n    return 2")  # not a command: a number is a number
    assert not numeric_exits(
        "import sys\nsys.exit(exc.exit_code)\nctx.exit(result.exit_code(plan))\nsys.exit(EXIT_OK)\n"
        "exit_code = EXIT_UNSAFE\nclass R:\n    def exit_code(self):\n        return EXIT_ERROR if x else EXIT_OK"
    )


def test_exit_codes_are_numbers_only_in_the_error_tree() -> None:
    """Product code (the sandbox apart: it is no command) decides no exit code with a number:
    the error tree and the result values decide, the CLI passes them on."""
    product = Path(reconciler.__file__).parent
    found: list[str] = []
    for path in sorted(product.rglob("*.py")):
        relative = path.relative_to(product)
        if relative.parts[0] == "sandbox" or relative.as_posix() == CODES_MODULE:
            continue
        command = relative.parts[0] == COMMANDS
        found += [
            f"reconciler/{relative.as_posix()}:{f}"
            for f in numeric_exits(path.read_text("utf-8"), command=command)
        ]
    assert not found, "exit codes decided outside the error tree and the result values:\n" + "\n".join(found)


@pytest.mark.parametrize(
    ("outcome", "code"),
    [
        (None, 0),  # the command returned
        (2, 2),  # ctx.exit(value.exit_code)
        (UnsafePlanError("rail"), 4),
        (click.UsageError("no such option"), 1),  # bad input, not click's 2 ("changes")
        (click.Abort(), 1),
        (KeyboardInterrupt(), 130),
    ],
)
def test_main_passes_each_code_on(
    monkeypatch: pytest.MonkeyPatch, outcome: int | BaseException | None, code: int
) -> None:
    def run(**_: object) -> int | None:
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    monkeypatch.setattr(cli_module.cli, "main", run)
    with pytest.raises(SystemExit) as exited:
        cli_module.main([])
    assert exited.value.code == code
