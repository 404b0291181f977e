"""Bulk operation messages: ``CreateMultiple``, ``UpdateMultiple`` and ``UpsertMultiple`` bound
to an entity set, with raw HTTP (shapes, status codes, atomic failure, ``@odata.type`` checks,
the target limit, service protection) and with Microsoft's ``powerplatform-dataverse-client``,
whose multi-record ``create`` / ``update`` / ``upsert`` and ``$batch`` use these actions."""

from __future__ import annotations

import gc
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from azure.core.credentials import AccessToken
from dataverse_harness import HOST, ODATA_HEADERS, error_of, install_org
from PowerPlatform.Dataverse.client import DataverseClient
from PowerPlatform.Dataverse.core.errors import HttpError
from PowerPlatform.Dataverse.models.upsert import UpsertItem

from rescue_sandbox.dataverse import DataverseOrg
from rescue_sandbox.dataverse.bulk import MAX_TARGETS
from rescue_sandbox.dataverse.standalone import LocalTokens, StandaloneServer

pytestmark = pytest.mark.integration

SETTINGS, SETTINGS_SET = "lmi_logmeinsettings", "lmi_logmeinsettingses"
SESSION, SESSION_SET = "lmi_logmeinsession", "lmi_logmeinsessions"
SETTINGS_TYPE = f"Microsoft.Dynamics.CRM.{SETTINGS}"
SESSION_TYPE = f"Microsoft.Dynamics.CRM.{SESSION}"
CREATE = f"{SETTINGS_SET}/Microsoft.Dynamics.CRM.CreateMultiple"
UPDATE = f"{SETTINGS_SET}/Microsoft.Dynamics.CRM.UpdateMultiple"
UPSERT = f"{SESSION_SET}/Microsoft.Dynamics.CRM.UpsertMultiple"
SEED: dict[str, Any] = {
    "org_url": f"https://{HOST}",
    "business_units": [{"name": "contoso"}],
    "users": [
        {"domainname": "alice@contoso.com", "firstname": "Alice"},
        {"domainname": "bob@contoso.com", "firstname": "Bob"},
    ],
    "settings": [{"user": "alice@contoso.com", "technician_id": "1001", "sso_id": "alice"}],
}


@pytest.fixture
def org(server: StandaloneServer) -> DataverseOrg:
    return install_org(server, SEED)


@pytest.fixture
def api_headers() -> dict[str, str]:
    return {**ODATA_HEADERS, "If-None-Match": "null"}


def user_id(org: DataverseOrg, domainname: str) -> str:
    return str(org.find("systemuser", "domainname", domainname)[0]["systemuserid"])


def target(**columns: Any) -> dict[str, Any]:
    return {"@odata.type": SETTINGS_TYPE, **columns}


def session(session_id: str, **columns: Any) -> dict[str, Any]:
    """A session target naming its row by alternate key, as Learn's UpsertMultiple example does."""
    return {
        "@odata.type": SESSION_TYPE,
        "@odata.id": f"{SESSION_SET}(lmi_sessionid='{session_id}')",
        **columns,
    }


# ---------------------------------------------------------------------------------------- CreateMultiple
def test_create_multiple_returns_ids_in_order_and_rows_are_readable(
    api: httpx.Client, org: DataverseOrg
) -> None:
    chosen = str(uuid.uuid4())
    bob = user_id(org, "bob@contoso.com")
    targets = [
        target(lmi_logmeinsettingsid=chosen, lmi_ssoid="b1"),
        target(**{"lmi_ssoid": "b2", "lmi_UserId@odata.bind": f"/systemusers({bob})"}),
        {"lmi_technicianid": "3003", "@odata.type": f"#{SETTINGS_TYPE}"},
    ]
    response = api.post(CREATE, json={"Targets": targets})
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"@odata.context", "Ids"}
    assert (
        body["@odata.context"]
        == f"{str(api.base_url).rstrip('/')}/$metadata#Microsoft.Dynamics.CRM.CreateMultipleResponse"
    )
    ids = body["Ids"]
    assert len(ids) == 3 and len(set(ids)) == 3 and ids[0] == chosen
    first, second, third = (api.get(f"{SETTINGS_SET}({i})").json() for i in ids)
    assert first["lmi_ssoid"] == "b1" and first["@odata.etag"].startswith('W/"')
    assert second["lmi_ssoid"] == "b2" and second["_lmi_userid_value"] == bob
    assert third["lmi_technicianid"] == "3003" and third["statecode"] == 0
    assert len(org.rows(SETTINGS)) == 4


