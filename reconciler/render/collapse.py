"""Identical errors across tenants, said once with a count (a fleet of 500 tenants whose
credentials expired together reads as one line, not 500 sections)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from reconciler.render.escape import PROSE_CHARS, md_text, value_text

# Tenant names listed under a shared error before "and N more".
MAX_NAMES = 20


def shared_errors(errors: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """``{error: [tenant, ...]}`` for each error text that two or more tenants share, in order."""
    by_error: dict[str, list[str]] = {}
    for tenant, error in errors:
        if error:
            by_error.setdefault(error, []).append(tenant)
    return {error: names for error, names in by_error.items() if len(names) > 1}


def _names(names: list[str], show: Callable[[str], str]) -> str:
    more = f" and {len(names) - MAX_NAMES} more" if len(names) > MAX_NAMES else ""
    return ", ".join(show(n) for n in names[:MAX_NAMES]) + more


def shared_error_lines(shared: dict[str, list[str]]) -> list[str]:
    """Text lines: the error once, with how many tenants and which (values escaped)."""
    lines: list[str] = []
    for error, names in shared.items():
        lines.append(f"{len(names)} tenants failed with the same error: {value_text(error, PROSE_CHARS)}")
        lines.append(f"  tenants: {_names(names, value_text)}")
        lines.append("")
    return lines


def shared_error_markdown(shared: dict[str, list[str]]) -> list[str]:
    """Markdown lines: the error once, with how many tenants and which (values never markup)."""
    lines: list[str] = []
    for error, names in shared.items():
        lines.append(f"> **{len(names)} tenants failed with the same error:** {md_text(error)}")
        lines.append(f"> tenants: {_names(names, md_text)}")
        lines.append("")
    return lines
