"""DataverseClient against httpx.MockTransport: headers, paging, writes, error mapping, secrecy."""

from __future__ import annotations

import asyncio
import json
from functools import partial
from typing import Any

import httpx
import pytest
from client_harness import (
    ConcurrencyProbe,
    FakeSleep,
    FakeTokens,
    Handler,
    cause_chain,
    mock_options,
    recorder,
    run_client,
)

from reconciler.errors import (
    ApiError,
    AuthError,
    InputError,
    NotFoundError,
    PreconditionFailed,
    ProtocolError,
    RateLimitedError,
)
from reconciler.providers.base import ClientOptions
from reconciler.providers.dynamics.client import DataverseClient
from reconciler.providers.graph import GraphClient
from reconciler.providers.http import ClientSettings, RequestStats
from reconciler.providers.retry import ClientTransportError

ORG = "https://contoso.crm.dynamics.com"
ROOT = ORG + "/api/data/v9.2"
TOKEN = "eyJ-very-secret-access-token"
UID = "3f2a1b4c-5d6e-4f70-8a91-b2c3d4e5f607"
RID = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"


def new_client(options: ClientOptions) -> DataverseClient:
    return DataverseClient(ORG, FakeTokens(TOKEN), **options)


run = partial(run_client, new_client)
"""``run(handler, body, settings=..., stats=..., sleep=...)``: ``body(client)`` against ``handler``."""


def error(status: int, code: str, message: str, **headers: str) -> httpx.Response:
    return httpx.Response(status, json={"error": {"code": code, "message": message}}, headers=headers)


# ---------------------------------------------------------------------------- reads


def test_get_sends_the_documented_headers_and_query() -> None:
    handler, seen = recorder(httpx.Response(200, json={"value": []}))
    run(
        handler,
        lambda c: c.get("solutions", {"$select": "uniquename,version", "$filter": "uniquename eq 'X'"}),
    )
    (req,) = seen
    assert str(req.url) == f"{ROOT}/solutions?$select=uniquename,version&$filter=uniquename%20eq%20'X'"
    assert req.headers["Accept"] == "application/json"
    assert req.headers["OData-MaxVersion"] == "4.0" and req.headers["OData-Version"] == "4.0"
    assert req.headers["Authorization"] == f"Bearer {TOKEN}"
    assert "Content-Type" not in req.headers


def test_http_org_url_is_refused() -> None:
    with pytest.raises(InputError, match="https"):
        DataverseClient("http://contoso.crm.dynamics.com", FakeTokens(TOKEN), **mock_options(tenant="t"))


def test_list_all_follows_every_next_link_unchanged_with_the_same_prefer_header() -> None:
    link2 = f"{ROOT}/systemusers?$select=fullname&$skiptoken=%3Ccookie%20pagenumber=%222%22%20/%3E"
    link3 = f"{ROOT}/systemusers?$select=fullname&$skiptoken=%3Ccookie%20pagenumber=%223%22%20/%3E"
    handler, seen = recorder(
        httpx.Response(200, json={"value": [{"n": 1}, {"n": 2}], "@odata.nextLink": link2}),
        httpx.Response(200, json={"value": [{"n": 3}, {"n": 4}], "@odata.nextLink": link3}),
        httpx.Response(200, json={"value": [{"n": 5}]}),
    )
    stats = RequestStats()
    rows = run(
        handler,
        lambda c: c.list_all("systemusers", select=["fullname"], filter="isdisabled eq false", page_size=2),
        stats=stats,
    )
    assert [r["n"] for r in rows] == [1, 2, 3, 4, 5]
    assert str(seen[0].url) == f"{ROOT}/systemusers?$select=fullname&$filter=isdisabled%20eq%20false"
    assert [str(r.url) for r in seen[1:]] == [link2, link3]
    assert all(r.headers["Prefer"] == "odata.maxpagesize=2" for r in seen)
    assert stats.as_dict()["dataverse"]["endpoints"] == {"GET systemusers": {"requests": 3, "retries": 0}}


