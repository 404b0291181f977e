"""The libyaml fast path of the YAML loader gives exactly what the pure-Python path gives.

``parse_yaml`` composes with libyaml (``CSafeLoader``) when it can and falls back to the
pure-Python ``SafeLoader`` for every text or document the fast path cannot take cleanly. These
tests compare the two paths (data with its Python types, every key and value position, every
problem's words and position) on the example tenants, a generated tenant, malformed YAML and
texts where libyaml is known to disagree with the pure-Python scanner.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.config import yamlpos
from reconciler.config.yamlpos import YamlDocument, parse_yaml
from reconciler.errors import ConfigErrors
from rescue_sandbox.generator import generate

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((REPO / "tenants").rglob("*.yaml"))
BAD_FILES = sorted((REPO / "tests" / "data" / "bad").rglob("*.yaml"))

needs_libyaml = pytest.mark.skipif(not yaml.__with_libyaml__, reason="PyYAML was built without libyaml")


def typed(value: Any) -> Any:
    """``value`` with every scalar's type spelled out (so 1, 1.0 and True differ, and NaN equals NaN)."""
    if isinstance(value, dict):
        return ("dict", [(key, typed(item)) for key, item in value.items()])
    if isinstance(value, list):
        return ("list", [typed(item) for item in value])
    if isinstance(value, float) and math.isnan(value):
        return ("float", "nan")
    return (type(value).__name__, repr(value))


def outcome(parse: Callable[[], YamlDocument]) -> tuple[Any, ...]:
    """Everything a caller can observe: data and positions, or the problems, or the exception."""
    try:
        doc = parse()
    except ConfigErrors as exc:
        return ("problems", [str(problem) for problem in exc.problems])
    except Exception as exc:  # the reference lets some of PyYAML's errors through; so must the fast path
        return ("raised", type(exc).__name__, str(exc))
    return ("ok", doc.file, typed(doc.data), doc.positions)


def reference(text: str, allow_empty: bool = False) -> tuple[Any, ...]:
    return outcome(lambda: yamlpos._parse_with(yaml.SafeLoader, text, "t.yaml", allow_empty=allow_empty))


def libyaml(text: str, allow_empty: bool = False) -> tuple[Any, ...]:
    return outcome(lambda: yamlpos._parse_with(yaml.CSafeLoader, text, "t.yaml", allow_empty=allow_empty))


def public(text: str, allow_empty: bool = False) -> tuple[Any, ...]:
    return outcome(lambda: parse_yaml(text, "t.yaml", allow_empty=allow_empty))


