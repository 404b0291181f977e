"""Fault injection and the request log: the spec, seeded determinism, and what clients see."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from reconciler.errors import InputError
from reconciler.sandbox import SandboxHandle, running_sandbox
from reconciler.sandbox.faults import FaultInjector, parse_spec
from reconciler.sandbox.requestlog import split_path, template_of

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