def test_create_multiple_with_one_id_twice_is_412_and_atomic(api: httpx.Client, org: DataverseOrg) -> None:
    fresh = str(uuid.uuid4())
    response = api.post(CREATE, json={"Targets": [target(lmi_logmeinsettingsid=fresh)] * 2})
    assert response.status_code == 412
    assert error_of(response) == {"code": "0x80040237", "message": "Cannot insert duplicate key."}
    assert org.get(SETTINGS, fresh) is None


def test_create_multiple_enforces_unique_alternate_keys_across_targets(
    api: httpx.Client, org: DataverseOrg
) -> None:
    targets = [{"@odata.type": SESSION_TYPE, "lmi_sessionid": s} for s in ("S-1", "S-2", "s-1")]
    response = api.post(f"{SESSION_SET}/Microsoft.Dynamics.CRM.CreateMultiple", json={"Targets": targets})
    assert response.status_code == 412 and error_of(response)["code"] == "0x80060892"
    assert org.rows(SESSION) == []


# ---------------------------------------------------------------------------------------- refusals
EXISTING = "<the seeded settings row>"
MISSING_USER = f"/systemusers({uuid.UUID(int=7)})"
REFUSALS: list[tuple[str, Any, int, str, str]] = [
    # Payloads: (action, body, status, code, message fragment).
    (CREATE, {}, 400, "0x80048d19", "requires 'Targets'"),
    (CREATE, {"Targets": {"lmi_ssoid": "x"}}, 400, "0x80048d19", "requires 'Targets'"),
    (CREATE, {"Targets": []}, 400, "0x80040203", "must not be empty"),
    (CREATE, {"Targets": ["x"]}, 400, "0x80048d19", "Targets[0] is not a JSON object"),
    (CREATE, {"Targets": [target()], "Extra": 1}, 400, "0x80048d19", "'Extra' in the request payload"),
    (CREATE, {"Targets": [target()] * (MAX_TARGETS + 1)}, 400, "0x80060997", f"the limit of {MAX_TARGETS}"),
    # One bad target after a good one: (action, bad target, ...). Nothing may be written.
    (CREATE, {"lmi_ssoid": "x"}, 400, "0x80048d19", "Targets[1] has no '@odata.type'"),
    (CREATE, {"@odata.type": SESSION_TYPE}, 400, "0x80040203", "Targets[1] is of type 'lmi_logmeinsession'"),
    (CREATE, {"@odata.type": "Microsoft.Dynamics.CRM.nosuch"}, 400, "0x80048d19", "could not be resolved"),
    (CREATE, {"@odata.type": SETTINGS}, 400, "0x80048d19", "could not be resolved"),
    (CREATE, {"@odata.type": 5}, 400, "0x80048d19", "could not be resolved"),
    (CREATE, target(lmi_nosuch="x"), 400, "0x80048d19", "The property 'lmi_nosuch' does not exist"),
    (CREATE, target(lmi_ssoid="x" * 201), 400, "0x80044331", "maximum allowed length"),
    (CREATE, target(createdon="2024-01-01T00:00:00Z"), 400, "0x80048d19", "read-only"),
    (CREATE, target(**{"lmi_UserId@odata.bind": MISSING_USER}), 404, "0x80040217", "Does Not Exist"),
    (CREATE, target(lmi_logmeinsettingsid=EXISTING), 412, "0x80040237", "Cannot insert duplicate key."),
    (UPDATE, {"lmi_logmeinsettingsid": EXISTING}, 400, "0x80048d19", "Targets[1] has no '@odata.type'"),
    (UPDATE, {"@odata.type": SESSION_TYPE, "lmi_logmeinsettingsid": EXISTING}, 400, "0x80040203", "of type"),
    (UPDATE, target(lmi_ssoid="x"), 400, "0x80040203", "Targets[1] names no record"),
    (UPDATE, target(lmi_logmeinsettingsid="not-a-guid"), 400, "0x80048d19", "Edm.Guid"),
    (UPDATE, target(**{"@odata.id": f"systemusers({uuid.UUID(int=1)})"}), 400, "0x80040203", "'systemusers'"),
    (UPDATE, target(**{"@odata.id": SETTINGS_SET}), 400, "0x80048d19", "does not address a single record"),
    (
        UPDATE,
        target(**{"@odata.id": f"{SETTINGS_SET}({uuid.UUID(int=1)})", "lmi_logmeinsettingsid": EXISTING}),
        400,
        "0x80048d19",
        "does not match its '@odata.id'",
    ),
    (UPDATE, target(lmi_logmeinsettingsid=EXISTING, statecode=7), 400, "0x8004431a", "valid range"),
]


