"""The repository's docs cite only what a reader of the repository can open.

A citation of a note that lives outside the repository (`../shared/reference/*.md`, a `/work/`
path, the vendor help text under a `seed/` directory) sends the reader nowhere: a fact is cited
by its public source (the documentation page, issue or repository the note itself names). A
relative link must reach a file of the repository, and a backticked path of ours must name a file
that exists, by its full repository path (`rescue_sandbox/dataverse/tables.py`, not
`tables.py`). A path of another repository is fine when the same paragraph gives that
repository's URL; paths in fenced code blocks are examples, and placeholders (`DIR/`, `<name>`)
are not files.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from markdown_it.token import Token

ROOT = Path(__file__).resolve().parents[2]
DOCS = sorted(
    [
        *(ROOT / "docs").glob("*.md"),
        ROOT / "README.md",
        ROOT / "BENCHMARKS.md",
        ROOT / "rescue_sandbox" / "README.md",
        ROOT / "deploy" / "README.md",
    ]
)
MD = MarkdownIt("commonmark").enable(["table", "strikethrough"])

# Notes kept beside the repository, never in it, named anywhere (even in a code block): the
# shared folder, the vendor help text's `seed/` folder, a reference note or the shared
# DESIGN.md / STYLE.md by its name.
OUTSIDE = re.compile(
    r"(?:\.\./shared|/work/shared)(?:[^\s`'\")]*[^\s`'\").,;:])?|(?<![\w.-])seed/(?:[^\s`'\")]*[^\s`'\").,;:])?"
    r"|(?<![\w-])(?:reference/[\w-]+\.md|reality\.md|keyvault-identity-github\.md|fleet-view\.md)"
    r"|(?<![\w/.-])(?:DESIGN|STYLE)\.md"
    r"|\[reference\]"
)
# The machine's work directory, in prose; a container's `/work/...` mount in a command block is no citation.
WORK = re.compile(r"(?<![\w.~-])/work/(?:[^\s`'\")]*[^\s`'\").,;:])?")
CITATION = re.compile(f"{OUTSIDE.pattern}|{WORK.pattern}")
EXTENSIONS = (
    ".py",
    ".md",
    ".yaml",
    ".yml",
    ".json",
    ".txt",
    ".toml",
    ".ts",
    ".js",
    ".ps1",
    ".sh",
    ".cfg",
    ".ini",
    ".html",
    ".csv",
)
# Stripped before a path is looked up: `file.py:42`, `file.py::test`, `file.md#section`.
SUFFIX = re.compile(r"(?:::?[\w.\[\]-]+|#[\w-]*)$")
# A folder in capitals stands for the reader's own (`DIR/`, `OUT/`); `README.md` is a real name.
PLACEHOLDER = re.compile(r"<[^>]*>|\{[^}]*\}|\*|…|\.\.\.|\$|(?:^|/)[A-Z][A-Z0-9_]*/")
# Another repository is named by its URL: the repository's own (`https://github.com/o/r`, or a
# folder of it) or the file's. An issue or pull request link does not say where a file lives.
GITHUB = re.compile(r"https://github\.com/[\w.-]+/[\w.-]+(?:/(?:blob|tree)/[^\s)>\]]*)?(?=[\s)>\].,;:]|$)")
# Files a walk-through has the reader create, named before they exist: each with where and why.
READER_MADE = {
    ("docs/gitops.md", "tenants/newco/tenant.yaml"),  # written by `reconcile export` in "Onboarding"
}
SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)


@dataclass(frozen=True)
class Problem:
    path: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{_shown(self.path)}:{self.line}: {self.message}"


def _shown(doc: Path) -> str:
    return str(doc.relative_to(ROOT)) if doc.is_relative_to(ROOT) else str(doc)


@dataclass(frozen=True)
class Paragraph:
    """A paragraph, list item's paragraph, heading or table row: the unit a repository URL covers."""

    line: int
    inlines: tuple[Token, ...]

    @property
    def text(self) -> str:
        return "\n".join(token.content for token in self.inlines)


def _paragraphs(tokens: list[Token]) -> Iterator[Paragraph]:
    row: list[Token] | None = None
    row_line = 0
    for token in tokens:
        if token.type == "tr_open":
            row, row_line = [], (token.map[0] + 1 if token.map else 0)
        elif token.type == "tr_close" and row is not None:
            yield Paragraph(row_line, tuple(row))
            row = None
        elif token.type == "inline" and row is not None:
            row.append(token)  # a table cell: the row is the unit
        elif token.type == "inline":
            yield Paragraph(token.map[0] + 1 if token.map else 0, (token,))


def _children(inline: Token) -> Iterator[Token]:
    yield from inline.children or []


