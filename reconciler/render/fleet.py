"""What a fleet-sized text output says once instead of per tenant.

At 40 tenants the same manual step, printed in each tenant's section, was 984 lines of `apply`;
a note repeated per tenant was most of `health`. Here: tenant names collapsed into ranges
(``client-001..client-040``), identical blocks said once with the tenants that share them, and the
closing tally of tenants by status. Values are escaped by the caller's ``show``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence

from reconciler.plan.checklist import ChecklistItem
from reconciler.render.escape import PROSE_CHARS, value_text

# Names listed (a range counts as one) before "and N more".
MAX_NAMES = 20
_NUMBERED = re.compile(r"(.*?)(\d+)")


def _plain(value: str) -> str:
    return value_text(value, PROSE_CHARS)


def _runs(names: Sequence[str]) -> list[list[str]]:
    """Consecutive names that differ only by a number one higher (same prefix, same width)."""
    runs: list[list[str]] = []
    previous: tuple[str, int, int] | None = None
    for name in names:
        match = _NUMBERED.fullmatch(name)
        here = (match.group(1), len(match.group(2)), int(match.group(2))) if match else None
        if (
            runs
            and here is not None
            and previous is not None
            and here[:2] == previous[:2]
            and here[2] == previous[2] + 1
        ):
            runs[-1].append(name)
        else:
            runs.append([name])
        previous = here
    return runs


def collapse_names(names: Sequence[str], show: Callable[[str], str] = _plain, limit: int = MAX_NAMES) -> str:
    """``a, b, t001..t040 and 3 more``: runs of three or more numbered names as one range."""
    # (text, how many names it stands for): a range of three or more, else each name.
    pieces = [
        piece
        for run in _runs(names)
        for piece in (
            [(f"{show(run[0])}..{show(run[-1])}", len(run))] if len(run) >= 3 else [(show(n), 1) for n in run]
        )
    ]
    parts = [text for text, _ in pieces[:limit]]
    shown = sum(size for _, size in pieces[:limit])
    more = f" and {len(names) - shown} more" if shown < len(names) else ""
    return ", ".join(parts) + more


def tenants_phrase(names: Sequence[str], show: Callable[[str], str] = _plain) -> str:
    """``3 tenants: a, b, c`` / ``1 tenant: a``."""
    return f"{len(names)} tenant{'' if len(names) == 1 else 's'}: {collapse_names(names, show)}"


def names_head(names: Sequence[str], show: Callable[[str], str] = _plain) -> str:
    """A section head's subject: ``contoso`` / ``t001..t040 (40 tenants)``."""
    return show(names[0]) if len(names) == 1 else f"{collapse_names(names, show)} ({len(names)} tenants)"


def shared_blocks(blocks: Iterable[tuple[str, tuple[str, ...]]]) -> list[tuple[tuple[str, ...], list[str]]]:
    """``[(block, [tenant, ...]), ...]``: each distinct block of lines once, with the tenants whose
    block it is, in the order first seen."""
    grouped: dict[tuple[str, ...], list[str]] = {}
    for tenant, block in blocks:
        grouped.setdefault(block, []).append(tenant)
    return list(grouped.items())


def tally_line(statuses: Sequence[str], hidden: int = 0) -> str:
    """``40 tenants: 38 changes, 2 no changes.`` and how many sections were left out (``-v``)."""
    counts = Counter(statuses)
    parts = ", ".join(f"{n} {status}" for status, n in counts.most_common())
    noun = "tenant" if len(statuses) == 1 else "tenants"
    line = f"{len(statuses)} {noun}" + (f": {parts}." if parts else ".")
    if hidden:
        line += f" {hidden} with nothing more to say not shown (-v shows every tenant)."
    return line


def manual_lines(items: Sequence[ChecklistItem], head: str) -> list[str]:
    """Each distinct manual step once, its steps, and the tenants that need it (text)."""
    if not items:
        return []
    tenants = len({t for item in items for t in item.tenants})
    count = (
        f"{len(items)} step{'' if len(items) == 1 else 's'} for {tenants} tenant{'' if tenants == 1 else 's'}"
    )
    lines = [f"{head} ({count}): only a person can do these; `reconcile manual` prints them as a checklist."]
    for item in items:
        lines.append(f"  ? {_plain(item.title)}")
        lines.extend(f"      {i}. {_plain(step)}" for i, step in enumerate(item.steps, 1))
        lines.append(f"    {tenants_phrase(item.tenants)}")
    lines.append("")
    return lines


def shared_notes(notes: Iterable[tuple[str, Sequence[str]]]) -> dict[str, list[str]]:
    """``{note: [tenant, ...]}`` for each note two or more tenants share, in order first seen."""
    by_note: dict[str, list[str]] = {}
    for tenant, said in notes:
        for note in dict.fromkeys(said):
            by_note.setdefault(note, []).append(tenant)
    return {note: names for note, names in by_note.items() if len(names) > 1}


def shared_note_lines(shared: dict[str, list[str]]) -> list[str]:
    """Each shared note once, under the tenants it is about (text)."""
    lines: list[str] = []
    for note, names in shared.items():
        lines += [f"note for {names_head(names)}:", f"  {_plain(note)}"]
    return [*lines, ""] if lines else []


__all__ = [
    "MAX_NAMES",
    "collapse_names",
    "manual_lines",
    "names_head",
    "shared_blocks",
    "shared_note_lines",
    "shared_notes",
    "tally_line",
    "tenants_phrase",
]