@pytest.mark.parametrize("action, payload, status, code, fragment", REFUSALS)
def test_refused_bulk_requests_write_nothing(
    api: httpx.Client, org: DataverseOrg, action: str, payload: Any, status: int, code: str, fragment: str
) -> None:
    before = org.rows(SETTINGS)
    existing = before[0]["lmi_logmeinsettingsid"]
    if "Targets" not in payload and payload != {}:
        bad = {k: existing if v == EXISTING else v for k, v in payload.items()}
        good = target(lmi_ssoid="good", **({} if action == CREATE else {"lmi_logmeinsettingsid": existing}))
        payload = {"Targets": [good, bad]}
    response = api.post(action, json=payload)
    assert response.status_code == status
    error = error_of(response)
    assert error["code"] == code and fragment in error["message"]
    assert org.rows(SETTINGS) == before


def test_the_target_limit_is_inclusive(api: httpx.Client, org: DataverseOrg) -> None:
    targets = [target(lmi_technicianid=str(n)) for n in range(MAX_TARGETS)]
    response = api.post(CREATE, json={"Targets": targets})
    assert response.status_code == 200
    assert len(response.json()["Ids"]) == MAX_TARGETS
    assert len(org.rows(SETTINGS)) == MAX_TARGETS + 1


def test_bulk_routes_methods_and_tables(api: httpx.Client, org: DataverseOrg) -> None:
    response = api.get(CREATE)
    assert response.status_code == 405 and error_of(response)["code"] == "0x8006088a"
    response = api.post(f"{SETTINGS_SET}/CreateMultiple", json={"Targets": [target()]})
    assert response.status_code == 404
    assert error_of(response)["message"] == "Resource not found for the segment 'CreateMultiple'."
    row_id = org.rows(SETTINGS)[0]["lmi_logmeinsettingsid"]
    response = api.post(f"{SETTINGS_SET}({row_id})/Microsoft.Dynamics.CRM.CreateMultiple", json={})
    assert response.status_code == 404
    for logical in ("systemuserroles", "asyncoperation"):
        entity_set = org.table(logical).entity_set
        item = {"@odata.type": f"Microsoft.Dynamics.CRM.{logical}"}
        response = api.post(f"{entity_set}/Microsoft.Dynamics.CRM.CreateMultiple", json={"Targets": [item]})
        error = error_of(response)
        assert response.status_code == 400 and error["code"] == "0x80040800"
        assert (
            f"The 'CreateMultiple' method does not support entities of type '{logical}'" in error["message"]
        )


def test_a_bulk_action_counts_as_one_request(api: httpx.Client) -> None:
    header = "x-ms-ratelimit-burst-remaining-xrm-requests"
    before = int(api.get("businessunits").headers[header])
    response = api.post(CREATE, json={"Targets": [target(lmi_technicianid=str(n)) for n in range(50)]})
    assert response.status_code == 200
    assert int(response.headers[header]) == before - 1
    assert int(api.get("businessunits").headers[header]) == before - 2


# ---------------------------------------------------------------------------------------- UpdateMultiple
def test_update_multiple_is_204_bumps_versions_and_sets_lookups(api: httpx.Client, org: DataverseOrg) -> None:
    ids = api.post(CREATE, json={"Targets": [target(lmi_ssoid="u1"), target(lmi_ssoid="u2")]}).json()["Ids"]
    etags = [api.get(f"{SETTINGS_SET}({i})").json()["@odata.etag"] for i in ids]
    bob = user_id(org, "bob@contoso.com")
    targets = [
        target(lmi_logmeinsettingsid=ids[0], lmi_ssoid="u1-new"),
        {
            "@odata.type": SETTINGS_TYPE,
            "@odata.id": f"{SETTINGS_SET}({ids[1]})",
            "lmi_UserId@odata.bind": f"systemusers({bob})",
        },
    ]
    response = api.post(UPDATE, json={"Targets": targets})
    assert response.status_code == 204 and response.content == b""
    first, second = (api.get(f"{SETTINGS_SET}({i})").json() for i in ids)
    assert first["lmi_ssoid"] == "u1-new" and second["lmi_ssoid"] == "u2"
    assert second["_lmi_userid_value"] == bob
    assert first["@odata.etag"] != etags[0] and second["@odata.etag"] != etags[1]


