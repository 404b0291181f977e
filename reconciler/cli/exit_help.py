"""The exit codes a command's --help lists, worded from the constants the results use, so the
help cannot name a number the code does not return (tests/unit/test_cli_help.py checks each)."""

from __future__ import annotations

from reconciler.errors import (
    EXIT_CHANGES,
    EXIT_ERROR,
    EXIT_INCOMPLETE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_UNSAFE,
)

_SAID = {
    EXIT_OK: "done; nothing is wrong",
    EXIT_ERROR: "bad input, or a tenant could not be read or planned at all (nothing was written)",
    EXIT_CHANGES: "there are changes / drift",
    EXIT_INCOMPLETE: "incomplete: a read or a write failed, so some objects are Unknown or not done",
    EXIT_UNSAFE: "refused: a safety rail holds changes back (--force), or a saved plan no longer matches",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C)",
}

PLAN = {
    EXIT_OK: "no changes (or changes, without --detailed-exitcode)",
    EXIT_CHANGES: "changes, with --detailed-exitcode",
}
DRIFT = {EXIT_OK: "no drift", EXIT_CHANGES: "drift"}
APPLY = {
    EXIT_OK: "every change done (or nothing to do)",
    EXIT_ERROR: "nothing could be done: bad input, a tenant failed",
}


def exit_codes(command: dict[int, str], codes: tuple[int, ...]) -> str:
    """An epilog: ``Exit codes: 0 ..., 1 ..., ...`` (click keeps ``\\b`` paragraphs as written)."""
    lines = ["\b", "Exit codes:"]
    lines += [f"  {code}  {command.get(code, _SAID[code])}" for code in codes]
    return "\n".join(lines)


PLAN_CODES = (EXIT_OK, EXIT_ERROR, EXIT_CHANGES, EXIT_INCOMPLETE, EXIT_INTERRUPTED)  # rails only hold apply
APPLY_CODES = (EXIT_OK, EXIT_ERROR, EXIT_INCOMPLETE, EXIT_UNSAFE, EXIT_INTERRUPTED)