def test_list_all_uses_the_settings_page_size_and_expand_orderby() -> None:
    handler, seen = recorder(httpx.Response(200, json={"value": []}))
    run(
        handler,
        lambda c: c.list_all("roles", select=["roleid", "name"], expand="x($select=y)", orderby="name asc"),
        settings=ClientSettings(page_size=250),
    )
    assert seen[0].headers["Prefer"] == "odata.maxpagesize=250"
    assert seen[0].url.query == b"$select=roleid,name&$expand=x($select=y)&$orderby=name%20asc"


def test_a_page_that_keeps_failing_raises_instead_of_returning_a_partial_list() -> None:
    handler, seen = recorder(
        httpx.Response(200, json={"value": [{"n": 1}], "@odata.nextLink": f"{ROOT}/roles?$skiptoken=2"}),
        httpx.Response(503),
    )
    with pytest.raises(ApiError) as info:
        run(handler, lambda c: c.list_all("roles", select=["name"]), settings=ClientSettings(max_retries=2))
    assert info.value.status == 503 and len(seen) == 4


def test_next_link_to_another_host_is_refused_and_gets_no_token() -> None:
    handler, seen = recorder(
        httpx.Response(
            200, json={"value": [], "@odata.nextLink": "https://evil.example/api/data/v9.2/roles?x=1"}
        )
    )
    with pytest.raises(ProtocolError, match="outside this org"):
        run(handler, lambda c: c.list_all("roles", select=["name"]))
    assert len(seen) == 1


def test_repeated_next_link_is_a_protocol_error() -> None:
    link = f"{ROOT}/roles?$skiptoken=2"
    handler, seen = recorder(
        httpx.Response(200, json={"value": [], "@odata.nextLink": link}),
        httpx.Response(200, json={"value": [], "@odata.nextLink": link}),
    )
    with pytest.raises(ProtocolError, match="repeated"):
        run(handler, lambda c: c.list_all("roles", select=["name"]))
    assert len(seen) == 2


@pytest.mark.parametrize(
    "reply",
    [
        httpx.Response(200, text="<html/>"),
        httpx.Response(200, json=[1, 2]),
        httpx.Response(200, json={"x": 1}),
    ],
)
def test_unexpected_page_shapes_are_protocol_errors(reply: httpx.Response) -> None:
    handler, _ = recorder(reply)
    with pytest.raises(ProtocolError):
        run(handler, lambda c: c.list_all("roles", select=["name"]))


def test_429_with_retry_after_waits_then_succeeds() -> None:
    handler, seen = recorder(
        error(429, "0x80072322", "Number of requests exceeded the limit", **{"Retry-After": "12"}),
        httpx.Response(200, json={"value": [{"a": 1}]}),
    )
    sleep = FakeSleep()
    assert run(handler, lambda c: c.list_all("roles", select=["a"]), sleep=sleep) == [{"a": 1}]
    assert sleep.calls == [12.0] and len(seen) == 2


def test_429_storm_ends_in_rate_limited_error() -> None:
    handler, seen = recorder(error(429, "0x80072322", "limit", **{"Retry-After": "1"}))
    with pytest.raises(RateLimitedError):
        run(handler, lambda c: c.get("solutions"), settings=ClientSettings(max_retries=3))
    assert len(seen) == 4


def test_dropped_connection_on_get_is_retried() -> None:
    handler, seen = recorder(httpx.ReadError, httpx.Response(200, json={"ok": True}))
    assert run(handler, lambda c: c.get(f"systemusers({UID})")) == {"ok": True}
    assert len(seen) == 2


# ---------------------------------------------------------------------------- writes


def test_create_returns_the_id_from_odata_entity_id() -> None:
    handler, seen = recorder(
        httpx.Response(204, headers={"OData-EntityId": f"{ROOT}/systemusers({UID.upper()})"}),
    )
    body = {"applicationid": RID, "businessunitid@odata.bind": f"/businessunits({RID})"}
    assert run(handler, lambda c: c.create("systemusers", body)) == UID
    (req,) = seen
    assert req.method == "POST" and str(req.url) == f"{ROOT}/systemusers"
    assert req.headers["Content-Type"] == "application/json"
    assert json.loads(req.content) == body


def test_create_without_entity_id_is_a_protocol_error() -> None:
    handler, _ = recorder(httpx.Response(204))
    with pytest.raises(ProtocolError, match="OData-EntityId"):
        run(handler, lambda c: c.create("systemusers", {"a": 1}))


