"""Checks shared by the escaping tests: a rendered markdown text holds no markup from a value."""

from __future__ import annotations

import re
from collections.abc import Iterator

from markdown_it import MarkdownIt
from markdown_it.token import Token

MD = MarkdownIt("commonmark").enable("table").enable("strikethrough")
# The only markup the renderers write themselves.
OWN_HTML = re.compile(r"^\s*(<!-- reconcile-[a-z]+(:[^>]*)? -->|</?(details|summary|b|sub)( open)?>)")
OWN_TAG = re.compile(r"<!-- reconcile-[a-z]+(:[A-Za-z0-9_.:-]*)? -->|</?(details|summary|b|sub)( open)?>")
CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _walk(tokens: list[Token]) -> Iterator[Token]:
    for token in tokens:
        yield token
        if token.children:
            yield from _walk(token.children)


def assert_inert(markdown: str, own_headings: int) -> None:
    """No value became a heading, link, image or HTML; values show only as text or code."""
    tokens = list(_walk(MD.parse(markdown)))
    types = {t.type for t in tokens}
    assert not types & {"image", "autolink"}, types
    links = [t.attrs.get("href") for t in tokens if t.type == "link_open"]
    assert all(str(href).startswith("https://github.com/o/r/") for href in links), links  # our own only
    assert sum(t.type == "heading_open" for t in tokens) == own_headings
    for token in tokens:
        if token.type in ("html_block", "html_inline"):
            for line in token.content.splitlines():
                assert OWN_HTML.match(line) or not line.strip(), line
                rest = OWN_TAG.sub("", line)
                assert "<" not in rest and ">" not in rest, line  # values inside are entities only
        if token.type == "text" and ("evil" in token.content or "@" in token.content):
            raise AssertionError(f"a value is plain markdown text: {token.content!r}")
        assert token.type != "s_open"
    assert not CONTROL.search(markdown)
