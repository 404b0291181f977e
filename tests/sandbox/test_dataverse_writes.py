"""Raw-HTTP conformance of writes: create, PATCH/DELETE with If-Match / If-None-Match, upsert,
alternate keys, ``@odata.bind`` and ``$ref`` associations (reference/dataverse.md)."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest
from dataverse_harness import HOST, error_of, install_org

from rescue_sandbox.dataverse import DataverseOrg
from rescue_sandbox.dataverse.standalone import StandaloneServer

pytestmark = pytest.mark.integration

APP_ID = "1e2716f5-fee6-4370-a121-baea6d360668"
GUID = re.compile(r"\(([0-9a-f-]{36})\)$")
SEED: dict[str, Any] = {
    "org_url": f"https://{HOST}",
    "business_units": [{"name": "contoso"}],
    "roles": ["LogMeIn Integration User", "System Administrator"],
    "users": [{"domainname": "alice@contoso.com", "firstname": "Alice", "lastname": "Adams"}],
    "settings": [{"user": "alice@contoso.com", "technician_id": "1001", "sso_id": "alice"}],
}
STALE = "The version of the existing record doesn't match the RowVersion property provided."


@pytest.fixture
def org(server: StandaloneServer) -> DataverseOrg:
    return install_org(server, SEED)


def root_bu(org: DataverseOrg) -> str:
    return str(org.rows("businessunit")[0]["businessunitid"])


def role_id(org: DataverseOrg, name: str) -> str:
    return str(org.find("role", "name", name)[0]["roleid"])


def alice(org: DataverseOrg) -> dict[str, Any]:
    return org.find("systemuser", "domainname", "alice@contoso.com")[0]


# ---------------------------------------------------------------------------------------- create
def test_create_application_user_as_in_the_reference(api: httpx.Client, org: DataverseOrg) -> None:
    body = {
        "applicationid": APP_ID,
        "businessunitid@odata.bind": f"/businessunits({root_bu(org)})",
        "firstname": "LogMeIn",
        "lastname": "Integration",
        "internalemailaddress": "logmein-integration@contoso.com",
        "accessmode": 4,
    }
    response = api.post("systemusers", json=body)
    assert response.status_code == 204 and response.content == b""
    entity_id = response.headers["OData-EntityId"]
    assert entity_id.startswith(str(api.base_url).rstrip("/") + "/systemusers(")
    match = GUID.search(entity_id)
    assert match is not None
    row = org.get("systemuser", match.group(1))
    assert row is not None
    assert row["fullname"] == "LogMeIn Integration"
    assert row["_businessunitid_value"] == root_bu(org)
    assert row["accessmode"] == 4


def test_create_with_return_representation_is_201(api: httpx.Client, org: DataverseOrg) -> None:
    body = {
        "firstname": "Zed",
        "lastname": "Zulu",
        "businessunitid@odata.bind": f"businessunits({root_bu(org)})",
    }
    response = api.post(
        "systemusers", params={"$select": "fullname"}, json=body, headers={"Prefer": "return=representation"}
    )
    assert response.status_code == 201
    payload = response.json()
    assert payload["fullname"] == "Zed Zulu" and payload["@odata.etag"].startswith('W/"')
    assert payload["@odata.context"].endswith("$metadata#systemusers(fullname)/$entity")


def test_fullname_is_computed_and_refused_on_write(api: httpx.Client, org: DataverseOrg) -> None:
    body = {"fullname": "Someone", "businessunitid@odata.bind": f"/businessunits({root_bu(org)})"}
    response = api.post("systemusers", json=body)
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "0x80048d19" and "fullname" in error["message"]


@pytest.mark.parametrize(
    "body, status, fragment",
    [
        (
            {"nosuch": 1},
            400,
            "The property 'nosuch' does not exist on type 'Microsoft.Dynamics.CRM.systemuser'",
        ),
        (
            {"nosuch@odata.bind": "/businessunits(00000000-0000-0000-0000-000000000001)"},
            400,
            "undeclared property",
        ),
        ({"_businessunitid_value": "00000000-0000-0000-0000-000000000001"}, 400, "businessunitid@odata.bind"),
        ({"accessmode": 9}, 400, "outside the valid range"),
        ({"isdisabled": "yes"}, 400, "Edm.Boolean"),
        ({"firstname": "x" * 300}, 400, "maximum allowed length"),
        ({}, 400, "businessunitid"),
    ],
)
def test_create_validation(
    api: httpx.Client, org: DataverseOrg, body: dict[str, Any], status: int, fragment: str
) -> None:
    if body and "businessunitid" not in str(body) and "nosuch@" not in str(body):
        body = {**body, "businessunitid@odata.bind": f"/businessunits({root_bu(org)})"}
    response = api.post("systemusers", json=body)
    assert response.status_code == status
    assert fragment in error_of(response)["message"]


def test_bind_to_missing_record_is_404(api: httpx.Client) -> None:
    missing = "00000000-0000-0000-0000-0000000000bb"
    response = api.post("systemusers", json={"businessunitid@odata.bind": f"/businessunits({missing})"})
    assert response.status_code == 404
    assert error_of(response)["message"] == f"businessunit With Id = {missing} Does Not Exist"


def test_bind_with_absolute_url_and_settings_lookup(api: httpx.Client, org: DataverseOrg) -> None:
    user = alice(org)["systemuserid"]
    absolute = f"{str(api.base_url).rstrip('/')}/systemusers({user})"
    response = api.post("lmi_logmeinsettingses", json={"lmi_UserId@odata.bind": absolute, "lmi_ssoid": "a2"})
    assert response.status_code == 204
    rows = org.find("lmi_logmeinsettings", "lmi_ssoid", "a2")
    assert rows[0]["_lmi_userid_value"] == user


def test_bad_json_body_is_payload_error(api: httpx.Client) -> None:
    response = api.post("systemusers", content=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and error_of(response)["code"] == "0x80048d19"


def test_intersect_and_system_job_tables_refuse_create(api: httpx.Client) -> None:
    assert api.post("systemuserrolescollection", json={}).status_code == 400
    assert api.post("asyncoperations", json={"name": "x"}).status_code == 400


# ---------------------------------------------------------------------------------------- PATCH
def test_if_match_star_is_update_only(api: httpx.Client) -> None:
    missing = str(uuid.uuid4())
    response = api.patch(
        f"lmi_logmeinsettingses({missing})", json={"lmi_ssoid": "x"}, headers={"If-Match": "*"}
    )
    assert response.status_code == 404
    assert error_of(response)["code"] == "0x80040217"


def test_patch_without_if_match_upserts_with_the_given_id(api: httpx.Client, org: DataverseOrg) -> None:
    new_id = str(uuid.uuid4())
    response = api.patch(f"lmi_logmeinsettingses({new_id})", json={"lmi_ssoid": "upserted"})
    assert response.status_code == 204
    assert response.headers["OData-EntityId"].endswith(f"lmi_logmeinsettingses({new_id})")
    row = org.get("lmi_logmeinsettings", new_id)
    assert row is not None and row["lmi_ssoid"] == "upserted"
    response = api.patch(f"lmi_logmeinsettingses({new_id})", json={"lmi_ssoid": "again"})
    assert response.status_code == 204
    assert org.get("lmi_logmeinsettings", new_id)["lmi_ssoid"] == "again"  # type: ignore[index]


def test_if_none_match_star_is_create_only(api: httpx.Client, org: DataverseOrg) -> None:
    settings = org.rows("lmi_logmeinsettings")[0]
    response = api.patch(
        f"lmi_logmeinsettingses({settings['lmi_logmeinsettingsid']})",
        json={"lmi_ssoid": "x"},
        headers={"If-None-Match": "*"},
    )
    assert response.status_code == 412
    new_id = str(uuid.uuid4())
    response = api.patch(
        f"lmi_logmeinsettingses({new_id})", json={"lmi_ssoid": "x"}, headers={"If-None-Match": "*"}
    )
    assert response.status_code == 204


def test_etag_concurrency_on_update_and_delete(api: httpx.Client, org: DataverseOrg) -> None:
    settings = org.rows("lmi_logmeinsettings")[0]
    url = f"lmi_logmeinsettingses({settings['lmi_logmeinsettingsid']})"
    etag = api.get(url).json()["@odata.etag"]
    response = api.patch(url, json={"lmi_ssoid": "first"}, headers={"If-Match": etag})
    assert response.status_code == 204
    new_etag = api.get(url).json()["@odata.etag"]
    assert new_etag != etag
    response = api.patch(url, json={"lmi_ssoid": "second"}, headers={"If-Match": etag})
    assert response.status_code == 412
    assert error_of(response) == {"code": "0x80060882", "message": STALE}
    response = api.delete(url, headers={"If-Match": etag})
    assert response.status_code == 412 and error_of(response)["message"] == STALE
    assert api.delete(url, headers={"If-Match": new_etag}).status_code == 204
    assert api.get(url).status_code == 404
    assert api.delete(url).status_code == 404


def test_patch_with_return_representation_is_200(api: httpx.Client, org: DataverseOrg) -> None:
    settings = org.rows("lmi_logmeinsettings")[0]
    response = api.patch(
        f"lmi_logmeinsettingses({settings['lmi_logmeinsettingsid']})",
        json={"lmi_technicianid": "2002"},
        headers={"If-Match": "*", "Prefer": "return=representation"},
    )
    assert response.status_code == 200 and response.json()["lmi_technicianid"] == "2002"


def test_systemusers_cannot_be_deleted(api: httpx.Client, org: DataverseOrg) -> None:
    response = api.delete(f"systemusers({alice(org)['systemuserid']})")
    assert response.status_code == 400
    assert "does not support entities of type 'systemuser'" in error_of(response)["message"]


def test_put_and_delete_single_property(api: httpx.Client, org: DataverseOrg) -> None:
    settings = org.rows("lmi_logmeinsettings")[0]
    url = f"lmi_logmeinsettingses({settings['lmi_logmeinsettingsid']})/lmi_ssoid"
    assert api.put(url, json={"value": "put"}).status_code == 204
    assert api.get(url).json()["value"] == "put"
    assert api.delete(url).status_code == 204
    assert api.get(url).status_code == 204


# ---------------------------------------------------------------------------------------- alternate keys
def test_alternate_key_upsert_read_and_uniqueness(api: httpx.Client, org: DataverseOrg) -> None:
    url = "lmi_logmeinsessions(lmi_sessionid='S-1')"
    assert api.get(url).status_code == 404
    assert api.patch(url, json={}).status_code == 204
    [row] = org.rows("lmi_logmeinsession")
    assert row["lmi_sessionid"] == "S-1"
    assert api.patch(url, json={"statecode": 1, "statuscode": 2}).status_code == 204
    assert len(org.rows("lmi_logmeinsession")) == 1
    assert api.get(url).json()["statecode"] == 1
    response = api.post("lmi_logmeinsessions", json={"lmi_sessionid": "s-1"})
    assert response.status_code == 412
    assert error_of(response)["code"] == "0x80060892"


def test_alternate_key_unusable_while_index_not_active(api: httpx.Client, org: DataverseOrg) -> None:
    org.set_key_status("lmi_logmeinsession", "lmi_sessionkey", "Failed", "boom")
    response = api.get("lmi_logmeinsessions(lmi_sessionid='S-1')")
    assert response.status_code == 400 and "not active" in error_of(response)["message"]
    assert api.post("lmi_logmeinsessions", json={"lmi_sessionid": "dup"}).status_code == 204
    assert api.post("lmi_logmeinsessions", json={"lmi_sessionid": "dup"}).status_code == 204


def test_unknown_alternate_key_columns(api: httpx.Client) -> None:
    response = api.get("lmi_logmeinsessions(statecode=0)")
    assert response.status_code == 400
    assert "do not match any alternate key" in error_of(response)["message"]


# ---------------------------------------------------------------------------------------- $ref
def test_associate_list_and_disassociate_roles(api: httpx.Client, org: DataverseOrg) -> None:
    user = alice(org)["systemuserid"]
    role = role_id(org, "LogMeIn Integration User")
    ref = {"@odata.id": f"{str(api.base_url).rstrip('/')}/roles({role})"}
    response = api.post(f"systemusers({user})/systemuserroles_association/$ref", json=ref)
    assert response.status_code == 204 and response.content == b""
    again = api.post(f"systemusers({user})/systemuserroles_association/$ref", json=ref)
    assert again.status_code == 412
    assert error_of(again) == {"code": "0x80040237", "message": "Cannot insert duplicate key."}
    listing = api.get(
        f"systemusers({user})/systemuserroles_association",
        params={"$select": "roleid,name,_businessunitid_value"},
    )
    assert listing.status_code == 200
    assert [(r["roleid"], r["name"]) for r in listing.json()["value"]] == [(role, "LogMeIn Integration User")]
    refs = api.get(f"systemusers({user})/systemuserroles_association/$ref").json()["value"]
    assert refs == [{"@odata.id": ref["@odata.id"]}]
    response = api.delete(f"systemusers({user})/systemuserroles_association({role})/$ref")
    assert response.status_code == 204
    assert api.get(f"systemusers({user})/systemuserroles_association").json()["value"] == []


def test_associate_to_missing_role_is_404(api: httpx.Client, org: DataverseOrg) -> None:
    user = alice(org)["systemuserid"]
    missing = "00000000-0000-0000-0000-0000000000cc"
    response = api.post(
        f"systemusers({user})/systemuserroles_association/$ref", json={"@odata.id": f"roles({missing})"}
    )
    assert response.status_code == 404


def test_intersect_entity_is_queryable(api: httpx.Client, org: DataverseOrg) -> None:
    user = alice(org)["systemuserid"]
    org.associate("systemuserroles_association", user, role_id(org, "System Administrator"))
    response = api.get("systemuserrolescollection", params={"$filter": f"systemuserid eq {user}"})
    assert [r["roleid"] for r in response.json()["value"]] == [role_id(org, "System Administrator")]


def test_single_valued_ref_put_and_delete(api: httpx.Client, org: DataverseOrg) -> None:
    settings = org.rows("lmi_logmeinsettings")[0]
    url = f"lmi_logmeinsettingses({settings['lmi_logmeinsettingsid']})/lmi_UserId/$ref"
    assert api.get(url).json()["@odata.id"].endswith(f"systemusers({alice(org)['systemuserid']})")
    assert api.delete(url).status_code == 204
    assert api.get(url).status_code == 204
    ref = {"@odata.id": f"systemusers({alice(org)['systemuserid']})"}
    assert api.put(url, json=ref).status_code == 204
    assert org.rows("lmi_logmeinsettings")[0]["_lmi_userid_value"] == alice(org)["systemuserid"]
