"""Checks shared by the escaping tests: a rendered markdown text holds no markup from a value.

GitHub links more than CommonMark does: its extended autolinks make a bare `https://...`, a
`www.` name and an e-mail address links, and `@name` pings a person. The parser runs with
linkify (linkify-it-py), which finds the first and the last of these; `www.` and `@` in plain
text are checked by hand (GitHub links `www.x` even where linkify-it's strict mode does not).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from markdown_it import MarkdownIt
from markdown_it.token import Token

MD = MarkdownIt("commonmark", {"linkify": True}).enable(["table", "strikethrough", "linkify"])
MD.linkify.set({"fuzzy_link": False})  # GitHub leaves a bare `example.com` alone: so does this parser
# The only markup the renderers write themselves.
OWN_HTML = re.compile(r"^\s*(<!-- reconcile-[a-z]+(:[^>]*)? -->|</?(details|summary|b|sub)( open)?>)")
OWN_TAG = re.compile(r"<!-- reconcile-[a-z]+(:[A-Za-z0-9_.:-]*)? -->|</?(details|summary|b|sub)( open)?>")
CONTROL = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060\u2066-\u2069\ufeff"
    "\U000e0000-\U000e007f]"
)
WWW = re.compile(r"(?<![A-Za-z0-9])www\.", re.IGNORECASE)  # GitHub's extended www autolink


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
        if token.type == "text" and WWW.search(token.content):
            raise AssertionError(f"GitHub would link this text: {token.content!r}")
        assert token.type != "s_open"
    assert not CONTROL.search(markdown)
