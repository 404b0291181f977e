"""Identical errors across tenants, said once with a count (a fleet of 500 tenants whose
credentials expired together reads as one line, not 500 sections)."""

from __future__ import annotations

from collections.abc import Iterable

# Tenant names listed under a shared error before "and N more".
MAX_NAMES = 20


def shared_errors(errors: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """``{error: [tenant, ...]}`` for each error text that two or more tenants share, in order."""
    by_error: dict[str, list[str]] = {}
    for tenant, error in errors:
        if error:
            by_error.setdefault(error, []).append(tenant)
    return {error: names for error, names in by_error.items() if len(names) > 1}


def shared_error_lines(shared: dict[str, list[str]]) -> list[str]:
    """Text lines: the error once, with how many tenants and which."""
    lines: list[str] = []
    for error, names in shared.items():
        more = f" and {len(names) - MAX_NAMES} more" if len(names) > MAX_NAMES else ""
        lines.append(f"{len(names)} tenants failed with the same error: {error}")
        lines.append(f"  tenants: {', '.join(names[:MAX_NAMES])}{more}")
        lines.append("")
    return lines
