"""Templates of technician rules: ``{email}``, ``{upn}``, ``{local}``, … filled per group member.

A template is plain text with ``{name}`` placeholders (``{{`` and ``}}`` are literal braces).
Which names a template may use depends on the rule's source (``PLACEHOLDERS``); anything else
(an unknown name, a format spec, a conversion, an index) is a validation error, so a typo is
found by ``reconcile validate`` rather than by a plan that maps nobody.
"""

from __future__ import annotations

import string
from collections.abc import Mapping

# The names each source fills in. Rescue knows a technician by e-mail and node ID only, so
# there ``{upn}`` is the e-mail; Entra's ``{email}`` is the user's ``mail``, else the UPN.
PLACEHOLDERS: Mapping[str, tuple[str, ...]] = {
    "rescue_group": ("email", "upn", "local", "domain", "node_id"),
    "entra_group": ("email", "upn", "local", "domain", "id"),
}
ALL_PLACEHOLDERS: tuple[str, ...] = tuple(sorted({n for names in PLACEHOLDERS.values() for n in names}))

_FORMATTER = string.Formatter()


def placeholders(template: str) -> list[str]:
    """The placeholder names of ``template``; ValueError for anything but plain ``{name}``."""
    try:
        parts = list(_FORMATTER.parse(template))
    except ValueError as exc:
        raise ValueError(f"template {template!r}: {exc} (write {{{{ and }}}} for literal braces)") from None
    names: list[str] = []
    for _, name, spec, conversion in parts:
        if name is None:
            continue
        if spec or conversion or not name.isidentifier():
            raise ValueError(
                f"template {template!r}: write placeholders as {{name}} only "
                f"(one of {', '.join('{' + n + '}' for n in ALL_PLACEHOLDERS)})"
            )
        names.append(name)
    return names


def check_template(template: str, allowed: tuple[str, ...] = ALL_PLACEHOLDERS) -> str:
    """``template`` when every placeholder is one of ``allowed``, else ValueError naming them."""
    for name in placeholders(template):
        if name not in allowed:
            raise ValueError(
                f"template {template!r}: unknown placeholder {{{name}}}; use "
                + ", ".join("{" + n + "}" for n in allowed)
            )
    return template


def member_values(*, email: str, upn: str, extra: Mapping[str, str]) -> dict[str, str]:
    """The values a member fills in: ``local`` and ``domain`` are the parts of the e-mail."""
    local, _, domain = email.partition("@")
    return {"email": email, "upn": upn, "local": local, "domain": domain, **extra}


def expand(template: str, values: Mapping[str, str]) -> str:
    """``template`` filled with ``values`` (already checked: every name is known)."""
    return template.format_map(values)
