"""What --help says is true and complete: every option has a description, the exit codes listed
are the ones the results decide, the root help names no default command, --tenant completes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.shell_completion import ShellComplete
from click.testing import CliRunner

from reconciler.cli import cli
from reconciler.errors import EXIT_CHANGES, EXIT_UNSAFE


def _commands(command: click.Command, path: tuple[str, ...] = ()) -> Iterator[tuple[str, click.Command]]:
    if isinstance(command, click.Group):
        ctx = click.Context(command)
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            assert sub is not None, name
            yield from _commands(sub, (*path, name))
    else:
        yield " ".join(path), command


def test_every_option_of_every_command_says_what_it_is_for() -> None:
    missing = [
        f"{name} {'/'.join(p.opts)}"
        for name, command in _commands(cli)
        for p in command.params
        if isinstance(p, click.Option) and not p.hidden and not p.help
    ]
    assert missing == []
    assert all(command.help for _, command in _commands(cli))


def _help(*args: str) -> str:
    result = CliRunner().invoke(cli, [*args, "--help"], terminal_width=120)
    assert result.exit_code == 0, result.output
    return result.output


def _listed_codes(text: str) -> set[int]:
    block = text.split("Exit codes:", 1)[1]
    return {int(m) for m in re.findall(r"^\s+(\d+)\s", block, flags=re.MULTILINE)}


@pytest.mark.parametrize("command", ["plan", "drift", "apply"])
def test_plan_drift_and_apply_list_their_exit_codes(command: str) -> None:
    codes = _listed_codes(_help(command))
    assert {0, 1, 3, 130} <= codes
    # plan and drift never hold changes back (only apply's rails do); apply never exits 2.
    assert (EXIT_UNSAFE in codes) == (command == "apply")
    assert (EXIT_CHANGES in codes) == (command != "apply")


def test_the_root_help_names_no_default_command_and_a_bare_reconcile_shows_usage() -> None:
    text = _help()
    assert "is the default" not in text and "(the default" not in text
    assert "Show what apply would change (never writes)." in text
    bare = CliRunner().invoke(cli, [], terminal_width=120)
    assert "Commands:" in bare.output and "plan " in bare.output  # the help, not a plan


def test_help_says_an_option_is_required_or_has_a_default_not_both() -> None:
    for name, command in _commands(cli):
        for param in command.params:
            if isinstance(param, click.Option) and param.required and param.help:
                assert "(default" not in param.help, f"{name} {param.opts}"


def test_tenant_completes_from_the_tenant_folders(tmp_path: Path) -> None:
    for name in ("contoso", "fabrikam", "_shared", ".git"):
        (tmp_path / name).mkdir()
    (tmp_path / "_defaults.yaml").write_text("{}\n")
    complete = ShellComplete(cli, {}, "reconcile", "_RECONCILE_COMPLETE")
    words = [item.value for item in complete.get_completions(["plan", str(tmp_path), "--tenant"], "")]
    assert words == ["contoso", "fabrikam"]
    words = [item.value for item in complete.get_completions(["plan", str(tmp_path), "--tenant"], "f")]
    assert words == ["fabrikam"]