@pytest.fixture
def loaders_used(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The loader classes ``parse_yaml`` composed with, in order."""
    used: list[str] = []
    real = yamlpos._parse_with

    def spy(loader_class: Any, text: str, file: str, *, allow_empty: bool = False) -> YamlDocument:
        used.append(loader_class.__name__)
        return real(loader_class, text, file, allow_empty=allow_empty)

    monkeypatch.setattr(yamlpos, "_parse_with", spy)
    return used


@pytest.fixture(scope="module")
def generated_tenant(tmp_path_factory: pytest.TempPathFactory) -> str:
    out = tmp_path_factory.mktemp("seed")
    generate(out, tenants=1, technicians=300, drift=0.1, rng_seed=7)
    return (out / "tenants" / "tenant001" / "tenant.yaml").read_text(encoding="utf-8")


@needs_libyaml
@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: str(p.relative_to(REPO)))
def test_example_tenants_are_identical_on_both_paths(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    expected = reference(text, allow_empty=True)
    assert expected[0] == "ok"
    assert libyaml(text, allow_empty=True) == expected
    assert public(text, allow_empty=True) == expected
    assert not yamlpos._reference_only(text), "the example tenants should take the fast path"


@needs_libyaml
def test_generated_tenant_is_identical_and_takes_the_fast_path(
    generated_tenant: str, loaders_used: list[str]
) -> None:
    expected = reference(generated_tenant)
    assert expected[0] == "ok"
    data = dict(expected[2][1])
    assert len(data["technicians"][1]) == 300
    assert libyaml(generated_tenant) == expected
    loaders_used.clear()
    assert public(generated_tenant) == expected
    assert loaders_used == ["CSafeLoader"]


@needs_libyaml
def test_libyaml_path_refuses_duplicate_keys_in_the_same_words() -> None:
    text = "a: 1\nb:\n  c: 1\n  c: 2\na: 3\n"
    expected = reference(text)
    assert expected == (
        "problems",
        [
            "t.yaml:4:3: b.c: duplicate key 'c': it is already defined at line 3; "
            "a key may appear only once in a mapping",
            "t.yaml:5:1: a: duplicate key 'a': it is already defined at line 1; "
            "a key may appear only once in a mapping",
        ],
    )
    assert libyaml(text) == expected
    assert public(text) == expected


@needs_libyaml
def test_libyaml_path_refuses_an_alias_bomb_quickly() -> None:
    lines = ["a0: &a0 [" + ", ".join(["lol"] * 10) + "]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 10)]
    text = "\n".join(lines) + "\n"
    found = libyaml(text)  # 10**10 strings if the expansion were not capped (the test timeout)
    assert found[0] == "problems"
    assert found[1][0].startswith("t.yaml:4:1: aliases expand to more than 10,000 nodes")
    assert found == reference(text) == public(text)


@needs_libyaml
def test_libyaml_path_counts_every_alias_expansion() -> None:
    # libyaml hands back the anchored node itself for each alias, as the pure-Python composer does.
    under = "base: &b [" + ", ".join(["x"] * 99) + "]\n" + "".join(f"k{i}: *b\n" for i in range(99))
    # Each alias re-produces the list and its 99 items: 100 aliases reach the cap, 101 pass it.
    under += "k99: *b\n"
    over = under + "k100: *b\n"
    assert libyaml(under)[0] == "ok"
    assert libyaml(under) == reference(under)
    assert libyaml(over)[0] == "problems"
    assert libyaml(over) == reference(over) == public(over)


@needs_libyaml
@pytest.mark.parametrize(
    "text",
    [
        "a: &a [1, *a]\n",
        "base: &b {x: 1, y: 2}\nc:\n  <<: *b\n  y: 3\n",
        "base: &b {x: 1}\nmore: &m {z: 2}\nc:\n  <<: [*b, *m]\n  x: 0\n",
        "c:\n  <<: 5\n  y: 3\n",
        "a: yes\nb: No\nc: on\nd: off\ne: y\nf: ~\ng: null\nh: 0o17\ni: 0x1F\nj: 1_000\nk: .inf\nl: .NaN\n",
        "a: 2026-10-01\nb: 2026-10-01 10:00:00\nc: '007'\nd: 007\ne: 1e3\nf: 1.5e3\ng: +12\nh: 190:20:30\n",
        "on: 1\n2024-01-01: 2\n7: 3\nnull: 4\n",
        "k: |\n  line\n   more\nj: >-\n  fold\n  ed\n\nl: |+\n  keep\n\n",
        "a: 'q''s'\nb: \"d\\n\\x41\\u00e9\"\nc: \"multi\n  line\"\nd: plain\n  continued\n",
        "a: [1, [2, {b: c}], {d: [e]}]\nf: {g: {h: i}}\n",
        "a:\r\n  - b\r\n  - c: d\r\n    e: f\r\n",
        "a: 1",  # no final line break
        "# c\n\na: 1 # c\n\n# c\n",
        "a: " + "[" * 70 + "]" * 70 + "\n",  # deeper than MAX_DEPTH
        "a: \u00e9\U0001f600 x\nb: \u00e9\n",
    ],
)
def test_valid_yaml_is_identical_on_both_paths(text: str) -> None:
    expected = reference(text)
    assert libyaml(text) == expected
    assert public(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "# only a comment\n",
        "~\n",
        "---\n",
        "---\n...\n",
        "--- \na: 1\n...\n",
        "%YAML 1.1\n---\na: 1\n",
        "%FOO bar\n---\na: 1\n",
        "a: 1\n---\nb: 2\n",
        "a: 1\n...\n---\n",
        "- a\n- b\n",
        "\n\njust text\n",
    ],
)
@pytest.mark.parametrize("allow_empty", [False, True])
def test_empty_and_multiple_documents_match_the_reference(text: str, allow_empty: bool) -> None:
    assert public(text, allow_empty) == reference(text, allow_empty)


MALFORMED = [
    "a:\n\tb: 1\n",
    "a: 'abc\nb: 1\n",
    'a: "abc\nb: 1\n',
    "a: b: c\n",
    "a: *nope\n",
    'a: "\\q"\n',
    "a: [1, 2\n",
    "a: {b: 1\n",
    "a: !custom x\n",
    "a: !!set {x}\n",
    "? [a]\n: 1\n",
    "a: " + "[" * 200 + "]" * 200 + "\n",
    "a: " + "[" * 1200 + "]" * 1200 + "\n",  # past libyaml's own nesting limit
    "- " * 1200 + "x\n",
    "a: &x 1\nb: &x 2\nc: *x\n",
    "a: 1\n b: 2\n",
    "a:\n  - b\n  c: d\n",
    "a: @x\n",
    "a: `x\n",
    "%YAML 2.0\n---\na: 1\n",
    "a: \x01\n",  # a control character: PyYAML's ReaderError carries no mark of its own
    "a: 2024-13-45\n",  # not a date: the constructor raises ValueError
    "a: |\n  x\n y\n",
    "'a\n\n",
]


@pytest.mark.parametrize("text", MALFORMED)
def test_malformed_yaml_is_reported_exactly_as_the_reference_does(text: str) -> None:
    expected = reference(text)
    assert expected[0] != "ok"
    assert public(text) == expected


@pytest.mark.parametrize("path", BAD_FILES, ids=lambda p: str(p.relative_to(REPO / "tests" / "data" / "bad")))
def test_bad_input_files_match_the_reference(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert public(text) == reference(text)


# Valid YAML where libyaml's result differs from the pure-Python loader's (data or positions):
# parse_yaml must not take the fast path for these.
DIVERGENT = [
    "a:\n  b: 1\t# tab before a comment\n",
    "x: {en?: y}\n",
    "\n?",
    "? a\n: b\n",
    "a:\n  - b\n  - c\ufeff: d\n    e: f\n",
    "a: 1\u2028b: 2\n",
    "a: 1\x85b: 2\n",
    "\na: !",
    "a: !!str 5\n",
    "x: {p: }\n",
    "x: {p: , q: 1}\n",
    "x: {a: {b: }}\n",
    "b: [a: ]\n",
    'b: ["q k": ]\n',
    "x: {p: # comment\n }\n",
    "x: {p:\r\n}\n",
    "a: |#\n  x\n",
    "a: >2#\n   x\n",
    "a: |-#c\n  x\n",
    "%YAML 1.1#c\n---\na: 1\n",
]


@pytest.mark.parametrize("text", DIVERGENT)
def test_texts_libyaml_reads_differently_take_the_reference_path(text: str, loaders_used: list[str]) -> None:
    assert yamlpos._reference_only(text)
    expected = reference(text)
    loaders_used.clear()
    assert public(text) == expected
    assert loaders_used == ["SafeLoader"]


@needs_libyaml
def test_problems_found_on_the_fast_path_are_reported_by_the_reference(loaders_used: list[str]) -> None:
    text = "a: 1\na: 2\n"
    expected = reference(text)
    loaders_used.clear()
    assert public(text) == expected
    assert loaders_used == ["CSafeLoader", "SafeLoader"]


@needs_libyaml
def test_empty_documents_are_left_to_the_reference(loaders_used: list[str]) -> None:
    expected = reference("# nothing yet\n", allow_empty=True)
    assert expected[0] == "ok"
    loaders_used.clear()
    assert public("# nothing yet\n", allow_empty=True) == expected
    assert loaders_used == ["CSafeLoader", "SafeLoader"]


def test_without_libyaml_the_pure_python_path_is_used(
    monkeypatch: pytest.MonkeyPatch, loaders_used: list[str]
) -> None:
    monkeypatch.setattr(yamlpos, "_FAST_LOADER", None)
    for text in ("a: 1\nb: [x, yes]\n", "a: 1\na: 2\n", "a: [1\n"):
        expected = reference(text)
        loaders_used.clear()
        assert public(text) == expected
        assert loaders_used == ["SafeLoader"]


_NOISE = [
    *" \n:-[]{},#&*'\"|>%@`\\\r",
    "---",
    "...",
    "- ",
    ": ",
    "&a ",
    "*a",
    "<<: ",
    "yes",
    "0x1F",
    "\u00e9",
]


def _mutate(text: str, rng: random.Random) -> str:
    chars = list(text)
    for _ in range(rng.randint(1, 4)):
        at = rng.randint(0, len(chars))
        roll = rng.random()
        if roll < 0.4:
            chars[at:at] = list(rng.choice(_NOISE))
        elif roll < 0.7:
            del chars[at : at + rng.randint(1, 3)]
        elif chars:
            chars[min(at, len(chars) - 1)] = rng.choice(_NOISE)
    return "".join(chars)


@needs_libyaml
def test_mutated_tenants_match_the_reference() -> None:
    # A small, deterministic slice of the differential fuzzing the fast path was checked with.
    seeds = [path.read_text(encoding="utf-8") for path in EXAMPLES]
    seeds += ["a:\n  - b\n  - {c: d, e: [f, g]}\nh: &x {i: 1}\nj:\n  <<: *x\n  k: 'l'\n"]
    rng = random.Random(20261124)
    fast = 0
    for _ in range(400):
        text = _mutate(rng.choice(seeds), rng)
        expected = reference(text)
        assert public(text) == expected, text
        fast += expected[0] == "ok" and not yamlpos._reference_only(text)
    assert fast > 50  # the comparison covered the fast path, not only the fallback


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: \x01\n", "t.yaml:1:4: the character U+0001 is not allowed in YAML"),
        ("tenant: x\nwhen: 2024-13-45\n", "t.yaml:2:7: cannot read this value: month must be in 1..12"),
    ],
)
def test_a_bad_character_or_impossible_date_is_a_located_problem_not_a_traceback(
    text: str, expected: str
) -> None:
    found = public(text)
    assert found[0] == "problems", found
    assert found[1][0].startswith(expected)
