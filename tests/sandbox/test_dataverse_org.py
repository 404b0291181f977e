"""The emulated org without HTTP: seeding through the solution profile, the Python API the
sandbox controls use, transactions, snapshots, and the ``$filter`` compiler's corner cases."""

from __future__ import annotations

import json
from typing import Any

import pytest

from rescue_sandbox.dataverse import DataverseError, DataverseOrg
from rescue_sandbox.dataverse.odata_filter import compile_filter
from rescue_sandbox.dataverse.query import ListSource, Query, fetch, resolver
from rescue_sandbox.dataverse.solution_schema import schema_from_seed

APP_ID = "1e2716f5-fee6-4370-a121-baea6d360668"


def seed(**extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "org_url": "https://contoso.crm.dynamics.com",
        "business_units": [{"name": "contoso"}],
        "roles": ["LogMeIn Integration User"],
        "users": [
            {
                "domainname": "alice@contoso.com",
                "firstname": "Alice",
                "lastname": "Adams",
                "roles": ["LogMeIn Integration User"],
            },
            {"domainname": "bob@contoso.com", "firstname": "Bob"},
        ],
        "settings": [{"user": "alice@contoso.com", "technician_id": "1001", "sso_id": "alice"}],
    }
    base.update(extra)
    return base


def test_schema_overrides_reach_the_seeded_tables() -> None:
    schema = schema_from_seed({"technician_settings": {"columns": {"sso_id": "lmi_rescuessoid"}}})
    org = DataverseOrg.from_seed(seed(org_url="https://fabrikam.crm4.dynamics.com"), schema)
    [row] = org.rows("lmi_logmeinsettings")
    assert row["lmi_rescuessoid"] == "alice" and "lmi_ssoid" not in row
    with pytest.raises(DataverseError, match="lmi_ssoid"):
        org.insert("lmi_logmeinsettings", {"lmi_ssoid": "x"})


def test_seeded_ids_are_deterministic_and_lookups_resolved() -> None:
    first = DataverseOrg.from_seed(seed())
    second = DataverseOrg.from_seed(seed())
    assert [r["systemuserid"] for r in first.rows("systemuser")] == [
        r["systemuserid"] for r in second.rows("systemuser")
    ]
    alice = first.find("systemuser", "domainname", "ALICE@contoso.com")[0]
    assert first.rows("lmi_logmeinsettings")[0]["_lmi_userid_value"] == alice["systemuserid"]
    assert len(first.related_ids("systemuserroles_association", "systemuser", alice["systemuserid"])) == 1


def test_application_user_integration_and_solutions() -> None:
    org = DataverseOrg.from_seed(
        seed(
            application_user={
                "app_id": APP_ID,
                "firstname": "LogMeIn",
                "lastname": "Integration",
                "email": "a@b.c",
            },
            integration={
                "instance": "beta",
                "endpoint": "https://x",
                "options": {"do_not_pass_custom_field_1": True},
            },
            solutions=[{"uniquename": "LogMeInRescueIntegration", "version": "2.1.0.0"}],
        ),
    )
    [app] = org.find("systemuser", "applicationid", APP_ID)
    assert app["accessmode"] == 4 and app["fullname"] == "LogMeIn Integration"
    [config] = org.rows("lmi_rescueconfiguration")
    assert config["lmi_instance"] == 100000001 and config["lmi_donotpasscustomfield1"] is True
    assert config["lmi_requireactivetechconsole"] is False
    assert org.rows("solution")[0]["ismanaged"] is True


