"""Identical errors across tenants, said once with a count (a fleet of 500 tenants whose
credentials expired together reads as one line, not 500 sections)."""

from __future__ import annotations

from collections.abc import Iterable

from reconciler.render.escape import PROSE_CHARS, md_text, prose_lines, value_text
from reconciler.render.fleet import collapse_names


def shared_errors(errors: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """``{error: [tenant, ...]}`` for each error text that two or more tenants share, in order."""
    by_error: dict[str, list[str]] = {}
    for tenant, error in errors:
        if error:
            by_error.setdefault(error, []).append(tenant)
    return {error: names for error, names in by_error.items() if len(names) > 1}


def _prose(value: str) -> str:
    return value_text(value, PROSE_CHARS)


def shared_error_lines(shared: dict[str, list[str]], *, markdown: bool = False) -> list[str]:
    """Lines saying each error once, with how many tenants and which (values escaped for text, or
    never markup in ``markdown``)."""
    show, head, tail = (md_text, "> **{}**", "> tenants: ") if markdown else (_prose, "{}", "  tenants: ")
    lines: list[str] = []
    for error, names in shared.items():
        said = head.format(f"{len(names)} tenants failed with the same error:")
        if markdown:
            lines.append(f"{said} {show(error)}")
        else:
            first, *more = prose_lines(error)
            lines += [f"{said} {first}", *more]
        lines.append(tail + collapse_names(names, show))
        lines.append("")
    return lines
