"""The Rescue plain-text reply parser (pure): status token, blocks, ``KEY:value`` and ``KEY: value``."""

from __future__ import annotations

import pytest

from reconciler.errors import ProtocolError
from reconciler.providers.rescue.textformat import RescueResponse, parse_response


def test_authcode_reply() -> None:
    reply = parse_response("OK\n\nAUTHCODE:4ahx80u0\n")
    assert reply == RescueResponse("OK", [{"AUTHCODE": "4ahx80u0"}], [])
    assert reply.ok


def test_key_with_space_after_colon_and_lower_case_keys() -> None:
    reply = parse_response("OK\r\n\r\nNodeID: 123\r\nname:Tier 1\r\n")
    assert reply.blocks == [{"NODEID": "123", "NAME": "Tier 1"}]


def test_values_may_contain_colons_split_on_the_first() -> None:
    reply = parse_response("OK\n\nDESCRIPTION: see https://example.com:8443/x: y\nTIME:10:30:00\n")
    assert reply.blocks == [{"DESCRIPTION": "see https://example.com:8443/x: y", "TIME": "10:30:00"}]


def test_multi_block_hierarchy_survives_the_tap_logmeinrescue_framing() -> None:
    body = (
        "OK\n\n"
        "NodeID:1\nParentID:0\nName:Root\nType:Root\nStatus:Online\n\n"
        "NodeID:10\nParentID:1\nName:Technicians\nType:Technicians\n\n"
        "NodeID:100\nParentID:10\nName:Alice\nEmail:alice@contoso.com\nType:Technician\nStatus:Offline\n\n"
    )
    reply = parse_response(body)
    assert [b["NODEID"] for b in reply.blocks] == ["1", "10", "100"]
    assert reply.blocks[2] == {
        "NODEID": "100",
        "PARENTID": "10",
        "NAME": "Alice",
        "EMAIL": "alice@contoso.com",
        "TYPE": "Technician",
        "STATUS": "Offline",
    }
    # The same body read as the independent client does gives the same number of nodes.
    assert len(body.split("\n\n")[1:-1]) == len(reply.blocks)


def test_empty_values_and_several_blank_lines() -> None:
    reply = parse_response("\n\nOK\n\n\n\nNAME:\nEMAIL:a@b.c\n\n\n")
    assert reply.blocks == [{"NAME": "", "EMAIL": "a@b.c"}]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ("INVALID_SECRETAUTHCODE", "INVALID_SECRETAUTHCODE"),
        ("NOTLOGGEDIN\n", "NOTLOGGEDIN"),
        ("invalidparam_node\n\n", "INVALIDPARAM_NODE"),
        ("LIMITREACHED", "LIMITREACHED"),
        ("ERROR\n", "ERROR"),
    ],
)
def test_status_only_replies(body: str, status: str) -> None:
    reply = parse_response(body)
    assert reply.status == status and reply.blocks == [] and not reply.ok


def test_bare_values_are_kept_apart_from_blocks() -> None:
    assert parse_response("OK 12345").values == ["12345"]
    assert parse_response("OK\n12345\n").values == ["12345"]
    reply = parse_response("OK\n\n12345\n")
    assert reply.values == ["12345"] and reply.blocks == []


@pytest.mark.parametrize("body", ["", "   \n\n", "<html>oops</html>", "200 OK"])
def test_no_status_token_is_a_protocol_error(body: str) -> None:
    with pytest.raises(ProtocolError):
        parse_response(body)


def test_a_repeated_key_means_records_ran_together() -> None:
    with pytest.raises(ProtocolError, match="repeats the key NODEID"):
        parse_response("OK\n\nNodeID:1\nName:a\nNodeID:2\nName:b\n")