def _is_citable_path(text: str) -> bool:
    return (
        not any(ch.isspace() for ch in text)
        and SUFFIX.sub("", text).lower().endswith(EXTENSIONS)
        and not SCHEME.match(text)
    )


def _bases(doc: Path, paragraph: Paragraph) -> list[Path]:
    """Where a path may be read from: the root, the doc's folder, and the folders the paragraph
    names (`reconciler/engine/`: `planner.py` ...) or that an earlier path of it lies in."""
    bases = [ROOT, doc.parent]
    for inline in paragraph.inlines:
        for child in _children(inline):
            if child.type != "code_inline" or any(ch.isspace() for ch in child.content):
                continue
            for base in list(bases):
                named = base / SUFFIX.sub("", child.content)
                if child.content.endswith("/") and named.is_dir():
                    bases.append(named)
                elif "/" in child.content and named.is_file():
                    bases.append(named.parent)
    return bases


def _names_other_repository(code: str, paragraph: str) -> bool:
    for url in GITHUB.findall(paragraph):
        file_url = "/blob/" in url or "/tree/" in url
        if not file_url or url.endswith("/" + code) or url.endswith("/" + code.rsplit("/", 1)[0]):
            return True
    return False


def _check_path(doc: Path, line: int, code: str, paragraph: Paragraph) -> Iterator[Problem]:
    path = SUFFIX.sub("", code)
    if CITATION.search(code):
        return  # reported as a citation of what lies outside the repository
    if PLACEHOLDER.search(path) or path.startswith(("/", "~")):
        return  # a placeholder, or a path on the reader's machine (`/tmp/scale/seed.yaml`)
    if any((base / path).is_file() for base in _bases(doc, paragraph)):
        return
    if (_shown(doc), path) in READER_MADE:
        return
    if _names_other_repository(path, paragraph.text):
        return  # another repository's file, and the paragraph gives that repository's URL
    if "/" in path:
        yield Problem(doc, line, f"`{code}` is not a file of this repository")
    elif path.endswith(".py"):
        # A module by its bare name: the reader has to guess which of our packages holds it.
        matches = sorted(
            str(found.relative_to(ROOT))
            for top in ("reconciler", "rescue_sandbox", "tests", "benchmarks")
            for found in (ROOT / top).rglob(path)
        )
        hint = f" (say `{matches[0]}`)" if len(matches) == 1 else ""
        yield Problem(doc, line, f"`{code}` names a module without its repository path{hint}")


def _check_link(doc: Path, line: int, target: str) -> Iterator[Problem]:
    if not target or target.startswith("#") or SCHEME.match(target) or target.startswith("//"):
        return
    relative = target.split("#", 1)[0].split("?", 1)[0]
    if not (doc.parent / relative).exists():
        yield Problem(doc, line, f"link target {target!r} does not exist")


def _outside(doc: Path, line: int, pattern: re.Pattern[str], text: str) -> Iterator[Problem]:
    for match in pattern.finditer(text):
        yield Problem(doc, line, f"cites {match.group(0)!r}, outside the repository")


def problems_of(doc: Path) -> list[Problem]:
    text = doc.read_text(encoding="utf-8")
    tokens = MD.parse(text)
    found: list[Problem] = []
    for token in tokens:
        if token.type in ("fence", "code_block", "html_block"):
            # A fence's content starts on the line after its opening marker.
            first = (token.map[0] if token.map else 0) + (2 if token.type == "fence" else 1)
            for offset, content in enumerate(token.content.splitlines()):
                found.extend(_outside(doc, first + offset, OUTSIDE, content))
    for paragraph in _paragraphs(tokens):
        for inline in paragraph.inlines:
            line = inline.map[0] + 1 if inline.map else paragraph.line
            for number, content in enumerate(inline.content.splitlines()):
                found.extend(_outside(doc, line + number, CITATION, content))
            for child in _children(inline):
                if child.type == "link_open":
                    found.extend(_check_link(doc, line, str(child.attrs.get("href", ""))))
                elif child.type == "image":
                    found.extend(_check_link(doc, line, str(child.attrs.get("src", ""))))
                elif child.type == "code_inline" and _is_citable_path(child.content):
                    found.extend(_check_path(doc, line, child.content, paragraph))
    return found


@pytest.mark.parametrize("doc", DOCS, ids=lambda doc: str(doc.relative_to(ROOT)))
def test_doc_cites_only_what_the_repository_holds(doc: Path) -> None:
    problems = problems_of(doc)
    assert not problems, "\n".join(map(str, problems))