def test_update_multiple_by_alternate_key(api: httpx.Client, org: DataverseOrg) -> None:
    org.insert(SESSION, {"lmi_sessionid": "S-1"})
    update = f"{SESSION_SET}/Microsoft.Dynamics.CRM.UpdateMultiple"
    assert api.post(update, json={"Targets": [session("S-1", statecode=1)]}).status_code == 204
    assert org.rows(SESSION)[0]["statecode"] == 1
    response = api.post(update, json={"Targets": [session("S-9", statecode=1)]})
    assert response.status_code == 404 and error_of(response)["code"] == "0x80040217"


def test_update_multiple_with_missing_rows_is_404_and_atomic(api: httpx.Client, org: DataverseOrg) -> None:
    row = org.rows(SETTINGS)[0]
    missing = sorted(str(uuid.uuid4()) for _ in range(2))
    targets = [target(lmi_logmeinsettingsid=row["lmi_logmeinsettingsid"], lmi_ssoid="changed")]
    targets += [target(lmi_logmeinsettingsid=m, lmi_ssoid="x") for m in missing]
    response = api.post(UPDATE, json={"Targets": targets})
    assert response.status_code == 404
    assert error_of(response) == {
        "code": "0x80040217",
        "message": f"{SETTINGS} With Ids = {missing[0]}, {missing[1]} Do Not Exist",
    }
    assert org.rows(SETTINGS) == [row]


# ---------------------------------------------------------------------------------------- UpsertMultiple
def test_upsert_multiple_creates_and_updates_by_alternate_key(api: httpx.Client, org: DataverseOrg) -> None:
    existing = org.insert(SESSION, {"lmi_sessionid": "S-1"})
    # The last target finds S-1 by key, so its body's key value is dropped (Learn, "Use Upsert").
    targets = [session("S-1", statecode=1), session("S-2", statuscode=2), session("S-1", lmi_sessionid="S-X")]
    response = api.post(UPSERT, json={"Targets": targets})
    assert response.status_code == 204 and response.content == b""
    rows = {r["lmi_sessionid"]: r for r in org.rows(SESSION)}
    assert set(rows) == {"S-1", "S-2"}
    assert rows["S-1"]["lmi_logmeinsessionid"] == existing["lmi_logmeinsessionid"]
    assert rows["S-1"]["statecode"] == 1 and rows["S-1"]["versionnumber"] > existing["versionnumber"]
    by_key = api.get(f"{SESSION_SET}(lmi_sessionid='S-2')")
    assert by_key.status_code == 200 and by_key.json()["statuscode"] == 2


def test_upsert_multiple_by_primary_id_and_without_any_key(api: httpx.Client, org: DataverseOrg) -> None:
    row = org.rows(SETTINGS)[0]
    new_id = str(uuid.uuid4())
    targets = [
        target(lmi_logmeinsettingsid=row["lmi_logmeinsettingsid"], lmi_ssoid="upd"),
        {"@odata.type": SETTINGS_TYPE, "@odata.id": f"{SETTINGS_SET}({new_id})", "lmi_ssoid": "new"},
        target(lmi_ssoid="keyless"),
    ]
    response = api.post(f"{SETTINGS_SET}/Microsoft.Dynamics.CRM.UpsertMultiple", json={"Targets": targets})
    assert response.status_code == 204
    assert api.get(f"{SETTINGS_SET}({row['lmi_logmeinsettingsid']})").json()["lmi_ssoid"] == "upd"
    assert api.get(f"{SETTINGS_SET}({new_id})").json()["lmi_ssoid"] == "new"
    assert len(org.find(SETTINGS, "lmi_ssoid", "keyless")) == 1


def test_upsert_multiple_is_atomic(api: httpx.Client, org: DataverseOrg) -> None:
    existing = org.insert(SESSION, {"lmi_sessionid": "S-1"})
    targets = [session("S-1", statecode=1), session("S-2"), session("S-3", statecode=9)]
    response = api.post(UPSERT, json={"Targets": targets})
    assert response.status_code == 400 and error_of(response)["code"] == "0x8004431a"
    assert org.rows(SESSION) == [existing]