def test_dropped_connection_on_create_raises_maybe_applied_without_retrying() -> None:
    handler, seen = recorder(
        httpx.ReadError, httpx.Response(204, headers={"OData-EntityId": f"{ROOT}/x({UID})"})
    )
    with pytest.raises(ClientTransportError) as info:
        run(handler, lambda c: c.create("systemusers", {"a": 1}))
    assert info.value.maybe_applied is True and len(seen) == 1


def test_update_sends_if_match_and_412_means_changed_since_read() -> None:
    handler, seen = recorder(
        error(
            412,
            "0x80060882",
            "The version of the existing record doesn't match the RowVersion property provided.",
        )
    )
    with pytest.raises(PreconditionFailed) as info:
        run(handler, lambda c: c.update("systemusers", UID, {"firstname": "A"}, etag='W/"123"'))
    assert seen[0].method == "PATCH" and str(seen[0].url) == f"{ROOT}/systemusers({UID})"
    assert seen[0].headers["If-Match"] == 'W/"123"'
    assert info.value.status == 412 and info.value.code == "0x80060882"
    assert "changed since it was read" in str(info.value)


def test_update_with_etag_is_not_retried_after_a_lost_reply_but_with_star_it_is() -> None:
    handler, seen = recorder(httpx.ReadError, httpx.Response(204))
    with pytest.raises(ClientTransportError) as info:
        run(handler, lambda c: c.update("roles", UID, {"a": 1}, etag='W/"1"'))
    assert info.value.maybe_applied is True and len(seen) == 1
    handler, seen = recorder(httpx.ReadError, httpx.Response(204))
    run(handler, lambda c: c.update("roles", UID, {"a": 1}, etag=None))
    assert [r.headers["If-Match"] for r in seen] == ["*", "*"]


def test_create_only_uses_if_none_match_and_412_means_it_exists() -> None:
    handler, seen = recorder(error(412, "0x80060892", "A record with matching key values already exists."))
    with pytest.raises(PreconditionFailed, match="already exists"):
        run(handler, lambda c: c.create_only("x_settings", UID, {"a": 1}))
    assert seen[0].method == "PATCH" and seen[0].headers["If-None-Match"] == "*"
    assert "If-Match" not in seen[0].headers


def test_delete_and_not_found() -> None:
    handler, seen = recorder(
        error(404, "0x80040217", f"asyncoperation With Id = {UID} Does Not Exist"),
    )
    with pytest.raises(NotFoundError) as info:
        run(handler, lambda c: c.delete("asyncoperations", UID, etag=None))
    assert seen[0].method == "DELETE" and seen[0].headers["If-Match"] == "*"
    assert info.value.code == "0x80040217" and info.value.status == 404


def test_alternate_key_rows_and_bad_names() -> None:
    handler, seen = recorder(httpx.Response(204))
    run(handler, lambda c: c.update("accounts", "accountnumber='ABC'", {"a": 1}, etag=None))
    assert str(seen[0].url) == f"{ROOT}/accounts(accountnumber='ABC')"
    for bad in (
        lambda c: c.update("accounts", "not a key", {}, etag=None),
        lambda c: c.create("x/../y", {}),
        lambda c: c.action("Do It", {}),
        lambda c: c.disassociate("systemusers", UID, "nav", "abc"),
    ):
        with pytest.raises(ValueError):
            run(handler, bad)
    assert len(seen) == 1


def test_associate_and_disassociate_use_ref() -> None:
    handler, seen = recorder(httpx.Response(204))

    async def body(c: DataverseClient) -> None:
        await c.associate("systemusers", UID, "systemuserroles_association", "roles", RID)
        await c.disassociate("systemusers", UID, "systemuserroles_association", RID)

    run(handler, body)
    assert seen[0].method == "POST"
    assert str(seen[0].url) == f"{ROOT}/systemusers({UID})/systemuserroles_association/$ref"
    assert json.loads(seen[0].content) == {"@odata.id": f"{ROOT}/roles({RID})"}
    assert seen[1].method == "DELETE"
    assert str(seen[1].url) == f"{ROOT}/systemusers({UID})/systemuserroles_association({RID})/$ref"


