"""Fault injection and the request log: the spec, seeded determinism, and what clients see."""

from __future__ import annotations

import base64
import json
import random
import re
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from reconciler.errors import InputError
from rescue_sandbox import SandboxHandle, running_sandbox
from rescue_sandbox.faults import FaultInjector, parse_spec
from rescue_sandbox.forbidden import caller_id
from rescue_sandbox.requestlog import split_path, template_of

pytestmark = pytest.mark.integration

GUID = "5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d"


# -- the spec (pure) ----------------------------------------------------------------------------


def test_parse_spec() -> None:
    rules, seed = parse_spec(
        "rescue:429=0.25,retry_after=2; dataverse:503=1,count=3,path=*$batch*,method=post;seed=7"
    )
    assert seed == 7
    assert (rules[0].service, rules[0].p429, rules[0].retry_after) == ("rescue", 0.25, 2.0)
    assert (rules[1].p503, rules[1].count, rules[1].path, rules[1].method) == (1.0, 3, "*$batch*", "POST")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("mail:429=1", "unknown service"),
        ("rescue:429=2", "in \\[0, 1\\]"),
        ("rescue:429=0.6,500=0.6", "more than 1"),
        ("dataverse:403=0.6,reply_lost=0.6", "more than 1"),
        ("dataverse:reply_lost=1.5", "in \\[0, 1\\]"),
        ("rescue:teapot=1", "unknown key"),
        ("rescue", "SERVICE:key=value"),
        ("rescue:429", "not key=value"),
        ("seed=x", "integer"),
        ("rescue:latency=-1", ">= 0"),
        ("rescue:500=1,count=1.5", "whole number"),
    ],
)
def test_parse_spec_errors(spec: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_spec(spec)


def test_decisions_are_deterministic_for_a_seed() -> None:
    def run(seed: int) -> list[str | None]:
        injector = FaultInjector()
        injector.configure(*parse_spec(f"all:429=0.3,500=0.2;seed={seed}"))
        return [injector.decide("rescue", "GET", "getUser_v3.aspx").kind for _ in range(200)]

    first = run(11)
    assert first == run(11)
    assert first != run(12)
    assert 30 < first.count("429") < 90 and 15 < first.count("500") < 70


def test_count_limits_and_path_filters() -> None:
    injector = FaultInjector()
    injector.configure_json(
        {"rules": [{"service": "dataverse", "500": 1, "count": 2, "path": "/systemusers*"}]}
    )
    kinds = [injector.decide("dataverse", "GET", "/systemusers").kind for _ in range(4)]
    assert kinds == ["500", "500", None, None]
    assert injector.decide("dataverse", "GET", "/roles").kind is None
    assert injector.describe()["rules"][0]["fired"] == 2


def test_parse_spec_403_and_reply_lost() -> None:
    rules, seed = parse_spec(
        "dataverse:403=0.25,path=/systemusers*;rescue:reply_lost=1,method=post,count=1;seed=3"
    )
    assert seed == 3
    assert (rules[0].p403, rules[0].path) == (0.25, "/systemusers*")
    assert (rules[1].reply_lost, rules[1].method, rules[1].count) == (1.0, "POST", 1)
    described = rules[1].to_json()
    assert described["reply_lost"] == 1.0 and described["403"] == 0.0 and "p403" not in described


def test_new_kinds_are_seeded_and_obey_filters() -> None:
    def run(seed: int) -> list[str | None]:
        injector = FaultInjector()
        injector.configure(*parse_spec(f"all:403=0.3,reply_lost=0.3;seed={seed}"))
        return [injector.decide("dataverse", "POST", "/$batch").kind for _ in range(200)]

    first = run(5)
    assert first == run(5) and first != run(6)
    assert 30 < first.count("403") < 90 and 30 < first.count("reply_lost") < 90

    injector = FaultInjector()
    injector.configure(*parse_spec("dataverse:reply_lost=1,method=POST,path=/$batch,count=1"))
    assert injector.decide("dataverse", "GET", "/$batch").kind is None  # method filter
    assert injector.decide("dataverse", "POST", "/systemusers").kind is None  # path filter
    assert injector.decide("rescue", "POST", "/$batch").kind is None  # service filter
    assert injector.decide("dataverse", "POST", "/$batch").kind == "reply_lost"
    assert injector.decide("dataverse", "POST", "/$batch").kind is None  # count=1 is used up


def test_old_seeds_meet_the_same_faults() -> None:
    """The new kinds are drawn after the old ones: a rule without them decides as before."""
    injector = FaultInjector()
    injector.configure(*parse_spec("all:drop=0.1,429=0.2,500=0.1,503=0.1;seed=42"))
    kinds = [injector.decide("rescue", "GET", "x").kind for _ in range(40)]
    assert kinds == random_kinds(42, 40)
    assert {"drop", "429", None} <= set(kinds)


def random_kinds(seed: int, n: int) -> list[str | None]:
    """What the pre-403 injector decided: one draw per request against drop, 429, 500, 503."""
    rng, out = random.Random(seed), []
    for _ in range(n):
        draw, edge, kind = rng.random(), 0.0, None
        for name, p in (("drop", 0.1), ("429", 0.2), ("500", 0.1), ("503", 0.1)):
            edge += p
            if draw < edge:
                kind = name
                break
        out.append(kind)
    return out


def test_caller_id_is_the_token_oid() -> None:
    claims = base64.urlsafe_b64encode(json.dumps({"oid": GUID}).encode()).decode().rstrip("=")
    assert caller_id(f"Bearer e30.{claims}.sig", "x") == GUID
    fallback = caller_id("Bearer not-a-jwt", "dataverse|contoso")
    assert uuid.UUID(fallback) and fallback == caller_id(None, "dataverse|contoso")


def test_templates() -> None:
    service, segment, rest = split_path(
        f"/dataverse/org.crm.dynamics.com/api/data/v9.2/systemusers({GUID})/x/$ref"
    )
    assert (service, segment) == ("dataverse", "org.crm.dynamics.com")
    assert template_of(service, rest) == "/systemusers({id})/x/$ref"
    _, _, rest = split_path("/dataverse/o/api/data/v9.2/EntityDefinitions(LogicalName='lmi_x')/Keys")
    assert template_of("dataverse", rest) == "/EntityDefinitions({key})/Keys"
    assert template_of("rescue", split_path("/rescue/123/API/getUser_v3.aspx")[2]) == "getUser_v3.aspx"
    assert split_path("/graph/v1.0/servicePrincipals") == ("graph", "", "/v1.0/servicePrincipals")
    assert split_path("/_sandbox/faults")[0] == ""


# -- against a running sandbox -------------------------------------------------------------------


@pytest.fixture(scope="module")
def faulty() -> Iterator[SandboxHandle]:
    with running_sandbox(faults="rescue:429=1,retry_after=3,path=getHierarchy_v2.aspx;seed=1") as handle:
        yield handle


@pytest.fixture()
def http(faulty: SandboxHandle, new_client: Callable[..., httpx.Client]) -> Iterator[httpx.Client]:
    with new_client(faulty) as c:
        yield c
        c.delete("/_sandbox/faults")


def rescue(faulty: SandboxHandle, tenant: str = "contoso") -> tuple[str, str]:
    info = faulty.info["tenants"][tenant]
    return info["rescue_url"], info["rescue_authcode"]


def test_faults_from_the_command_line_spec(http: httpx.Client, faulty: SandboxHandle) -> None:
    url, code = rescue(faulty)
    reply = http.get(f"{url}/getHierarchy_v2.aspx", params={"authcode": code})
    assert reply.status_code == 429 and reply.headers["Retry-After"] == "3"
    assert http.get(f"{url}/getUser_v3.aspx", params={"authcode": code, "node": "41001"}).status_code == 200


def test_dataverse_429_in_dataverse_shape(http: httpx.Client, faulty: SandboxHandle) -> None:
    assert http.post("/_sandbox/faults", json={"spec": "dataverse:429=1,retry_after=7"}).status_code == 200
    reply = http.get(f"{faulty.info['tenants']['contoso']['dataverse_url']}/api/data/v9.2/systemusers")
    assert reply.status_code == 429 and reply.headers["Retry-After"] == "7"
    assert reply.json()["error"]["code"] == "0x80072322"


def test_identity_503_and_graph_500(http: httpx.Client, faulty: SandboxHandle) -> None:
    http.post(
        "/_sandbox/faults",
        json={"rules": [{"service": "identity", "503": 1, "retry_after": 2}, {"service": "graph", "500": 1}]},
    )
    info = faulty.info["tenants"]["contoso"]
    token = http.post(f"{info['authority']}/oauth2/v2.0/token", data={"grant_type": "client_credentials"})
    assert token.status_code == 503 and token.json()["error"] == "temporarily_unavailable"
    assert token.headers["Retry-After"] == "2"
    assert http.get(f"{info['graph_url']}/v1.0/servicePrincipals").status_code == 500


def test_dropped_connection_is_a_transport_error(http: httpx.Client, faulty: SandboxHandle) -> None:
    http.post("/_sandbox/faults", json={"spec": "rescue:drop=1,count=1"})
    url, code = rescue(faulty)
    with pytest.raises(httpx.TransportError):
        http.get(f"{url}/getUser_v3.aspx", params={"authcode": code, "node": "41001"})
    # Only the next request was dropped; the server itself is fine.
    assert http.get(f"{url}/getUser_v3.aspx", params={"authcode": code, "node": "41001"}).status_code == 200


def test_fail_the_next_n_requests_then_recover(http: httpx.Client, faulty: SandboxHandle) -> None:
    http.post("/_sandbox/faults", json={"spec": "rescue:503=1,count=2,path=getUser_v3.aspx"})
    url, code = rescue(faulty)
    statuses = [
        http.get(f"{url}/getUser_v3.aspx", params={"authcode": code, "node": "41001"}).status_code
        for _ in range(3)
    ]
    assert statuses == [503, 503, 200]
    described = http.get("/_sandbox/faults").json()
    assert described["rules"][0]["fired"] == 2


def test_latency(http: httpx.Client, faulty: SandboxHandle) -> None:
    http.post("/_sandbox/faults", json={"spec": "rescue:latency=0.3"})
    url, code = rescue(faulty)
    started = time.monotonic()
    assert http.get(f"{url}/getUser_v3.aspx", params={"authcode": code, "node": "41001"}).status_code == 200
    assert time.monotonic() - started >= 0.3


def test_bad_fault_spec_is_a_400(http: httpx.Client) -> None:
    reply = http.post("/_sandbox/faults", json={"spec": "rescue:429=7"})
    assert reply.status_code == 400 and "429" in reply.json()["error"]
    assert http.post("/_sandbox/faults", content=b"not json").status_code == 400


def test_request_log_counts_per_template(
    http: httpx.Client, faulty: SandboxHandle, get_token: Callable[[SandboxHandle, str, str], str]
) -> None:
    http.post("/_sandbox/faults", json={"spec": "rescue:drop=1,count=1,path=createGroup.aspx"})
    token = get_token(faulty, "contoso", faulty.info["tenants"]["contoso"]["dataverse_url"])
    assert http.delete("/_sandbox/requests").status_code == 200
    url, code = rescue(faulty)
    for node in ("41001", "41002", "41003"):
        http.get(f"{url}/getUser_v3.aspx", params={"authcode": code, "node": node})
    with pytest.raises(httpx.TransportError):
        http.get(f"{url}/createGroup.aspx", params={"authcode": code, "parent": "41100"})
    api = f"{faulty.info['tenants']['contoso']['dataverse_url']}/api/data/v9.2"
    auth = {"Authorization": f"Bearer {token}"}
    first = http.get(f"{api}/systemusers({GUID})", headers=auth)
    http.get(f"{api}/systemusers(6a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d)", headers=auth)
    fab_url, fab_code = rescue(faulty, "fabrikam")
    http.get(f"{fab_url}/getUser_v3.aspx", params={"authcode": fab_code, "node": "30213"})

    summary = http.get("/_sandbox/requests", params={"tenant": "contoso"}).json()
    counts = {(c["service"], c["method"], c["template"]): c for c in summary["counts"]}
    assert counts[("rescue", "GET", "getUser_v3.aspx")]["count"] == 3
    assert counts[("rescue", "GET", "getUser_v3.aspx")]["statuses"] == {"200": 3}
    assert counts[("rescue", "GET", "createGroup.aspx")]["statuses"] == {"0": 1}  # dropped
    users = counts[("dataverse", "GET", "/systemusers({id})")]
    assert users["count"] == 2 and users["statuses"] == {str(first.status_code): 2}
    assert summary["total"] == 6 and len(summary["entries"]) == 6
    assert all(e["tenant"] == "contoso" for e in summary["entries"])
    everything = http.get("/_sandbox/requests").json()
    assert everything["total"] == 7  # fabrikam's call; the controls themselves are not logged
    only_rescue = http.get("/_sandbox/requests", params={"service": "rescue"}).json()
    assert only_rescue["total"] == 5
    http.delete("/_sandbox/requests")
    assert http.get("/_sandbox/requests").json()["total"] == 0


# -- 403: refused in the service's shape, nothing processed ------------------------------------

SETTINGS_SET, SETTINGS_TABLE = "lmi_logmeinsettingses", "lmi_logmeinsettings"
PRIVILEGE = re.compile(
    r"^Principal user \(Id=(?P<caller>[0-9a-f-]{36}), type=8, roleCount=1, privilegeCount=\d+, "
    r"accessMode=4\), is missing (?P<privilege>prv\w+) privilege \(Id=[0-9a-f-]{36}\)"
    r"(?: on OTC=(?P<otc>\d+) for entity '(?P<entity>\w+)')?\. context\.Caller=(?P=caller)\.$"
)


def _api(handle: SandboxHandle) -> str:
    return f"{handle.info['tenants']['contoso']['dataverse_url']}/api/data/v9.2"


def _auth(handle: SandboxHandle, get_token: Callable[[SandboxHandle, str, str], str]) -> dict[str, str]:
    token = get_token(handle, "contoso", handle.info["tenants"]["contoso"]["dataverse_url"])
    return {"Authorization": f"Bearer {token}", "Accept": "application/json", "OData-Version": "4.0"}


def _oid(headers: dict[str, str]) -> str:
    payload = headers["Authorization"].split(".")[1]
    return str(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["oid"])


def _state(http: httpx.Client) -> dict[str, Any]:
    state = http.get("/_sandbox/tenants/contoso/state").json()
    assert isinstance(state, dict)
    return state


def _user_id(http: httpx.Client, upn: str) -> str:
    users = _state(http)["dataverse"]["tables"]["systemuser"]
    return str(next(u["systemuserid"] for u in users if u["domainname"] == upn))


def _settings_rows(http: httpx.Client) -> list[dict[str, Any]]:
    return list(_state(http)["dataverse"]["tables"][SETTINGS_TABLE])


@pytest.mark.parametrize(
    ("method", "path", "privilege", "entity", "otc"),
    [
        ("GET", f"/{SETTINGS_SET}", f"prvRead{SETTINGS_TABLE}", SETTINGS_TABLE, None),
        ("POST", f"/{SETTINGS_SET}", f"prvCreate{SETTINGS_TABLE}", SETTINGS_TABLE, None),
        ("PATCH", f"/{SETTINGS_SET}({GUID})", f"prvWrite{SETTINGS_TABLE}", SETTINGS_TABLE, None),
        ("DELETE", f"/systemusers({GUID})", "prvDeleteUser", "systemuser", "8"),
        (
            "POST",
            f"/systemusers({GUID})/systemuserroles_association/$ref",
            "prvAppendUser",
            "systemuser",
            "8",
        ),
        ("GET", "/roles", "prvReadRole", "role", "1036"),
        ("POST", "/ImportSolution", "prvImportCustomization", None, None),
    ],
)
def test_dataverse_403_names_the_privilege_and_the_table(
    http: httpx.Client,
    faulty: SandboxHandle,
    get_token: Callable[[SandboxHandle, str, str], str],
    method: str,
    path: str,
    privilege: str,
    entity: str | None,
    otc: str | None,
) -> None:
    headers = _auth(faulty, get_token)
    rows = len(_settings_rows(http))
    http.post("/_sandbox/faults", json={"spec": "dataverse:403=1"})
    body = {"lmi_technicianid": "1"} if method in ("POST", "PATCH") else None
    reply = http.request(method, f"{_api(faulty)}{path}", headers=headers, json=body)
    assert reply.status_code == 403
    assert (
        reply.headers["content-type"].startswith("application/json")
        and reply.headers["odata-version"] == "4.0"
    )
    error = reply.json()["error"]
    assert error["code"] == "0x80040220"
    match = PRIVILEGE.match(error["message"])
    assert match is not None, error["message"]
    assert (match["privilege"], match["entity"]) == (privilege, entity)
    assert match["caller"] == _oid(headers)
    if otc is not None:
        assert match["otc"] == otc
    elif entity is not None:
        assert int(match["otc"]) >= 10000  # a custom table
    assert len(_settings_rows(http)) == rows  # nothing was processed
    log = http.get("/_sandbox/requests", params={"service": "dataverse"}).json()
    assert log["entries"][-1]["status"] == 403


def _batch(api: str, items: list[str]) -> tuple[str, str]:
    """A $batch body: each item is a change set of one operation (Content-ID = its index)."""
    parts = []
    for number, request in enumerate(items, start=1):
        parts.append(
            f"--batch_x\r\nContent-Type: multipart/mixed; boundary=changeset_{number}\r\n\r\n"
            f"--changeset_{number}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
            f"Content-ID: {number}\r\n\r\n{request}\r\n--changeset_{number}--\r\n"
        )
    return "".join(parts) + "--batch_x--\r\n", "multipart/mixed; boundary=batch_x"


def test_dataverse_403_on_a_batch_is_a_batch_response_of_refused_parts(
    http: httpx.Client, faulty: SandboxHandle, get_token: Callable[[SandboxHandle, str, str], str]
) -> None:
    api, headers = _api(faulty), _auth(faulty, get_token)
    dave = _user_id(http, "dave@contoso.com")
    create = f"POST {api}/{SETTINGS_SET} HTTP/1.1\r\nContent-Type: application/json\r\n\r\n" + json.dumps(
        {"lmi_UserId@odata.bind": f"/systemusers({dave})", "lmi_technicianid": "41004"}
    )
    update = f"PATCH {api}/systemusers({dave}) HTTP/1.1\r\nContent-Type: application/json\r\n\r\n" + "{}"
    body, content_type = _batch(api, [create, update])
    rows = len(_settings_rows(http))
    http.post("/_sandbox/faults", json={"spec": "dataverse:403=1,path=/$batch"})

    reply = http.post(f"{api}/$batch", headers={**headers, "Content-Type": content_type}, content=body)
    assert reply.status_code == 400  # the first failure stops the batch
    assert reply.headers["content-type"].startswith("multipart/mixed; boundary=batchresponse_")
    assert reply.text.count("HTTP/1.1 403 Forbidden") == 1 and "Content-ID: 1" in reply.text
    assert f"is missing prvCreate{SETTINGS_TABLE} privilege" in reply.text

    prefer = {"Prefer": "odata.continue-on-error"}
    reply = http.post(
        f"{api}/$batch", headers={**headers, **prefer, "Content-Type": content_type}, content=body
    )
    assert reply.status_code == 200
    assert reply.text.count("HTTP/1.1 403 Forbidden") == 2
    assert "is missing prvWriteUser privilege" in reply.text and "for entity 'systemuser'" in reply.text
    assert len(_settings_rows(http)) == rows

    malformed = http.post(f"{api}/$batch", headers={**headers, "Content-Type": "text/plain"}, content=b"x")
    assert malformed.status_code == 400 and malformed.json()["error"]["code"] != "0x80040220"


def test_403_in_rescue_graph_and_identity_shapes(http: httpx.Client, faulty: SandboxHandle) -> None:
    http.post("/_sandbox/faults", json={"spec": "rescue:403=1;graph:403=1;identity:403=1"})
    info = faulty.info["tenants"]["contoso"]
    url, code = rescue(faulty)
    plain = http.post(f"{url}/getHierarchy_v2.aspx", data={"authcode": code})
    # Rescue's own refusals are HTTP 200 + a status token; a 403 is the web front end's.
    assert plain.status_code == 403 and plain.headers["content-type"].startswith("text/plain")
    assert plain.text == "403 Forbidden\n"
    graph = http.get(f"{info['graph_url']}/v1.0/servicePrincipals")
    assert graph.status_code == 403
    assert graph.json()["error"]["code"] == "Authorization_RequestDenied"
    assert set(graph.json()["error"]["innerError"]) == {"date", "request-id", "client-request-id"}
    token = http.post(f"{info['authority']}/oauth2/v2.0/token", data={"grant_type": "client_credentials"})
    assert token.status_code == 403 and token.json()["error"] == "access_denied"
    assert token.json()["error_description"].startswith("AADSTS53003:") and token.json()["error_codes"] == [
        53003
    ]


# -- reply_lost: processed, then no answer ------------------------------------------------------


def test_reply_lost_applies_the_write_and_then_drops_the_connection(
    http: httpx.Client, faulty: SandboxHandle, get_token: Callable[[SandboxHandle, str, str], str]
) -> None:
    api, headers = _api(faulty), _auth(faulty, get_token)
    erin = _user_id(http, "erin@contoso.com")
    row_id = "7d0e9a1b-2c3d-4e5f-8a9b-0c1d2e3f4a5b"
    url = f"{api}/{SETTINGS_SET}({row_id})"
    create_only = {**headers, "If-None-Match": "*"}
    row = {"lmi_UserId@odata.bind": f"/systemusers({erin})", "lmi_technicianid": "41005"}
    http.post(
        "/_sandbox/faults",
        json={"spec": f"dataverse:reply_lost=1,count=1,method=PATCH,path=/{SETTINGS_SET}*"},
    )
    http.delete("/_sandbox/requests")

    assert http.get(url, headers=headers).status_code == 404  # GET: not this rule's method
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        http.patch(url, headers=create_only, json=row)
    created = [r for r in _settings_rows(http) if r["lmi_logmeinsettingsid"] == row_id]
    assert len(created) == 1 and created[0]["lmi_technicianid"] == "41005"  # the write was committed
    # Repeating the create-only write finds it (count=1: the fault has fired once).
    again = http.patch(url, headers=create_only, json=row)
    assert again.status_code == 412
    entries = http.get("/_sandbox/requests", params={"service": "dataverse"}).json()["entries"]
    assert [(e["method"], e["status"]) for e in entries] == [("GET", 404), ("PATCH", 0), ("PATCH", 412)]
    assert http.get("/_sandbox/faults").json()["rules"][0]["fired"] == 1


def test_reply_lost_on_a_rescue_create_leaves_a_node_the_client_never_heard_of(
    http: httpx.Client, faulty: SandboxHandle
) -> None:
    url, code = rescue(faulty)
    before = {n["node_id"] for n in _state(http)["rescue"]["nodes"]}
    http.post("/_sandbox/faults", json={"spec": "rescue:reply_lost=1,count=1,path=createGroup.aspx"})
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        http.post(f"{url}/createGroup.aspx", data={"authcode": code, "parent": "41100"})
    new = [n for n in _state(http)["rescue"]["nodes"] if n["node_id"] not in before]
    assert [(n["name"], n["parent_id"], n["type"]) for n in new] == [("New Group", 41100, "TechnicianGroup")]
    # The next createGroup is answered (count=1), with the next node id.
    reply = http.post(f"{url}/createGroup.aspx", data={"authcode": code, "parent": "41100"})
    assert reply.status_code == 200 and reply.text == f"OK\n\n{new[0]['node_id'] + 1}\n\n"