def test_upsert_multiple_needs_an_active_key(api: httpx.Client, org: DataverseOrg) -> None:
    org.set_key_status(SESSION, "lmi_sessionkey", "Failed", "boom")
    response = api.post(UPSERT, json={"Targets": [session("S-1")]})
    assert response.status_code == 400 and "not active" in error_of(response)["message"]
    org.set_key_status(SESSION, "lmi_sessionkey", "Active")
    item = {**session("S-1"), "@odata.id": f"{SESSION_SET}(statecode=0)"}
    response = api.post(UPSERT, json={"Targets": [item]})
    assert response.status_code == 400 and "do not match any alternate key" in error_of(response)["message"]
    assert org.rows(SESSION) == []


# ---------------------------------------------------------------------------------------- Microsoft's SDK
class StaticCredential:
    """A TokenCredential handing out tokens the emulator accepts."""

    def __init__(self, tokens: LocalTokens) -> None:
        self.tokens = tokens

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        resource = scopes[0].removesuffix("/.default")
        return AccessToken(self.tokens.mint(resource), int(time.time()) + 3600)


@pytest.fixture
def sdk(
    server: StandaloneServer, tokens: LocalTokens, org: DataverseOrg, monkeypatch: pytest.MonkeyPatch
) -> Iterator[DataverseClient]:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", server.ca_file)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    with DataverseClient(server.dataverse_url(HOST), StaticCredential(tokens)) as client:
        yield client
    gc.collect()  # close the pooled connection an HttpError's traceback keeps alive


def test_sdk_create_update_and_upsert_multiple(sdk: DataverseClient, org: DataverseOrg) -> None:
    ids = sdk.records.create(SETTINGS, [{"lmi_ssoid": "s1"}, {"lmi_ssoid": "s2", "lmi_technicianid": "42"}])
    assert len(ids) == 2
    rows = [sdk.records.retrieve(SETTINGS, i, select=["lmi_ssoid", "lmi_technicianid"]) for i in ids]
    assert [(r["lmi_ssoid"], r["lmi_technicianid"]) for r in rows if r] == [("s1", None), ("s2", "42")]

    sdk.records.update(SETTINGS, ids, {"lmi_technicianid": "7"})
    sdk.records.update(SETTINGS, ids, [{"lmi_ssoid": "p1"}, {"lmi_ssoid": "p2"}])
    updated = [org.get(SETTINGS, i) for i in ids]
    assert [(r["lmi_ssoid"], r["lmi_technicianid"]) for r in updated if r] == [("p1", "7"), ("p2", "7")]

    org.insert(SESSION, {"lmi_sessionid": "S-1"})
    s1, s2 = UpsertItem({"lmi_sessionid": "S-1"}, {"statecode": 1}), UpsertItem({"lmi_sessionid": "S-2"}, {})
    sdk.records.upsert(SESSION, [s1, s2])
    sessions = {r["lmi_sessionid"]: r["statecode"] for r in org.rows(SESSION)}
    assert sessions == {"S-1": 1, "S-2": 0}


def test_sdk_sees_atomic_failure_as_http_error(sdk: DataverseClient, org: DataverseOrg) -> None:
    before = org.rows(SETTINGS)
    with pytest.raises(HttpError) as failed:
        sdk.records.create(SETTINGS, [{"lmi_ssoid": "fine"}, {"lmi_ssoid": "x" * 201}])
    assert failed.value.status_code == 400
    assert failed.value.details.get("service_error_code") == "0x80044331"
    with pytest.raises(HttpError) as missing:
        sdk.records.update(
            SETTINGS, [before[0]["lmi_logmeinsettingsid"], str(uuid.uuid4())], {"lmi_ssoid": "y"}
        )
    assert missing.value.status_code == 404
    assert org.rows(SETTINGS) == before


def test_sdk_batch_carries_create_multiple(sdk: DataverseClient, org: DataverseOrg) -> None:
    batch = sdk.batch.new()
    batch.records.create(SETTINGS, [{"lmi_ssoid": "b1"}, {"lmi_ssoid": "b2"}])
    result = batch.execute()
    [item] = result.responses
    assert item.status_code == 200 and item.data is not None
    ids = item.data["Ids"]
    assert {org.get(SETTINGS, i)["lmi_ssoid"] for i in ids} == {"b1", "b2"}  # type: ignore[index]