def test_action_returns_body_or_none() -> None:
    handler, seen = recorder(httpx.Response(204), httpx.Response(200, json={"ImportJobKey": "k"}))

    async def body(c: DataverseClient) -> list[Any]:
        first = await c.action("ReactivateEntityKey", {"EntityLogicalName": "t", "EntityKeyLogicalName": "k"})
        second = await c.action("ImportSolution", {"CustomizationFile": "UEsDB..."})
        return [first, second]

    assert run(handler, body) == [None, {"ImportJobKey": "k"}]
    assert str(seen[0].url) == f"{ROOT}/ReactivateEntityKey"


# ---------------------------------------------------------------------------- error mapping


def test_401_says_the_token_was_refused_and_what_to_check() -> None:
    handler, _ = recorder(httpx.Response(401, text=""))
    with pytest.raises(AuthError, match="application user") as info:
        run(handler, lambda c: c.get("WhoAmI"))
    assert "connection.dynamics.client_id" in str(info.value)


def test_403_names_the_privilege_and_table() -> None:
    message = (
        "Principal user (Id=1, type=8, roleCount=1, privilegeCount=1, accessMode=4), is missing "
        "prvReadsolution privilege (Id=2) on OTC=7100 for entity 'solution'."
    )
    handler, _ = recorder(error(403, "0x80040220", message))
    with pytest.raises(ApiError) as info:
        run(handler, lambda c: c.list_all("solutions", select=["uniquename"]))
    text = str(info.value)
    assert info.value.status == 403 and info.value.code == "0x80040220"
    assert "prvReadsolution" in text and "table 'solution'" in text and "GET solutions" in text


def test_error_bodies_map_status_code_and_a_short_message() -> None:
    handler, _ = recorder(error(400, "0x80060888", "Could not find a property named 'x'. " + "y" * 1000))
    with pytest.raises(ApiError) as info:
        run(handler, lambda c: c.get("roles", {"$select": "x"}))
    assert info.value.status == 400 and info.value.code == "0x80060888"
    assert "property named 'x'" in str(info.value) and len(str(info.value)) < 400


def test_non_json_error_body_is_kept_short() -> None:
    handler, _ = recorder(httpx.Response(500, text="<html>" + "x" * 5000 + "</html>"))
    with pytest.raises(ApiError) as info:
        run(handler, lambda c: c.get("roles"))
    assert info.value.status == 500 and info.value.code == "" and len(str(info.value)) < 250


def test_redirect_is_not_followed() -> None:
    handler, seen = recorder(httpx.Response(302, headers={"Location": "https://login.example/"}))
    with pytest.raises(ApiError) as info:
        run(handler, lambda c: c.get("roles"))
    assert info.value.status == 302 and len(seen) == 1


def test_concurrency_is_bounded_per_client() -> None:
    probe = ConcurrencyProbe(lambda: httpx.Response(200, json={}))

    async def body(c: DataverseClient) -> None:
        await asyncio.gather(*(c.get(f"roles({UID})") for _ in range(25)))

    stats = RequestStats()
    run(probe, body, settings=ClientSettings(max_concurrency=4), stats=stats)
    assert probe.peak == 4 and stats.total("dataverse") == 25


def test_outside_async_with_is_a_programming_error() -> None:
    client = DataverseClient(ORG, FakeTokens(TOKEN), **mock_options(tenant="t"))
    with pytest.raises(RuntimeError):
        asyncio.run(client.get("roles"))


def test_token_never_in_errors_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    failures: list[Exception] = []
    cases: list[httpx.Response | type[Exception]] = [
        httpx.Response(401, text=f"bad token {TOKEN}"),
        error(500, "0x1", "boom"),
        httpx.Response(429, headers={"Retry-After": "1"}),
        httpx.ReadError,
        httpx.ConnectError,
    ]
    with caplog.at_level("DEBUG"):
        for step in cases:
            handler, _ = recorder(step)
            try:
                run(handler, lambda c: c.create("roles", {"a": 1}), settings=ClientSettings(max_retries=1))
            except Exception as exc:  # collecting every failure on purpose
                failures.append(exc)
    assert len(failures) == len(cases)
    for failure in failures:
        for raised in cause_chain(failure):
            assert TOKEN not in str(raised) and TOKEN not in repr(raised)
    assert all(TOKEN not in r.getMessage() for r in caplog.records)


