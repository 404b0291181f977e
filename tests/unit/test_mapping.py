"""Pure mappers: Dataverse rows and Rescue blocks -> resources, and back."""

from __future__ import annotations

from reconciler.profile import default_profile, effective_profile
from reconciler.providers.dynamics.application_user import application_user_to_row
from reconciler.providers.dynamics.integration import integration_from_row, integration_to_row
from reconciler.providers.dynamics.settings import settings_from_rows, settings_select, settings_to_row
from reconciler.providers.rescue.groups import groups_from_tree
from reconciler.providers.rescue.mapping import build_tree
from reconciler.providers.rescue.technicians import set_user_params, technician_from_user
from reconciler.resources import SecretHasher

PROFILE = default_profile()


def test_integration_row_maps_option_values_and_hides_the_password() -> None:
    cols = PROFILE.integration.columns
    row = {
        "@odata.etag": 'W/"12"',
        PROFILE.integration.id_column: "id-1",
        cols["instance"]: 100000001,
        cols["endpoint"]: "HTTPS://Dynamics.LogMeInRescue.com/",
        cols["company_id"]: "1234567",
        cols["sso_password"]: "hunter2",
        cols["org_url"]: "https://contoso.crm.dynamics.com",
        cols["office365_tenant_id"]: "{6C1F4D5E-2A7B-4C1D-9E3F-0A1B2C3D4E5F}",
        cols["require_active_technician_console"]: True,
        cols["close_ticket_on_session_end"]: False,
        cols["reassign_case_on_session_start"]: None,
        cols["do_not_pass_custom_field_1"]: True,
    }
    hasher = SecretHasher()
    res = integration_from_row(row, PROFILE, hasher)
    assert res.instance == "beta"
    assert res.endpoint == "https://dynamics.logmeinrescue.com"
    assert res.office365_tenant_id == "6c1f4d5e-2a7b-4c1d-9e3f-0a1b2c3d4e5f"
    assert res.reassign_case_on_session_start is None
    assert res.sso_password == hasher.sensitive("hunter2")
    assert "hunter2" not in repr(res)
    assert res.meta.etag == 'W/"12"'


def test_integration_to_row_writes_only_given_fields() -> None:
    row = integration_to_row(
        {"instance": "production", "close_ticket_on_session_end": False, "endpoint": None},
        PROFILE,
        secrets={},
    )
    cols = PROFILE.integration.columns
    assert row == {cols["instance"]: 100000000, cols["close_ticket_on_session_end"]: False}


def test_settings_rows_keyed_by_user_duplicates_reported_auth_code_never_read() -> None:
    ts = PROFILE.technician_settings
    assert ts.columns["auth_code"] not in settings_select(PROFILE)
    uid = "11111111-1111-1111-1111-111111111111"
    rows = [
        {
            ts.id_column: "r1",
            ts.user_value_column: uid,
            ts.columns["technician_id"]: "5",
            "modifiedon": "2026-01-01",
        },
        {
            ts.id_column: "r2",
            ts.user_value_column: uid,
            ts.columns["technician_id"]: "6",
            "modifiedon": "2026-02-01",
        },
        {ts.id_column: "r3", ts.user_value_column: "22222222-2222-2222-2222-222222222222"},
    ]
    result = settings_from_rows(rows, {uid: "a@x.com"}, PROFILE)
    assert result.by_user["a@x.com"].technician_id == "6"  # most recently modified wins
    assert "keeping r2" in result.duplicates[0] and "r1" in result.duplicates[0]
    assert result.orphans == ["r3"]


def test_settings_to_row_binds_the_user_through_the_profile_navigation() -> None:
    profile = effective_profile({"technician_settings": {"columns": {"sso_id": "lmi_rescuessoid"}}})
    row = settings_to_row({"technician_id": "5", "sso_id": "x"}, profile, user_id="u1")
    assert row == {
        "lmi_technicianid": "5",
        "lmi_rescuessoid": "x",
        "lmi_UserId@odata.bind": "/systemusers(u1)",
    }


def test_application_user_row_never_sends_fullname() -> None:
    row = application_user_to_row(
        {"first_name": "LogMeIn", "last_name": "Integration", "email": "a@x.com", "app_id": "app"},
        business_unit_id="bu",
    )
    assert "fullname" not in row
    assert row["businessunitid@odata.bind"] == "/businessunits(bu)"


HIERARCHY = [
    {"NODEID": "1", "PARENTID": "0", "NAME": "Technicians", "TYPE": "Technicians"},
    {"NODEID": "10", "PARENTID": "1", "NAME": "Support", "TYPE": "TechnicianGroup"},
    {"NODEID": "11", "PARENTID": "10", "NAME": "Tier 1", "TYPE": "TechnicianGroup"},
    {"NODEID": "101", "PARENTID": "11", "NAME": "Alice", "TYPE": "Technician", "EMAIL": "Alice@Contoso.com"},
    {
        "NODEID": "102",
        "PARENTID": "11",
        "NAME": "Alice 2",
        "TYPE": "Technician",
        "EMAIL": "alice@contoso.com",
    },
    {"NODEID": "2", "PARENTID": "0", "NAME": "Administrators", "TYPE": "Administrators"},
    {"NODEID": "20", "PARENTID": "2", "NAME": "Admins", "TYPE": "AdministratorGroup"},
]


def test_tree_paths_and_technicians_by_email() -> None:
    tree = build_tree(HIERARCHY)
    assert [g.path for g in groups_from_tree(tree).groups] == ["Support", "Support/Tier 1"]
    assert tree.group_id("support/tier 1") == "11"
    # Two technicians share alice's e-mail: neither is matched by it, both are named.
    assert tree.technicians_by_email == {}
    assert tree.duplicate_emails == ["alice@contoso.com"]
    assert [t.node_id for t in tree.directory().technician("alice@contoso.com").candidates] == ["101", "102"]
    assert tree.directory().node_ids == frozenset({"101", "102"})


def test_set_user_keeps_every_field_as_read() -> None:
    read = {
        "NODEID": "101",
        "NAME": "Alice",
        "NICK": "al",
        "EMAIL": "alice@contoso.com",
        "SSOID": "old",
        "DESCRIPTION": "d",
        "HASMOBILEADDON": "True",
        "HASRPATADDON": "False",
        "STATUS": "Online",
    }
    params = set_user_params(read, ssoid="new")
    assert params == {
        "node": "101",
        "name": "Alice",
        "nick": "al",
        "email": "alice@contoso.com",
        "ssoid": "new",
        "description": "d",
        "mobileaddon": "true",
        "rpataddon": "false",
        "status": "Enabled",
    }
    assert technician_from_user(read).sso_id == "old"