@pytest.mark.parametrize(
    "extra, message",
    [
        ({"org_url": "http://insecure"}, "https"),
        ({"users": [{"firstname": "NoUpn"}]}, "domainname is required"),
        ({"users": [{"domainname": "a@b.c", "shoesize": 9}]}, "unknown field(s) shoesize"),
        ({"users": [{"domainname": "a@b.c", "roles": ["Nope"]}]}, "unknown role"),
        ({"settings": [{"user": "ghost@contoso.com"}]}, "not among dataverse.users"),
        ({"business_units": [{"name": "a"}, {"name": "b", "parent": "zzz"}]}, "must be declared before"),
        ({"integration": {"instance": "gamma"}}, "unknown instance"),
        ({"integration": {"options": {"flip": True}}}, "unknown field(s) flip"),
        ({"session_key": {"status": "Broken"}}, "unknown entity key status"),
        ({"tables": {"new_thing": {"rows": [{"new_when": {"a": 1}}]}}}, "unsupported type"),
    ],
)
def test_seed_problems_raise_value_error(extra: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        DataverseOrg.from_seed(seed(**extra))


def test_seed_extra_tables_with_keys_and_rows_for_profile_tables() -> None:
    extra = {
        "new_device": {
            "entity_set": "new_devices",
            "id_column": "new_deviceid",
            "columns": {"new_serial": "String", "new_count": "Integer"},
            "keys": [{"logical_name": "new_serialkey", "columns": ["new_serial"]}],
            "rows": [{"new_serial": "A1", "new_count": 2, "new_flag": True}],
        },
        "lmi_logmeinsession": {"rows": [{"lmi_sessionid": "S-1"}]},
    }
    org = DataverseOrg.from_seed(seed(tables=extra))
    [device] = org.rows("new_devices")
    assert device["new_flag"] is True and device["new_count"] == 2
    assert org.table("new_device").key("new_serialkey") is not None
    assert [r["lmi_sessionid"] for r in org.rows("lmi_logmeinsession")] == ["S-1"]
    with pytest.raises(DataverseError) as duplicate:
        org.insert("new_device", {"new_serial": "a1"})
    assert duplicate.value.status == 412 and duplicate.value.code == "0x80060892"


def test_versions_bump_on_every_write_and_types_are_checked() -> None:
    org = DataverseOrg.from_seed(seed())
    row = org.rows("lmi_logmeinsettings")[0]
    updated = org.update("lmi_logmeinsettings", row["lmi_logmeinsettingsid"], {"lmi_ssoid": "a2"})
    assert updated["versionnumber"] > row["versionnumber"]
    with pytest.raises(DataverseError, match=r"Edm\.String"):
        org.update("lmi_logmeinsettings", row["lmi_logmeinsettingsid"], {"lmi_ssoid": 5})
    with pytest.raises(DataverseError) as missing:
        org.update("lmi_logmeinsettings", "00000000-0000-0000-0000-000000000000", {})
    assert missing.value.status == 404


def test_transaction_rolls_back_rows_associations_and_keys() -> None:
    org = DataverseOrg.from_seed(seed())
    bob = org.find("systemuser", "domainname", "bob@contoso.com")[0]["systemuserid"]
    role = org.find("role", "name", "LogMeIn Integration User")[0]["roleid"]

    def canonical(snapshot: dict[str, Any]) -> str:
        # A rolled-back delete puts the row back at the end: the order of rows is not state.
        tables = {name: sorted(rows, key=json.dumps) for name, rows in snapshot["tables"].items()}
        return json.dumps({**snapshot, "tables": tables}, sort_keys=True)

    before = org.snapshot()
    with pytest.raises(RuntimeError), org.transaction():
        org.insert("lmi_logmeinsettings", {"_lmi_userid_value": bob, "lmi_ssoid": "bob"})
        org.associate("systemuserroles_association", bob, role)
        org.set_key_status("lmi_logmeinsession", "lmi_sessionkey", "Failed", "x")
        org.delete("role", role)
        raise RuntimeError("abort")
    after = org.snapshot()
    after["version"] = before["version"]  # the counter only moves forward
    assert canonical(after) == canonical(before)


def test_associate_twice_fails_and_disassociate_missing_is_a_no_op() -> None:
    org = DataverseOrg.from_seed(seed())
    alice = org.find("systemuser", "domainname", "alice@contoso.com")[0]["systemuserid"]
    role = org.find("role", "name", "LogMeIn Integration User")[0]["roleid"]
    with pytest.raises(DataverseError, match=r"Cannot insert duplicate key\."):
        org.associate("systemuserroles_association", alice, role)
    org.disassociate("systemuserroles_association", alice, role)
    org.disassociate("systemuserroles_association", alice, role)
    assert org.related_ids("systemuserroles_association", "systemuser", alice) == []


def test_deleting_rows_clears_links() -> None:
    org = DataverseOrg.from_seed(seed())
    alice = org.find("systemuser", "domainname", "alice@contoso.com")[0]["systemuserid"]
    org.delete("role", org.find("role", "name", "LogMeIn Integration User")[0]["roleid"])
    assert org.rows("systemuserroles") == []
    org.delete("systemuser", alice)
    assert org.rows("lmi_logmeinsettings")[0]["_lmi_userid_value"] is None


def test_key_status_controls() -> None:
    org = DataverseOrg.from_seed(seed())
    org.set_key_status("lmi_logmeinsession", "lmi_sessionkey", "Pending", "Index job failed")
    state = org.key_status("lmi_logmeinsession", "lmi_sessionkey")
    job = org.get("asyncoperation", state.async_job or "")
    assert state.status == "Pending" and job is not None
    assert (job["operationtype"], job["statecode"], job["statuscode"], job["message"]) == (
        63,
        3,
        31,
        "Index job failed",
    )
    with pytest.raises(ValueError):
        org.set_key_status("lmi_logmeinsession", "lmi_sessionkey", "Sleeping")
    with pytest.raises(KeyError):
        org.set_key_status("lmi_logmeinsession", "nokey", "Active")


def test_first_pin_request_creates_an_empty_settings_row_once() -> None:
    org = DataverseOrg.from_seed(seed())
    created = org.record_pin_request("BOB@contoso.com", "2002")
    assert created is not None
    assert (
        created["lmi_technicianid"] == "2002"
        and created["lmi_ssoid"] is None
        and created["lmi_authcode"] is None
    )
    assert org.record_pin_request("bob@contoso.com", "2002") is None
    assert org.record_pin_request("ghost@contoso.com", "1") is None


def test_snapshot_restore_round_trip_keeps_state_and_pending_jobs() -> None:
    clock = [1000.0]
    org = DataverseOrg.from_seed(seed(session_key={"status": "Failed"}), clock=lambda: clock[0])
    with org.transaction():
        from rescue_sandbox.dataverse import jobs

        jobs.submit_index_job(org, "lmi_logmeinsession", "lmi_sessionkey")
    data = json.loads(json.dumps(org.snapshot()))
    restored = DataverseOrg.restore(data, clock=lambda: clock[0])
    assert restored.rows("systemuser") == org.rows("systemuser")
    assert restored.key_status("lmi_logmeinsession", "lmi_sessionkey").status == "Pending"
    clock[0] += 5
    assert restored.key_status("lmi_logmeinsession", "lmi_sessionkey").status == "Active"
    new = restored.insert("lmi_logmeinsettings", {"lmi_ssoid": "n"})
    assert new["versionnumber"] > max(r["versionnumber"] for r in org.rows("lmi_logmeinsettings"))
    with pytest.raises(ValueError):
        DataverseOrg.restore({"format": 99})


def test_large_org_loads_and_pages_completely() -> None:
    users = [{"domainname": f"u{i}@contoso.com", "firstname": f"U{i}"} for i in range(2500)]
    settings = [{"user": f"u{i}@contoso.com", "technician_id": str(i)} for i in range(2500)]
    org = DataverseOrg.from_seed(seed(users=users, settings=settings))
    table = org.table("lmi_logmeinsettings")
    query, seen, pages = Query(), 0, 0
    while True:
        page = fetch(table, org.store(table.logical_name), query, 1000)
        seen, pages = seen + len(page.rows), pages + 1
        if page.next_token is None:
            break
        query = Query(skiptoken=page.next_token)
    assert (seen, pages) == (2500, 3)


# ---------------------------------------------------------------------------------------- $filter compiler
def _users(expression: str, aliases: dict[str, str] | None = None) -> list[str]:
    org = DataverseOrg.from_seed(seed())
    table = org.table("systemuser")
    compiled = compile_filter(expression, resolver(table, org), aliases)
    page = fetch(table, ListSource(org.rows("systemuser"), "systemuserid"), Query(filter=compiled), None)
    return sorted(r["firstname"] for r in page.rows)


def test_filter_aliases_datetimes_and_numbers() -> None:
    assert _users("firstname eq @p1", {"@p1": "'Bob'"}) == ["Bob"]
    assert _users("createdon gt 2000-01-01T00:00:00Z and accessmode le 0") == ["Alice", "Bob"]
    assert _users("(accessmode eq 1 or accessmode eq 0) and not isdisabled") == ["Alice", "Bob"]


@pytest.mark.parametrize(
    "expression, fragment",
    [
        ("systemuserid gt 00000000-0000-0000-0000-000000000000", "not supported for operands"),
        ("firstname eq 1", "incompatible types"),
        ("contains(accessmode,'1')", "needs a string property"),
        ("firstname eq @nope", "parameter alias"),
        ("firstname eq 'a' and", "Syntax error"),
        ("(firstname eq 'a'", "Syntax error"),
        ("firstname ~ 'a'", "Syntax error"),
        ("", "empty"),
    ],
)
def test_filter_errors(expression: str, fragment: str) -> None:
    with pytest.raises(DataverseError) as error:
        _users(expression)
    assert error.value.status == 400 and fragment in error.value.message


def test_unpaged_queries_stop_at_5000_rows_with_a_next_page() -> None:
    org = DataverseOrg.from_seed(seed())
    with org.transaction():
        for i in range(5001):
            org.insert("lmi_logmeinsession", {"lmi_sessionid": f"S-{i}"})
    table = org.table("lmi_logmeinsession")
    first = fetch(table, org.store(table.logical_name), Query(), None)
    assert len(first.rows) == 5000 and first.next_token is not None
    rest = fetch(table, org.store(table.logical_name), Query(skiptoken=first.next_token), None)
    assert len(rest.rows) == 1 and rest.next_token is None
    top = fetch(table, org.store(table.logical_name), Query(top=10), 2)
    assert len(top.rows) == 10 and top.next_token is None
