"""What a safe string is, and a short printable excerpt of any value.

Tenant and live values are data. A control character (C0, DEL, C1: newline and tab included),
a bidirectional control (U+202E turns the rest of a line around) or an invisible one (zero-width,
tag characters; ``reconciler.errors.UNSAFE_CHARACTERS``) in a value would rewrite
the terminal or the review page that shows it, and a value that cannot be shown safely cannot
be reviewed. So string fields refuse them (``unsafe_character``) and every message or output
that shows a value shows ``excerpt(value)``: printable, escaped, and cut with a marker.

Pure: the renderers (``reconciler.render.escape``) build on these for text and markdown.
"""

from __future__ import annotations

from reconciler.errors import UNSAFE_CHARACTERS, printable

# A value that neither starts nor ends with white space (the services trim, the YAML does not).
TRIMMED_PATTERN = r"^\S(?:[\S\s]*\S)?$"
EXCERPT_CHARS = 40
CUT_MARKER = "…"


def unsafe_character(text: str) -> tuple[int, str] | None:
    """The first control, bidi or invisible character of ``text``: its index and name (``U+202E``)."""
    match = UNSAFE_CHARACTERS.search(text)
    if match is None:
        return None
    return match.start(), f"U+{ord(match.group()):04X}"


def shorten(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, the cut marked with ``…`` and the count left out."""
    if len(text) <= limit:
        return text
    kept = limit
    while True:  # the count's own width decides how much is kept
        tail = f"{CUT_MARKER}(+{len(text) - kept} chars)"
        if kept == max(1, limit - len(tail)):
            return text[:kept] + tail
        kept = max(1, limit - len(tail))


def excerpt(value: object, limit: int = EXCERPT_CHARS) -> str:
    """A value as a message may quote it: ``'ab\\ncd'``, escaped and at most ``limit`` characters."""
    text = value if isinstance(value, str) else str(value)
    return "'" + shorten(printable(text), limit) + "'"


__all__ = [
    "CUT_MARKER",
    "EXCERPT_CHARS",
    "TRIMMED_PATTERN",
    "excerpt",
    "printable",
    "shorten",
    "unsafe_character",
]
