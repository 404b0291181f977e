"""`profile discover` picks only the columns the solution made (issue 18 point 7): a system column
(IsCustomAttribute false) or a virtual column (AttributeOf) never plays a role, even when its label
or its lookup target matches; two of the solution's own columns that match are Unknown, both named."""

from __future__ import annotations

import asyncio
from typing import Any

from reconciler.engine.discover import Discovery, _column, _lookup_to
from reconciler.profile.columns import column
from reconciler.providers.dynamics.metadata import AttributeInfo, TableInfo

LABEL = {1033: "Technician ID"}


def _table(*attributes: AttributeInfo) -> TableInfo:
    return TableInfo(
        "lmi_logmeinsettings",
        "lmi_logmeinsettings",
        "lmi_logmeinsettingses",
        "lmi_logmeinsettingsid",
        {1033: "LogMeIn Settings"},
        {a.logical_name: a for a in attributes},
        (),
    )


class Reader:
    """Lookup targets by column; any other call fails the test."""

    def __init__(self, targets: dict[str, tuple[str, ...]]) -> None:
        self.targets = targets
        self.asked: list[str] = []

    async def lookup_targets(self, table: str, name: str) -> tuple[str, ...]:
        self.asked.append(name)
        return self.targets[name]


def test_a_system_or_virtual_column_with_the_label_is_not_a_candidate() -> None:
    info = _table(
        AttributeInfo("lmi_technicianid", "String", LABEL, custom=True),
        AttributeInfo("createdbyname", "String", LABEL, custom=False, attribute_of="createdby"),
        AttributeInfo("lmi_useridname", "String", LABEL, custom=True, attribute_of="lmi_userid"),
        AttributeInfo("importsequencenumber", "String", LABEL, custom=False),
    )
    discovery = Discovery()
    _column(discovery, info, column("technician_settings", "technician_id"))
    assert [(m.path, m.value) for m in discovery.matches] == [
        ("technician_settings.columns.technician_id", "lmi_technicianid")
    ]
    assert not discovery.problems


def test_two_of_the_solutions_own_columns_are_unknown_naming_both() -> None:
    info = _table(
        AttributeInfo("lmi_technicianid", "String", LABEL, custom=True),
        AttributeInfo("new_technicianid", "String", LABEL),  # IsCustomAttribute not given: counted
    )
    discovery = Discovery()
    _column(discovery, info, column("technician_settings", "technician_id"))
    [problem] = discovery.problems
    assert "2 candidates" in problem and "'lmi_technicianid'" in problem and "'new_technicianid'" in problem


def _lookups(*extra: AttributeInfo) -> tuple[TableInfo, Reader]:
    system = [
        AttributeInfo(name, "Lookup", {1033: name}, custom=False)
        for name in ("createdby", "modifiedby", "owninguser", "createdonbehalfby", "modifiedonbehalfby")
    ]
    own = AttributeInfo("lmi_userid", "Lookup", {1033: "User"}, "lmi_UserId", custom=True)
    info = _table(*system, own, *extra)
    return info, Reader({a.logical_name: ("systemuser",) for a in info.attributes.values()})


def _run_lookup(info: TableInfo, reader: Any) -> Discovery:
    discovery = Discovery()
    asyncio.run(
        _lookup_to(
            discovery, reader, info, "technician_settings", "user_lookup", "user_navigation", "systemuser"
        )
    )
    return discovery


def test_the_user_lookup_is_the_solutions_own_among_the_system_lookups_to_systemuser() -> None:
    info, reader = _lookups()
    discovery = _run_lookup(info, reader)
    assert [(m.path, m.value) for m in discovery.matches] == [
        ("technician_settings.user_lookup", "lmi_userid"),
        ("technician_settings.user_navigation", "lmi_UserId"),
    ]
    assert reader.asked == ["lmi_userid"]  # the system lookups are not even asked about


def test_two_own_lookups_to_systemuser_are_unknown_naming_both() -> None:
    info, reader = _lookups(AttributeInfo("lmi_managerid", "Lookup", {1033: "Manager"}, custom=True))
    discovery = _run_lookup(info, reader)
    [problem] = discovery.problems
    assert "2 candidates for lookup to systemuser" in problem
    assert "'lmi_userid'" in problem and "'lmi_managerid'" in problem
    assert not discovery.matches