CASES = [
    # (markdown, the problem expected (or the problems, in order), or None when the citation is fine)
    ("They behave as `../shared/reference/` documents.", "cites '../shared"),
    ("Sources: /work/shared/reference/dataverse.md.", "cites '/work/shared"),
    ("Facts compiled in reality.md §1.", "cites 'reality.md"),
    ("As `reference/rescue.md` says.", "cites 'reference/rescue.md"),
    ("Not documented ([reference] reality.md, unverified).", ("cites '[reference]'", "cites 'reality.md'")),
    (
        "See keyvault-identity-github.md and fleet-view.md.",
        ("cites 'keyvault-identity-github.md'", "cites 'fleet-view.md'"),
    ),
    ("The ground of the tests (DESIGN.md §6).", "cites 'DESIGN.md'"),
    ("The help text (`seed/000.txt`).", "cites 'seed/"),
    ("A path on this machine: /work/w-x/notes.", "cites '/work/"),
    ("```sh\ncat ../shared/reference/rescue.md\n```", "cites '../shared"),
    ('```sh\ndocker run -v "$PWD:/work/tenants" image\n```', None),
    ("See [the plan format](missing-page.md#top).", "link target 'missing-page.md#top' does not exist"),
    ("See [the plan format](plan-format.md), [above](#x), [Learn](https://learn.microsoft.com/x).", None),
    ("The client (`reconciler/nope/records.py`) reads it.", "`reconciler/nope/records.py` is not a file"),
    ("The tree (`reconciler/errors.py:printable`, `tests/unit/test_doc_citations.py::test_x`).", None),
    (
        "As `tables.py` models them.",
        "`tables.py` names a module without its repository path (say `rescue_sandbox/dataverse/tables.py`)",
    ),
    ("In `rescue_sandbox/dataverse/`: `tables.py`, `org.py`.", None),
    ("```sh\nreconcile plan out/plan.json some/where.py\n```", None),
    ("Placeholders: `tenants/<name>/tenant.yaml`, `DIR/plan.json`, `tenants/*/tenant.yaml`.", None),
    (
        "Its README (`rescue_sandbox/README.md`), not `rescue_sandbox/MISSING.md`.",
        "`rescue_sandbox/MISSING.md` is not",
    ),
    ("Written to `/tmp/scale/seed.yaml` on your machine.", None),
    (
        "singer-io/tap-logmeinrescue (`streams/technicians.py`) splits it.",
        "`streams/technicians.py` is not a file",
    ),
    ("https://github.com/singer-io/tap-logmeinrescue (`streams/technicians.py`) splits it.", None),
    (
        "[`streams/base.py`](https://github.com/singer-io/tap-logmeinrescue/blob/HEAD/tap_logmeinrescue/streams/base.py)",
        None,
    ),
    (
        "`streams/base.py`, as in https://github.com/singer-io/tap-logmeinrescue/issues/3",
        "`streams/base.py` is not a file",
    ),
    ("| a | b |\n|---|---|\n| `streams/base.py` | https://github.com/singer-io/tap-logmeinrescue |", None),
    ("| a | b |\n|---|---|\n| `streams/base.py` | singer-io |", "`streams/base.py` is not a file"),
]


@pytest.mark.parametrize(("markdown", "expected"), CASES)
def test_the_check_finds_each_kind_of_unreachable_citation(
    tmp_path: Path, markdown: str, expected: str | tuple[str, ...] | None
) -> None:
    # The doc sits beside the real docs/ so that relative links and paths resolve as theirs do.
    doc = tmp_path / "docs" / "probe.md"
    doc.parent.mkdir()
    (doc.parent / "plan-format.md").write_text("# Plan format\n", encoding="utf-8")
    doc.write_text(markdown + "\n", encoding="utf-8")
    messages = [problem.message for problem in problems_of(doc)]
    wanted = () if expected is None else (expected,) if isinstance(expected, str) else expected
    assert len(messages) == len(wanted), messages
    assert all(part in message for part, message in zip(wanted, messages, strict=True)), messages


def test_each_problem_is_located_on_its_own_line(tmp_path: Path) -> None:
    doc = tmp_path / "probe.md"
    doc.write_text(
        "# Title\n\n```sh\ncat ../shared/x.md\n```\n\nFirst line,\nsee reality.md.\n\n"
        "| a | b |\n|---|---|\n| x | `reconciler/nope.py` |\n\n    cat /work/shared/seed/y.txt\n",
        encoding="utf-8",
    )
    assert [str(problem) for problem in problems_of(doc)] == [
        f"{doc}:4: cites '../shared/x.md', outside the repository",
        f"{doc}:14: cites '/work/shared/seed/y.txt', outside the repository",
        f"{doc}:8: cites 'reality.md', outside the repository",
        f"{doc}:12: `reconciler/nope.py` is not a file of this repository",
    ]
