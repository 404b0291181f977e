"""The position-keeping YAML loader: data as safe_load gives it, positions, and every refusal."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from reconciler.config.yamlpos import MAX_FILE_BYTES, load_yaml_file, parse_yaml
from reconciler.errors import ConfigErrors, Location


def problems_of(text: str, **kw: bool) -> list[str]:
    with pytest.raises(ConfigErrors) as caught:
        parse_yaml(text, "t.yaml", **kw)
    return [str(p) for p in caught.value.problems]


def test_data_matches_safe_load() -> None:
    text = "a: 1\nb: [x, 2.5, true, null]\nc: {d: 2026-10-01, e: '007'}\nf: yes\n"
    doc = parse_yaml(text, "t.yaml")
    assert doc.data == yaml.safe_load(text)
    assert doc.data["c"]["d"] == dt.date(2026, 10, 1)


def test_positions_of_keys_and_values_are_one_based() -> None:
    doc = parse_yaml("a:\n  b: hello\n  c:\n    - x\n    - {d: 1}\n", "t.yaml")
    pos = doc.positions
    assert pos.keys[("a", "b")] == Location("t.yaml", 2, 3)
    assert pos.values[("a", "b")] == Location("t.yaml", 2, 6)
    assert pos.values[("a", "c", 1)] == Location("t.yaml", 5, 7)
    assert pos.keys[("a", "c", 1, "d")] == Location("t.yaml", 5, 8)
    # An unknown path falls back to its nearest ancestor.
    assert pos.locate(("a", "c", 1, "zzz")) == Location("t.yaml", 5, 7)
    assert pos.locate(("a", "c", 1, "zzz"), key=True) == Location("t.yaml", 5, 7)
    assert pos.locate(("nope",)) == Location("t.yaml", 1, 1)


def test_duplicate_keys_are_all_reported_at_the_second_one() -> None:
    found = problems_of("a: 1\nb:\n  c: 1\n  c: 2\na: 3\n")
    assert found == [
        "t.yaml:4:3: b.c: duplicate key 'c': it is already defined at line 3; a key may appear only once in a mapping",
        "t.yaml:5:1: a: duplicate key 'a': it is already defined at line 1; a key may appear only once in a mapping",
    ]


def test_alias_bomb_is_refused_quickly() -> None:
    lines = ["a0: &a0 [" + ", ".join(["lol"] * 10) + "]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 10)]
    # Fully expanded this is 10**10 strings: without the cap the test would hit its timeout.
    found = problems_of("\n".join(lines) + "\n")
    assert len(found) == 1
    assert found[0].startswith("t.yaml:4:1: aliases expand to more than 10,000 nodes")


def test_modest_aliases_are_fine() -> None:
    doc = parse_yaml("base: &b {x: 1}\none: *b\ntwo: *b\n", "t.yaml")
    assert doc.data == {"base": {"x": 1}, "one": {"x": 1}, "two": {"x": 1}}
    doc.data["one"]["x"] = 2
    assert doc.data["two"]["x"] == 1  # expansions are independent copies


def test_recursive_alias_is_refused() -> None:
    assert problems_of("a: &a [1, *a]\n") == [
        "t.yaml:1:1: an alias refers to the mapping or list that contains it (a recursive alias)"
    ]


def test_merge_keys_keep_explicit_values() -> None:
    doc = parse_yaml("base: &b {x: 1, y: 2}\nc:\n  <<: *b\n  y: 3\n", "t.yaml")
    assert doc.data["c"] == {"x": 1, "y": 3}
    assert doc.positions.keys[("c", "y")] == Location("t.yaml", 4, 3)


def test_merge_key_needs_a_mapping() -> None:
    assert problems_of("c:\n  <<: 5\n  y: 3\n") == [
        "t.yaml:2:7: c: a merge key `<<` needs a mapping or a list of mappings"
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a:\n\tb: 1\n", "t.yaml:2:1: tabs are not allowed for indentation; use spaces"),
        ("a: 'abc\nb: 1\n", "t.yaml:1:4: unclosed quote: the string that starts here has no closing quote"),
        ('a: "abc\nb: 1\n', "t.yaml:1:4: unclosed quote"),
        ("a: b: c\n", "t.yaml:1:5: unexpected ':' here; a value that contains ': ' must be quoted"),
        ("a: 1\n---\nb: 2\n", "t.yaml:2:1: a tenant file holds one YAML document"),
        ("a: *nope\n", "t.yaml:1:4: this alias refers to an anchor (&name) that is not defined above it"),
        ('a: "\\q"\n', "t.yaml:1:6: unknown escape sequence in a double-quoted string"),
        ("a: [1, 2\n", "t.yaml:2:1: invalid YAML: "),
        ("a: !custom x\n", "t.yaml:1:4: cannot read this value: unsupported tag '!custom'"),
        ("a: !!set {x}\n", "t.yaml:1:4: unsupported tag 'tag:yaml.org,2002:set'"),
        ("? [a]\n: 1\n", "t.yaml:1:3: a key must be a plain word or string, not a mapping or list"),
        ("a: " + "[" * 200 + "]" * 200 + "\n", "t.yaml:1:1: nesting"),
    ],
)
def test_yaml_errors_in_plain_words(text: str, expected: str) -> None:
    found = problems_of(text)
    assert found[0].startswith(expected), found


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "t.yaml:1:1: the file is empty; a tenant file must be a mapping of keys"),
        ("# only a comment\n", "t.yaml:1:1: the file is empty"),
        ("~\n", "t.yaml:1:1: the file is empty"),
        (
            "- a\n- b\n",
            "t.yaml:1:1: a tenant file must be a mapping of keys, e.g. `tenant: contoso`; found a list",
        ),
        (
            "\n\njust text\n",
            "t.yaml:3:1: a tenant file must be a mapping of keys, e.g. `tenant: contoso`; found a single",
        ),
    ],
)
def test_top_level_must_be_a_mapping(text: str, expected: str) -> None:
    assert problems_of(text)[0].startswith(expected)


def test_empty_allowed_for_defaults() -> None:
    assert parse_yaml("# nothing yet\n", "d.yaml", allow_empty=True).data == {}


def test_keys_are_kept_as_written() -> None:
    assert parse_yaml("on: 1\n2024-01-01: 2\n7: 3\n", "t.yaml").data == {"on": 1, "2024-01-01": 2, "7": 3}


def test_file_size_cap(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_text("a: '" + "x" * MAX_FILE_BYTES + "'\n", encoding="utf-8")
    with pytest.raises(ConfigErrors) as caught:
        load_yaml_file(big, "big.yaml")
    assert str(caught.value.problems[0]).startswith("big.yaml:1:1: the file is 1,048,")
    assert "limited to 1,048,576 bytes" in str(caught.value.problems[0])


def test_not_utf8_points_at_the_bad_byte(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_bytes(b"a: 1\nb: caf\xe9\n")
    with pytest.raises(ConfigErrors) as caught:
        load_yaml_file(path, "t.yaml")
    assert str(caught.value.problems[0]) == "t.yaml:2:7: the file is not UTF-8 text; save it as UTF-8"


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigErrors) as caught:
        load_yaml_file(tmp_path / "missing.yaml", "missing.yaml")
    assert str(caught.value.problems[0]).startswith("missing.yaml:1:1: cannot read the file: ")


def test_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_bytes(b"\xef\xbb\xbftenant: x\n")
    assert load_yaml_file(path).data == {"tenant": "x"}
