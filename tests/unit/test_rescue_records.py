"""getHierarchy_v2 replies read record by record: an odd record is set aside, named, alone."""

from __future__ import annotations

import pytest

from reconciler.errors import ProtocolError
from reconciler.providers.rescue.records import parse_hierarchy


def record(node: str, name: str, description: str = "", type_: str = "TechnicianGroup") -> str:
    return (
        f"NodeID:{node}\nParentID:1\nName:{name}\nEmail:\nDescription:{description}\n"
        f"Status:Offline\nType:{type_}"
    )


def reply(*records: str) -> str:
    return "OK\n\n" + "".join(f"{r}\n\n" for r in records)


def test_values_holding_colons_parse_whole() -> None:
    parsed = parse_hierarchy(reply(record("7", "Support: Tier 1", "hours: 9:00-17:00")))
    assert parsed.odd == []
    assert parsed.blocks[0]["NAME"] == "Support: Tier 1"
    assert parsed.blocks[0]["DESCRIPTION"] == "hours: 9:00-17:00"


@pytest.mark.parametrize(
    "description",
    ["two\nlines", "spoofed\nStatus:Online", "a blank\n\nline in it", "x\n\nNodeID:99\nParentID:1"],
)
def test_a_line_break_in_a_value_sets_that_record_aside_by_node_id(description: str) -> None:
    parsed = parse_hierarchy(
        reply(record("5", "Sales"), record("7", "Support", description), record("9", "Ops"))
    )
    assert [b["NODEID"] for b in parsed.blocks] == ["5", "9"]
    assert "7" in {o.node_id for o in parsed.odd}
    assert all(o.label.startswith("Rescue node ") for o in parsed.odd)


def test_a_record_without_a_readable_node_id_is_named_by_position() -> None:
    parsed = parse_hierarchy(reply("Name:orphan\nType:TechnicianGroup", record("5", "Sales")))
    (odd,) = parsed.odd
    assert (odd.node_id, odd.position, odd.label) == (None, 1, "Rescue hierarchy record #1")
    assert [b["NODEID"] for b in parsed.blocks] == ["5"]


def test_a_fragment_after_a_record_belongs_to_it() -> None:
    parsed = parse_hierarchy(reply(record("5", "Sales"), "more of the description", record("9", "Ops")))
    assert [(o.node_id, o.position) for o in parsed.odd] == [("5", 1)]
    assert [b["NODEID"] for b in parsed.blocks] == ["9"]


def test_fields_out_of_order_or_a_non_numeric_id_are_odd() -> None:
    swapped = record("5", "Sales").replace("ParentID:1\nName:Sales", "Name:Sales\nParentID:1")
    (odd,) = parse_hierarchy(reply(swapped)).odd
    assert odd.node_id == "5" and "expected the field PARENTID" in odd.reason
    (odd,) = parse_hierarchy(reply(record("x1", "Ops"))).odd
    assert odd.node_id is None and "NodeID is not a number" in odd.reason


def test_crlf_and_spaces_after_the_colon_are_accepted() -> None:
    parsed = parse_hierarchy(reply(record("5", " Sales")).replace("\n", "\r\n"))
    assert parsed.blocks[0]["NAME"] == "Sales" and parsed.odd == []


def test_status_tokens_still_decide() -> None:
    assert parse_hierarchy("INVALID_SECRETAUTHCODE\n\n").status == "INVALID_SECRETAUTHCODE"
    with pytest.raises(ProtocolError):
        parse_hierarchy("")
