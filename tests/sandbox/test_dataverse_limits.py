"""Service protection limits: 429 with ``Retry-After`` per user, over a sliding window, for the
request count (0x80072322), combined execution time (0x80072321) and concurrency (0x80072326).
Limits are set low and the limiter's clock is injected, so nothing waits."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
from dataverse_harness import with_caller

from rescue_sandbox.dataverse import DataverseError, DataverseOrg, ServiceLimits
from rescue_sandbox.dataverse.limits import ServiceProtection
from rescue_sandbox.dataverse.standalone import LocalTokens, StandaloneServer, serve_standalone

pytestmark = pytest.mark.integration

HOST = "contoso.crm.dynamics.com"
LIMITS = ServiceLimits(requests_per_window=3, window_seconds=60.0, max_concurrent=2, execution_seconds=100.0)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def tokens() -> LocalTokens:
    return LocalTokens()


@pytest.fixture(scope="module")
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="module")
def server(tokens: LocalTokens, clock: FakeClock) -> Iterator[StandaloneServer]:
    org = DataverseOrg.from_seed(with_caller({"org_url": f"https://{HOST}"}))
    with serve_standalone({HOST: org}, tokens.verify, LIMITS, clock=clock) as srv:
        yield srv


def client_for(server: StandaloneServer, tokens: LocalTokens, oid: str) -> httpx.Client:
    headers = {"Authorization": f"Bearer {tokens.mint(f'https://{HOST}', oid=oid)}"}
    base = f"{server.dataverse_url(HOST)}/api/data/v9.2/"
    return httpx.Client(base_url=base, headers=headers, verify=server.ssl_context(), trust_env=False)


def test_request_count_limit_per_user_with_retry_after(
    server: StandaloneServer, tokens: LocalTokens, clock: FakeClock
) -> None:
    user = str(uuid.uuid4())
    with client_for(server, tokens, user) as api:
        for remaining in (2, 1, 0):
            response = api.get("businessunits")
            assert response.status_code == 200
            assert response.headers["x-ms-ratelimit-burst-remaining-xrm-requests"] == str(remaining)
        clock.now += 20
        response = api.get("businessunits")
        assert response.status_code == 429
        assert response.headers["Retry-After"] == "40"
        error = response.json()["error"]
        assert error["code"] == "0x80072322"
        assert (
            error["message"] == "Number of requests exceeded the limit of 3 over time window of 60 seconds."
        )
        with client_for(server, tokens, str(uuid.uuid4())) as other:
            assert other.get("businessunits").status_code == 200, "limits are per user"
        clock.now += 41
        assert api.get("businessunits").status_code == 200, "the window slides"


def test_batch_counts_as_one_request(server: StandaloneServer, tokens: LocalTokens) -> None:
    part = "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\nGET businessunits HTTP/1.1\r\n\r\n"
    body = ("--batch_1\r\n" + part) * 10 + "--batch_1--\r\n"
    with client_for(server, tokens, str(uuid.uuid4())) as api:
        response = api.post(
            "$batch", content=body.encode(), headers={"Content-Type": "multipart/mixed; boundary=batch_1"}
        )
        assert response.status_code == 200
        assert response.headers["x-ms-ratelimit-burst-remaining-xrm-requests"] == "2"


def test_concurrent_requests_are_refused_at_once(server: StandaloneServer, tokens: LocalTokens) -> None:
    user = str(uuid.uuid4())
    held = [server.app.protection.admit(user) for _ in range(LIMITS.max_concurrent)]
    try:
        with client_for(server, tokens, user) as api:
            response = api.get("businessunits")
        assert response.status_code == 429
        assert response.headers["Retry-After"] == "1"
        assert response.json()["error"] == {
            "code": "0x80072326",
            "message": "Number of concurrent requests exceeded the limit of 2.",
        }
    finally:
        for admission in held:
            server.app.protection.release(admission, 0.0)
    assert server.app.protection.in_flight(user) == 0


def test_execution_time_limit() -> None:
    clock = FakeClock()
    protection = ServiceProtection(ServiceLimits(execution_seconds=10.0, window_seconds=300.0), clock)
    first = protection.admit("u")
    protection.release(first, 6.0)
    clock.now += 100
    second = protection.admit("u")
    protection.release(second, 6.0)
    with pytest.raises(DataverseError) as refused:
        protection.admit("u")
    error = refused.value
    assert error.status == 429 and error.code == "0x80072321"
    assert error.headers["Retry-After"] == "200"  # until the first 6 s leave the window
    assert "10,000 milliseconds" in error.message
    clock.now += 201
    protection.release(protection.admit("u"), 0.0)


def test_refused_requests_are_not_counted() -> None:
    clock = FakeClock()
    protection = ServiceProtection(ServiceLimits(requests_per_window=1, window_seconds=10.0), clock)
    protection.release(protection.admit("u"), 0.0)
    for _ in range(3):
        with pytest.raises(DataverseError, match="Number of requests exceeded"):
            protection.admit("u")
    clock.now += 10.5
    protection.release(protection.admit("u"), 0.0)
