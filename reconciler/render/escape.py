"""The one escaping module of the renderers: tenant and live values are data, never markup.

A value can hold anything a live system returns: a newline and three backticks that would close
the plan's code fence, a `## heading`, a link, HTML, a bidi override that turns the terminal
line around. Every renderer shows values only through these functions:

- ``value_text``: a value for the terminal or inside a code block: control and bidi characters
  escaped (``\\n``, ``\\u202e``), cut to a bounded length with a marker;
- ``md_text``: a value in markdown prose: as it is when it is plain words, else ``md_code``;
- ``md_code``: a value in markdown prose, as a code span whose backtick run is longer than any in
  the value, so nothing in it becomes a heading, link, image, emphasis, mention or HTML;
- ``md_fence``: a fenced block whose fence is longer than any backtick run in its lines;
- ``html_text``: a value inside the HTML of a GitHub comment (``<summary>``).

JSON output is data and is left unchanged.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

from reconciler.config.text import printable, shorten

VALUE_CHARS = 200  # a value longer than this is cut (with a marker saying how much)
PROSE_CHARS = 1000  # a sentence holding values (a manual step, an error reason) is cut longer
_BACKTICKS = re.compile(r"`+")
# Characters with no meaning to CommonMark or GitHub in the middle of a line: no `*_[]<>&|~`,
# no `@` (mentions, emails), `#` (issue links), `:` (emoji, URLs), `$` (math), backslash.
_PLAIN = re.compile(r"[A-Za-z0-9 ,;.'\"/=+%!()?-]*")
# Words that open a block at the start of a line: a list item, a heading, a quote, a rule.
_BLOCK_START = re.compile(r"[-+*]|\d+[.)]|#+|>|=+|-+")


def value_text(value: object, limit: int = VALUE_CHARS) -> str:
    """A value as printable text of at most ``limit`` characters."""
    return shorten(printable(value if isinstance(value, str) else str(value)), limit)


def prose_lines(text: str, indent: str = "    ") -> list[str]:
    """A message of ours that has line breaks (a schema mismatch lists its problems) as lines:
    each escaped and cut like ``value_text``, the later ones indented under the first so that no
    line of a message can pass for a line of the output around it, and none starting as a CI
    runner's command (a live value quoted in the message may hold a line break)."""
    first, *rest = text.split("\n")
    return [
        value_text(first, PROSE_CHARS),
        *(indent + _inert_start(value_text(line, PROSE_CHARS)) for line in rest),
    ]


# What a CI runner reads as a command at the start of a line, whatever spaces come before it:
# GitHub's workflow commands (`::error ...`, `::add-mask::`), Azure Pipelines' `##vso[` and the
# runner's legacy `##[`. A message's later line may quote a live value there.
_COMMAND_START = re.compile(r"\s*(::|##)")


def _inert_start(line: str) -> str:
    """``line`` with its first character escaped (``\\x3a``) when it would start a runner command."""
    match = _COMMAND_START.match(line)
    if match is None:
        return line
    at = match.end(1) - 2
    return f"{line[:at]}\\x{ord(line[at]):02x}{line[at + 1 :]}"


def md_prose_lines(text: str) -> list[str]:
    """A message of ours with line breaks in markdown: one line of prose, or the lines in a fenced
    block (each escaped as ``prose_lines`` does), never one code span showing ``\\n``."""
    if "\n" not in text:
        return [md_text(text)]
    return md_fence(prose_lines(text, indent="  "))


def line_text(line: str) -> str:
    """A whole line of words and values: control characters escaped, nothing cut."""
    return printable(line)


def _longest_backticks(text: str) -> int:
    return max((len(run) for run in _BACKTICKS.findall(text)), default=0)


def _span(body: str, *, table: bool = False) -> str:
    """``body`` (already printable) as a code span no backtick run in it can close."""
    if table:
        body = body.replace("|", "\\|")  # GitHub splits cells on `|` even inside code spans
    fence = "`" * (_longest_backticks(body) + 1)
    # CommonMark strips one space from each end when both are spaces: pad so the value survives.
    if not body or body.startswith(("`", " ")) or body.endswith(("`", " ")):
        body = f" {body} "
    return f"{fence}{body}{fence}"


def md_code(value: object, limit: int = PROSE_CHARS, *, table: bool = False) -> str:
    """``value`` as an inline code span (``table``: also inside a GitHub table cell)."""
    return _span(value_text(value, limit), table=table)


def _plain_word(word: str) -> bool:
    """A word markdown and GitHub leave alone (a trailing colon too: ``:x:`` needs one before)."""
    bare = word[:-1] if word.endswith(":") else word
    return bool(_PLAIN.fullmatch(bare)) and "www" not in bare.casefold()


def md_prose(value: object, limit: int = PROSE_CHARS, *, table: bool = False) -> str:
    """A sentence in markdown prose (a manual step, a reason, a note): its plain words as they
    are, and each run of words holding markdown or GitHub syntax (a URL, `_`, `*`, `<`, `@`,
    backticks...) as a code span of its own; so a step reads as a sentence and nothing in it is
    markup. A first word that would start a list, heading or quote is a code span too."""
    words = value_text(value, limit).split(" ")
    out: list[str] = []
    run: list[str] = []
    for index, word in enumerate(words):
        starts_block = index == 0 and bool(_BLOCK_START.fullmatch(word))
        if _plain_word(word) and not starts_block:
            if run:
                out.append(_span(" ".join(run), table=table))
                run = []
            out.append(word)
        else:
            run.append(word)
    if run:
        out.append(_span(" ".join(run), table=table))
    return " ".join(out)


def md_text(value: object, limit: int = PROSE_CHARS, *, table: bool = False) -> str:
    """``value`` in markdown prose: as it is when it holds only characters that markdown and
    GitHub leave alone (letters, digits, spaces, a little punctuation; no `www`), else ``md_code``."""
    text = value_text(value, limit)
    if _PLAIN.fullmatch(text) and "www" not in text.casefold() and text.strip() == text:
        return text
    return md_code(value, limit, table=table)


def md_fence(lines: Sequence[str], info: str = "") -> list[str]:
    """``lines`` (already printable) in a fenced code block no line of them can close."""
    fence = "`" * max(3, max((_longest_backticks(line) for line in lines), default=0) + 1)
    return [f"{fence}{info}", *lines, fence]


def html_text(value: object, limit: int = VALUE_CHARS) -> str:
    """A value inside HTML (quotes, ``<``, ``>``, ``&`` escaped) and markdown-inert."""
    text = html.escape(value_text(value, limit), quote=True)
    # Markdown punctuation as entities too: should the line ever be read as markdown, it stays text.
    return re.sub(r"[\\`*_\[\]()!#~|@:]", lambda m: f"&#{ord(m.group())};", text)


__all__ = [
    "PROSE_CHARS",
    "VALUE_CHARS",
    "html_text",
    "line_text",
    "md_code",
    "md_fence",
    "md_prose",
    "md_prose_lines",
    "md_text",
    "prose_lines",
    "value_text",
]
