"""Raw-HTTP conformance of the Dataverse emulator: auth, reads, query options, paging, metadata.

Written from the request/response examples in reference/dataverse.md and Microsoft's Web API
pages, with plain httpx over HTTPS (the CA passed explicitly), not with our own client.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from dataverse_harness import HOST, error_of, install_org

from rescue_sandbox.dataverse import DataverseOrg
from rescue_sandbox.dataverse.standalone import LocalTokens, StandaloneServer

pytestmark = pytest.mark.integration

APP_ID = "1e2716f5-fee6-4370-a121-baea6d360668"
SEED: dict[str, Any] = {
    "org_url": f"https://{HOST}",
    "business_units": [{"name": "contoso"}, {"name": "support", "parent": "contoso"}],
    "roles": ["LogMeIn Integration User", "System Administrator"],
    "users": [
        {
            "domainname": "alice@contoso.com",
            "firstname": "Alice",
            "lastname": "Adams",
            "roles": ["System Administrator"],
        },
        {"domainname": "bob@contoso.com", "firstname": "Bob", "lastname": "Brown"},
        {
            "domainname": "carol@contoso.com",
            "firstname": "Carol",
            "lastname": "Jones",
            "business_unit": "support",
        },
        {"domainname": "dave@contoso.com", "firstname": "Dave", "lastname": "Dunn"},
        {"domainname": "erin@contoso.com", "firstname": "Erin", "lastname": "Evans", "isdisabled": True},
    ],
    "solutions": [{"uniquename": "LogMeInRescueIntegration", "version": "2.1.0.0", "ismanaged": True}],
    "integration": {
        "instance": "production",
        "company_id": "1234567",
        "options": {"require_active_technician_console": True},
    },
    "settings": [
        {"user": "alice@contoso.com", "technician_id": "1001", "sso_id": "alice", "auth_code": "rt-1"},
        {"user": "bob@contoso.com", "technician_id": "1002", "sso_id": "bob"},
    ],
    "application_user": {"app_id": APP_ID, "firstname": "LogMeIn", "lastname": "Integration"},
}


@pytest.fixture
def org(server: StandaloneServer) -> DataverseOrg:
    return install_org(server, SEED)


# ---------------------------------------------------------------------------------------- auth
def test_missing_token_is_401_with_dataverse_body_and_challenge(
    server: StandaloneServer, org: DataverseOrg
) -> None:
    with httpx.Client(verify=server.ssl_context(), trust_env=False) as client:
        response = client.get(f"{server.dataverse_url(HOST)}/api/data/v9.2/systemusers")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer authorization_uri=")
    assert "bearer" in error_of(response)["message"].lower()


@pytest.mark.parametrize(
    "audience, lifetime, accepted",
    [
        (f"https://{HOST}", 3600, True),
        (f"https://{HOST}/", 3600, True),
        ("sandbox", 3600, True),
        ("https://fabrikam.crm4.dynamics.com", 3600, False),
        (f"https://{HOST}", -120, False),
    ],
)
def test_token_audience_and_expiry(
    server: StandaloneServer,
    tokens: LocalTokens,
    org: DataverseOrg,
    audience: str,
    lifetime: int,
    accepted: bool,
) -> None:
    if audience == "sandbox":
        audience = server.dataverse_url(HOST)
    token = tokens.mint(audience, lifetime=lifetime)
    with httpx.Client(verify=server.ssl_context(), trust_env=False) as client:
        response = client.get(
            f"{server.dataverse_url(HOST)}/api/data/v9.2/WhoAmI", headers={"Authorization": f"Bearer {token}"}
        )
    assert response.status_code == (200 if accepted else 401)
    if not accepted:
        assert error_of(response)["code"]


def test_unknown_org_host_is_404(server: StandaloneServer, tokens: LocalTokens, org: DataverseOrg) -> None:
    token = tokens.mint("https://nowhere.crm.dynamics.com")
    with httpx.Client(verify=server.ssl_context(), trust_env=False) as client:
        response = client.get(
            f"{server.url}/dataverse/nowhere.crm.dynamics.com/api/data/v9.2/systemusers",
            headers={"Authorization": f"Bearer {token}"},
        )
    assert response.status_code == 404
    error_of(response)


# ---------------------------------------------------------------------------------------- reads
def test_collection_shape_headers_and_etags(api: httpx.Client) -> None:
    response = api.get("systemusers", params={"$select": "fullname,domainname"})
    assert response.status_code == 200
    assert response.headers["OData-Version"] == "4.0"
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["@odata.context"].endswith("/api/data/v9.2/$metadata#systemusers(fullname,domainname)")
    alice = next(r for r in body["value"] if r["domainname"] == "alice@contoso.com")
    assert set(alice) == {"@odata.etag", "fullname", "domainname", "systemuserid"}
    assert alice["fullname"] == "Alice Adams"
    assert alice["@odata.etag"].startswith('W/"') and alice["@odata.etag"].endswith('"')


def test_reference_query_application_user_by_unquoted_guid(api: httpx.Client) -> None:
    select = (
        "systemuserid,applicationid,firstname,lastname,internalemailaddress,isdisabled,_businessunitid_value"
    )
    response = api.get("systemusers", params={"$select": select, "$filter": f"applicationid eq {APP_ID}"})
    assert response.status_code == 200
    [row] = response.json()["value"]
    assert row["applicationid"] == APP_ID and row["firstname"] == "LogMeIn" and row["isdisabled"] is False


def test_quoted_guid_literal_is_rejected_like_dataverse(api: httpx.Client) -> None:
    response = api.get("systemusers", params={"$filter": f"applicationid eq '{APP_ID}'"})
    assert response.status_code == 400
    assert "incompatible types" in error_of(response)["message"]


def test_root_business_unit_by_null_parent(api: httpx.Client) -> None:
    response = api.get(
        "businessunits",
        params={"$select": "businessunitid,name", "$filter": "_parentbusinessunitid_value eq null"},
    )
    assert [r["name"] for r in response.json()["value"]] == ["contoso"]


@pytest.mark.parametrize(
    "expression, expected",
    [
        ("domainname eq 'ALICE@contoso.com'", {"alice"}),
        (
            "domainname ne 'alice@contoso.com' and isdisabled eq false and applicationid eq null",
            {"bob", "carol", "dave"},
        ),
        ("contains(domainname,'ar') or startswith(firstname,'Da')", {"carol", "dave"}),
        ("endswith(lastname,'s') and not (firstname eq 'Erin')", {"alice", "carol"}),
        ("isdisabled", {"erin"}),
        ("lastname gt 'D' and lastname le 'Evans'", {"dave", "erin"}),
        ("firstname eq 'O''Brien'", set()),
        ("businessunitid/name eq 'support'", {"carol"}),
    ],
)
def test_filter_language(api: httpx.Client, expression: str, expected: set[str]) -> None:
    response = api.get("systemusers", params={"$select": "domainname", "$filter": expression})
    assert response.status_code == 200, response.text
    found = {r["domainname"].split("@")[0] for r in response.json()["value"] if r["domainname"]}
    assert found == expected


@pytest.mark.parametrize(
    "params, fragment",
    [
        (
            {"$select": "FullName"},
            "Could not find a property named 'FullName' on type 'Microsoft.Dynamics.CRM.systemuser'.",
        ),
        ({"$filter": "nosuch eq 1"}, "Could not find a property named 'nosuch'"),
        ({"$filter": "domainname eq"}, "Syntax error at position"),
        ({"$orderby": "nosuch desc"}, "nosuch"),
        ({"$skip": "1"}, "The query parameter $skip is not supported"),
        ({"$search": "x"}, "The query parameter $search is not supported"),
        ({"$format": "json"}, "The query parameter $format is not supported"),
        ({"$top": "-1"}, "$top"),
        ({"$expand": "nosuch"}, "nosuch"),
    ],
)
def test_bad_query_options_are_400_with_code(
    api: httpx.Client, params: dict[str, str], fragment: str
) -> None:
    response = api.get("systemusers", params=params)
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "0x80060888"
    assert fragment in error["message"]


def test_unknown_entity_set_is_404_segment(api: httpx.Client) -> None:
    response = api.get("Account")
    assert response.status_code == 404
    assert error_of(response) == {
        "code": "0x8006088a",
        "message": "Resource not found for the segment 'Account'.",
    }


def test_orderby_top_and_count(api: httpx.Client) -> None:
    response = api.get(
        "systemusers",
        params={"$select": "lastname", "$orderby": "lastname desc", "$top": "2", "$count": "true"},
        headers={"Prefer": "odata.maxpagesize=1"},
    )
    body = response.json()
    assert [r["lastname"] for r in body["value"]] == ["Jones", "Integration"]
    assert body["@odata.count"] == 7  # with the calling app's application user
    assert "@odata.nextLink" not in body, "$top wins over paging"
    assert "Preference-Applied" not in response.headers


def test_orderby_nulls_first_ascending(api: httpx.Client) -> None:
    response = api.get("systemusers", params={"$select": "domainname", "$orderby": "domainname asc"})
    names = [r["domainname"] for r in response.json()["value"]]
    assert names[:2] == [None, None]  # the application users have no domain name
    assert names[2:] == sorted(names[2:])


def test_paging_with_maxpagesize_and_opaque_skiptoken(api: httpx.Client) -> None:
    prefer = {"Prefer": "odata.maxpagesize=2"}
    response = api.get(
        "systemusers", params={"$select": "domainname", "$filter": "isdisabled eq false"}, headers=prefer
    )
    assert response.headers["Preference-Applied"] == "odata.maxpagesize=2"
    seen: list[str] = []
    pages = 0
    while True:
        body = response.json()
        pages += 1
        assert len(body["value"]) <= 2
        seen += [r["systemuserid"] for r in body["value"]]
        link = body.get("@odata.nextLink")
        if link is None:
            break
        assert "$skiptoken=" in link and "$filter=" in link
        response = api.get(link, headers=prefer)
        assert response.status_code == 200
    assert pages == 3 and len(seen) == len(set(seen)) == 6


def test_paging_with_orderby_is_stable(api: httpx.Client) -> None:
    prefer = {"Prefer": "odata.maxpagesize=4"}
    response = api.get("systemusers", params={"$select": "lastname", "$orderby": "lastname"}, headers=prefer)
    rows = response.json()["value"]
    link = response.json()["@odata.nextLink"]
    rows += api.get(link, headers=prefer).json()["value"]
    names = [r["lastname"] for r in rows]
    assert names == sorted(names, key=lambda v: (v is not None, v or "")) and len(names) == 7


def test_tampered_skiptoken_is_400(api: httpx.Client) -> None:
    response = api.get("systemusers", params={"$skiptoken": "%%%"})
    assert response.status_code == 400
    error_of(response)


def test_single_row_select_and_404(api: httpx.Client, org: DataverseOrg) -> None:
    alice = org.find("systemuser", "domainname", "alice@contoso.com")[0]
    response = api.get(f"systemusers({alice['systemuserid']})", params={"$select": "fullname"})
    assert response.status_code == 200
    body = response.json()
    assert body["@odata.context"].endswith("$metadata#systemusers(fullname)/$entity")
    assert body["fullname"] == "Alice Adams" and body["@odata.etag"] == f'W/"{alice["versionnumber"]}"'
    missing = "00000000-0000-0000-0000-0000000000aa"
    response = api.get(f"systemusers({missing})")
    assert response.status_code == 404
    assert error_of(response) == {
        "code": "0x80040217",
        "message": f"systemuser With Id = {missing} Does Not Exist",
    }


def test_conditional_get_304(api: httpx.Client, org: DataverseOrg) -> None:
    bob = org.find("systemuser", "domainname", "bob@contoso.com")[0]
    etag = f'W/"{bob["versionnumber"]}"'
    response = api.get(f"systemusers({bob['systemuserid']})", headers={"If-None-Match": etag})
    assert response.status_code == 304 and response.content == b""


def test_systemusers_cannot_be_addressed_by_alternate_key(api: httpx.Client) -> None:
    response = api.get("systemusers(domainname='alice@contoso.com')")
    assert response.status_code == 400
    assert "principal" in error_of(response)["message"]


def test_expand_lookup_and_roles(api: httpx.Client) -> None:
    response = api.get(
        "systemusers",
        params={
            "$select": "domainname",
            "$filter": "domainname eq 'alice@contoso.com'",
            "$expand": "businessunitid($select=name),systemuserroles_association($select=name,_businessunitid_value)",
        },
    )
    [alice] = response.json()["value"]
    assert alice["businessunitid"]["name"] == "contoso"
    assert [r["name"] for r in alice["systemuserroles_association"]] == ["System Administrator"]


def test_roles_are_per_business_unit(api: httpx.Client) -> None:
    response = api.get(
        "roles",
        params={"$select": "name,_businessunitid_value", "$filter": "name eq 'LogMeIn Integration User'"},
    )
    rows = response.json()["value"]
    assert len(rows) == 2 and len({r["_businessunitid_value"] for r in rows}) == 2


def test_include_annotations(api: httpx.Client) -> None:
    response = api.get(
        "lmi_logmeinsettingses",
        params={"$select": "lmi_ssoid,_lmi_userid_value", "$filter": "lmi_ssoid eq 'alice'"},
        headers={"Prefer": 'odata.include-annotations="*"'},
    )
    [row] = response.json()["value"]
    assert row["_lmi_userid_value@OData.Community.Display.V1.FormattedValue"] == "Alice Adams"
    assert row["_lmi_userid_value@Microsoft.Dynamics.CRM.lookuplogicalname"] == "systemuser"
    assert row["_lmi_userid_value@Microsoft.Dynamics.CRM.associatednavigationproperty"] == "lmi_UserId"
    assert 'odata.include-annotations="*"' in response.headers["Preference-Applied"]


def test_integration_row_uses_profile_columns_and_option_values(api: httpx.Client) -> None:
    response = api.get("lmi_rescueconfigurations")
    [row] = response.json()["value"]
    assert row["lmi_instance"] == 100000000
    assert row["lmi_companyid"] == "1234567"
    assert row["lmi_requireactivetechconsole"] is True and row["lmi_closeticketonsessionend"] is False


def test_property_value_and_count(api: httpx.Client, org: DataverseOrg) -> None:
    alice = org.find("systemuser", "domainname", "alice@contoso.com")[0]
    response = api.get(f"systemusers({alice['systemuserid']})/fullname")
    assert response.json()["value"] == "Alice Adams"
    assert api.get(f"systemusers({alice['systemuserid']})/fullname/$value").text == "Alice Adams"
    assert api.get("systemusers/$count").text == "7"
    assert api.get("systemusers/$count", params={"$filter": "isdisabled eq true"}).text == "1"


# ---------------------------------------------------------------------------------------- metadata
def test_entity_definitions_resolution_like_the_sdk(api: httpx.Client) -> None:
    response = api.get(
        "EntityDefinitions",
        params={
            "$select": "LogicalName,EntitySetName,PrimaryIdAttribute",
            "$filter": "LogicalName eq 'lmi_logmeinsettings'",
        },
    )
    [row] = response.json()["value"]
    assert row["EntitySetName"] == "lmi_logmeinsettingses"
    assert row["PrimaryIdAttribute"] == "lmi_logmeinsettingsid"
    assert "MetadataId" in row


def test_entity_definition_single_and_keys(api: httpx.Client) -> None:
    response = api.get(
        "EntityDefinitions(LogicalName='lmi_logmeinsession')", params={"$select": "LogicalName,EntitySetName"}
    )
    assert response.json()["EntitySetName"] == "lmi_logmeinsessions"
    keys = api.get("EntityDefinitions(LogicalName='lmi_logmeinsession')/Keys").json()["value"]
    [key] = keys
    assert key["LogicalName"] == "lmi_sessionkey" and key["SchemaName"] == "lmi_SessionKey"
    assert key["KeyAttributes"] == ["lmi_sessionid"]
    assert key["EntityKeyIndexStatus"] == "Active"
    assert api.get("EntityDefinitions(LogicalName='nosuch')").status_code == 404


def test_picklist_metadata_call_of_the_sdk(api: httpx.Client) -> None:
    url = (
        "EntityDefinitions(LogicalName='lmi_rescueconfiguration')/Attributes/"
        "Microsoft.Dynamics.CRM.PicklistAttributeMetadata?$select=LogicalName&$expand=OptionSet($select=Options)"
    )
    rows = api.get(url).json()["value"]
    [instance] = [r for r in rows if r["LogicalName"] == "lmi_instance"]
    labels = {
        o["Value"]: {lab["LanguageCode"]: lab["Label"] for lab in o["Label"]["LocalizedLabels"]}
        for o in instance["OptionSet"]["Options"]
    }
    assert labels == {
        100000000: {1033: "Production", 1040: "Produzione"},
        100000001: {1033: "Beta", 1040: "Beta"},
    }


def test_who_am_i(api: httpx.Client, org: DataverseOrg) -> None:
    body = api.get("WhoAmI").json()
    assert body["OrganizationId"] == org.organization_id
    assert api.post("WhoAmI").status_code == 404


def test_parameter_aliases_survive_paging(api: httpx.Client) -> None:
    prefer = {"Prefer": "odata.maxpagesize=2"}
    params = {"$select": "domainname", "$filter": "isdisabled eq @p1", "@p1": "false"}
    body = api.get("systemusers", params=params, headers=prefer).json()
    rows = body["value"]
    while "@odata.nextLink" in body:
        body = api.get(body["@odata.nextLink"], headers=prefer).json()
        rows += body["value"]
    assert len(rows) == 6


def test_features_the_sandbox_leaves_out_are_400_not_5xx(api: httpx.Client) -> None:
    response = api.get("systemusers", params={"$apply": "groupby((firstname))"})
    assert response.status_code == 400
    assert "sandbox does not emulate" in error_of(response)["message"]
    assert api.get("$metadata").status_code == 400