# ---------------------------------------------------------------------------- Microsoft Graph (same policy)

APP_ID = "1e2716f5-fee6-4370-a121-baea6d360668"


def run_graph(handler: Handler, app_id: str = APP_ID, stats: RequestStats | None = None) -> Any:
    return run_client(
        lambda options: GraphClient(tokens=FakeTokens(TOKEN), **options),
        handler,
        lambda c: c.find_service_principal(app_id),
        settings=ClientSettings(max_retries=2),
        stats=stats,
    )


def test_graph_finds_the_service_principal_by_app_id() -> None:
    sp = {"id": UID, "appId": APP_ID, "displayName": "LogMeIn Rescue"}
    handler, seen = recorder(
        httpx.Response(429, headers={"Retry-After": "1"}), httpx.Response(200, json={"value": [sp]})
    )
    stats = RequestStats()
    assert run_graph(handler, stats=stats) == sp
    assert str(seen[1].url) == (
        "https://graph.microsoft.com/v1.0/servicePrincipals"
        f"?$filter=appId%20eq%20'{APP_ID}'&$select=id,appId,displayName"
    )
    assert seen[1].headers["Authorization"] == f"Bearer {TOKEN}"
    assert stats.as_dict()["graph"]["endpoints"] == {
        "GET v1.0/servicePrincipals": {"requests": 2, "retries": 1}
    }


def test_graph_no_consent_is_none_and_errors_are_typed() -> None:
    handler, _ = recorder(httpx.Response(200, json={"value": []}))
    assert run_graph(handler) is None
    handler, _ = recorder(httpx.Response(401))
    with pytest.raises(AuthError, match="Microsoft Graph refused"):
        run_graph(handler)
    handler, _ = recorder(
        error(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
    )
    with pytest.raises(ApiError, match=r"Application\.Read\.All") as info:
        run_graph(handler)
    assert info.value.code == "Authorization_RequestDenied"
    handler, _ = recorder(httpx.Response(200, json={"value": [{"id": 1}, {"id": 2}]}))
    with pytest.raises(ProtocolError, match="2 service principals"):
        run_graph(handler)
    handler, seen = recorder(httpx.Response(200, json={"value": []}))
    with pytest.raises(InputError, match="not a GUID"):
        run_graph(handler, app_id="x' or 1 eq 1")
    assert seen == []


def test_a_long_403_message_still_names_the_privilege_and_table() -> None:
    from reconciler.providers.http import api_error, error_payload

    message = (
        "Principal user (Id=7b1c0d6e-1111-2222-3333-444455556666, type=8, roleCount=1, privilegeCount=412, "
        "accessMode=4, AADObjectId=9a9a9a9a-1111-2222-3333-444455556666, MetadataCachePrivilegesCount=4096, "
        "businessUnitId=0f0f0f0f-1111-2222-3333-444455556666), is missing prvReadlmi_logmeinsettings privilege "
        "(Id=5d5d5d5d-1111-2222-3333-444455556666) on OTC=10123 for entity 'lmi_logmeinsettings' "
        "(LocalizedName='LogMeIn Settings'). context.Caller=7b1c0d6e-1111-2222-3333-444455556666. "
        "Consider assigning a role with the required access level to the user or team."
    )
    assert len(message) > 300
    response = httpx.Response(403, json={"error": {"code": "0x80040220", "message": message}})
    code, text = error_payload(response)  # the whole message reaches api_error
    error = api_error(403, code, text, where="GET lmi_logmeinsettingses", service="dataverse", tenant="t")
    assert "lacks privilege prvReadlmi_logmeinsettings on table 'lmi_logmeinsettings'" in error.message
    assert len(error.message) < 600


@pytest.mark.parametrize(
    ("code", "message", "says"),
    [
        (
            "0x80072560",
            "The user is not a member of the organization.",
            "not an application user of this org",
        ),
        ("0x80040225", "The user with SystemUserId=x is disabled.", "application user is disabled"),
    ],
)
def test_a_403_for_an_app_that_is_no_enabled_user_says_so(code: str, message: str, says: str) -> None:
    from reconciler.providers.http import api_error

    error = api_error(403, code, message, where="GET WhoAmI", service="dataverse", tenant="t")
    assert says in error.message and "lacks privilege" not in error.message
