"""The sandbox's own list of setGroup permission names (rescue_sandbox/rescue/permissions.yaml).

The file is the sandbox's reading of the Rescue API reference, kept apart from the product's
(a name both got wrong the same way would pass every test); these tests check the file against
what the reference's pages say about the two versions, and that a broken file is refused.
"""

from __future__ import annotations

from typing import Any

import pytest

from rescue_sandbox.rescue.permissions import METHODS, SET_GROUP_PERMISSIONS, parse_permissions

V2_ADDED = ("UnattendedAccess", "SessionHoldNotAllowed", "ConnectOnLan")


def test_v2_is_v1_with_the_three_names_the_page_says_it_added_and_without_the_survey() -> None:
    # API_Rescue_setGroup_v2.html: "UnattendedAccess, SessionHoldNotAllowed, and ConnectOnLan have
    # been added as new permissions"; its list no longer holds TechEndSessionSurvey.
    v1, v2 = SET_GROUP_PERMISSIONS["setGroup"], SET_GROUP_PERMISSIONS["setGroup_v2"]
    assert [n for n in v1 if n != "TechEndSessionSurvey"] == [n for n in v2 if n not in V2_ADDED]
    assert v2[-3:] == V2_ADDED
    assert "TechEndSessionSurvey" in v1 and "TechEndSessionSurvey" not in v2
    assert len(v1) == 24 and len(v2) == 26


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (["RemoteControl"], "exactly the keys setGroup, setGroup_v2"),
        ({"setGroup": ["RemoteControl"]}, "exactly the keys"),
        ({**{m: ["RemoteControl"] for m in METHODS}, "setGroup_v3": ["X"]}, "exactly the keys"),
        ({"setGroup": [], "setGroup_v2": ["RemoteControl"]}, "setGroup: a non-empty list"),
        ({"setGroup": ["RemoteControl"], "setGroup_v2": "RemoteControl"}, "setGroup_v2: a non-empty list"),
        ({"setGroup": ["RemoteControl", 7], "setGroup_v2": ["RemoteControl"]}, "setGroup: a non-empty"),
        ({"setGroup": ["RemoteControl", ""], "setGroup_v2": ["RemoteControl"]}, "setGroup: a non-empty"),
        (
            {"setGroup": ["SendFile", "SendFile"], "setGroup_v2": ["SendFile"]},
            "setGroup: a name is listed twice",
        ),
    ],
)
def test_a_broken_permissions_file_is_refused_with_what_is_wrong(data: Any, problem: str) -> None:
    with pytest.raises(ValueError, match=problem) as caught:
        parse_permissions(data, "permissions.yaml")
    assert str(caught.value).startswith("permissions.yaml: ")
