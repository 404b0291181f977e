"""The shared client pieces: settings, stats, templates, backoff, Retry-After, TLS, the retry loop."""

from __future__ import annotations

import asyncio
import ssl
import threading
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

import httpx
import pytest
import trustme

from reconciler.errors import InputError, ProtocolError, RateLimitedError
from reconciler.providers.http import (
    ClientSettings,
    RequestStats,
    encode_query,
    make_ssl_context,
    path_template,
    require_https,
)
from reconciler.providers.retry import ClientTransportError, Retrier, Timing, backoff_delay, parse_retry_after

NOW = 1_800_000_000.0


class FakeSleep:
    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def make_retrier(
    settings: ClientSettings | None = None, stats: RequestStats | None = None
) -> tuple[Retrier, FakeSleep, RequestStats]:
    sleep, stats = FakeSleep(), stats or RequestStats()
    timing = Timing(sleep=sleep, clock=lambda: NOW, rand=lambda: 0.5)
    retrier = Retrier(
        service="svc", tenant="t1", settings=settings or ClientSettings(), stats=stats, timing=timing
    )
    return retrier, sleep, stats


def run_with(
    handler: httpx.MockTransport, retrier: Retrier, *, method: str = "GET", idempotent: bool = True
) -> httpx.Response:
    async def main() -> httpx.Response:
        async with httpx.AsyncClient(transport=handler) as client:

            async def attempt() -> httpx.Response:
                return await client.request(method, "https://api.test/x(1)")

            return await retrier.send(attempt, method=method, template="x({id})", idempotent=idempotent)

    return asyncio.run(main())


def scripted(*steps: httpx.Response | type[Exception]) -> tuple[httpx.MockTransport, list[httpx.Request]]:
    """A transport that plays ``steps`` in order (an exception class is raised as a transport error)."""
    seen: list[httpx.Request] = []
    queue = list(steps)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        step = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(step, httpx.Response):
            return step
        raise step("simulated", request=request)  # type: ignore[call-arg]

    return httpx.MockTransport(handler), seen


# ---------------------------------------------------------------------------- settings and helpers


def test_settings_defaults_and_validation() -> None:
    s = ClientSettings()
    assert (s.timeout, s.max_retries, s.page_size, s.batch_size, s.max_retry_after) == (
        30,
        6,
        5000,
        1000,
        120,
    )
    with pytest.raises(InputError, match="page_size"):
        ClientSettings(page_size=5001)
    with pytest.raises(InputError, match="batch_size"):
        ClientSettings(batch_size=0)
    with pytest.raises(InputError, match="max_concurrency"):
        ClientSettings(max_concurrency=0)


@pytest.mark.parametrize(
    ("path", "template"),
    [
        ("systemusers(3F2A1B4C-5D6E-4F70-8A91-B2C3D4E5F607)", "systemusers({id})"),
        (
            "systemusers(3f2a1b4c-5d6e-4f70-8a91-b2c3d4e5f607)/systemuserroles_association/$ref",
            "systemusers({id})/systemuserroles_association/$ref",
        ),
        ("EntityDefinitions(LogicalName='x_session')/Keys", "EntityDefinitions({id})/Keys"),
        ("accounts(name='a(b)c''d')", "accounts({id})"),
        ("solutions?$filter=uniquename eq 'X'", "solutions"),
        ("v1.0/servicePrincipals/3f2a1b4c-5d6e-4f70-8a91-b2c3d4e5f607", "v1.0/servicePrincipals/{id}"),
        ("rescue/12345/API", "rescue/{id}/API"),
        ("$batch", "$batch"),
    ],
)
def test_path_template(path: str, template: str) -> None:
    assert path_template(path) == template


def test_encode_query_keeps_odata_readable_and_escapes_separators() -> None:
    q = encode_query({"$select": "a,b", "$filter": "name eq 'x&y=1+2' and c eq 'd#'"})
    assert q == "$select=a,b&$filter=name%20eq%20'x%26y=1%2B2'%20and%20c%20eq%20'd%23'"


def test_parse_retry_after_seconds_date_and_garbage() -> None:
    assert parse_retry_after("7", lambda: NOW) == 7.0
    assert parse_retry_after(" 2.5 ", lambda: NOW) == 2.5
    assert parse_retry_after("-3", lambda: NOW) == 0.0
    date = format_datetime(datetime.fromtimestamp(NOW + 42, tz=UTC), usegmt=True)
    assert parse_retry_after(date, lambda: NOW) == pytest.approx(42.0)
    past = format_datetime(datetime.fromtimestamp(NOW - 42, tz=UTC), usegmt=True)
    assert parse_retry_after(past, lambda: NOW) == 0.0
    assert parse_retry_after("soon", lambda: NOW) is None
    assert parse_retry_after(None, lambda: NOW) is None
    assert parse_retry_after("nan", lambda: NOW) is None


def test_backoff_is_jittered_exponential_and_capped() -> None:
    s = ClientSettings(backoff_base=0.5, backoff_cap=30)
    assert backoff_delay(0, s, lambda: 0.0) == 0.25
    assert backoff_delay(0, s, lambda: 1.0) == 0.5
    assert backoff_delay(3, s, lambda: 1.0) == 4.0
    assert backoff_delay(20, s, lambda: 1.0) == 30.0
    assert backoff_delay(20, s, lambda: 0.0) == 15.0
    assert backoff_delay(10_000, s, lambda: 1.0) == 30.0


def test_stats_count_merge_and_dict() -> None:
    a, b = RequestStats(), RequestStats()
    a.record("dataverse", "GET", "solutions", 200)
    a.record("dataverse", "GET", "solutions", 429)
    a.record_retry("dataverse", "GET", "solutions")
    b.record("rescue", "POST", "getHierarchy_v2", "transport")
    b.record("dataverse", "PATCH", "x({id})", 204)
    a.merge(b)
    assert a.total() == 4 and a.total("dataverse") == 3 and a.total("rescue") == 1
    assert a.retries("dataverse") == 1 and a.retries("rescue") == 0
    d = a.as_dict()
    assert d["dataverse"]["requests"] == 3
    assert d["dataverse"]["endpoints"]["GET solutions"] == {"requests": 2, "retries": 1}
    assert d["dataverse"]["statuses"] == {"200": 1, "204": 1, "429": 1}
    assert d["rescue"]["statuses"] == {"transport": 1}
    with pytest.raises(ValueError):
        a.merge(a)


def test_stats_are_thread_safe() -> None:
    stats = RequestStats()

    def work() -> None:
        for _ in range(2000):
            stats.record("s", "GET", "p", 200)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert stats.total("s") == 8000


def test_ssl_context_verifies_with_system_store_or_given_ca(tmp_path: Path) -> None:
    ctx = make_ssl_context(None)
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    ca = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    ctx = make_ssl_context(ca_file)
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    assert len(ctx.get_ca_certs()) == 1
    with pytest.raises(InputError, match="cannot load the CA file"):
        make_ssl_context(tmp_path / "missing.pem")


def test_require_https_refuses_http_and_credentials() -> None:
    assert require_https("https://org.crm.dynamics.com/ ", setting="s") == "https://org.crm.dynamics.com"
    with pytest.raises(InputError, match=r"connection\.dynamics\.org_url: http://org.example is refused"):
        require_https("http://org.example", setting="connection.dynamics.org_url")
    with pytest.raises(InputError) as info:
        require_https("https://user:hunter2@org.example", setting="s")
    assert "hunter2" not in str(info.value)
    with pytest.raises(InputError, match="no host"):
        require_https("https:///path", setting="s")
    with pytest.raises(InputError, match="not a valid URL"):
        require_https("https://host:notaport/", setting="s")


# ---------------------------------------------------------------------------- the retry loop


def test_429_waits_retry_after_then_succeeds() -> None:
    transport, seen = scripted(httpx.Response(429, headers={"Retry-After": "7"}), httpx.Response(200))
    retrier, sleep, stats = make_retrier()
    assert run_with(transport, retrier).status_code == 200
    assert sleep.calls == [7.0] and len(seen) == 2
    assert stats.as_dict()["svc"]["endpoints"]["GET x({id})"] == {"requests": 2, "retries": 1}


def test_retry_after_http_date_and_cap() -> None:
    date = format_datetime(datetime.fromtimestamp(NOW + 30, tz=UTC), usegmt=True)
    transport, _ = scripted(
        httpx.Response(429, headers={"Retry-After": date}),
        httpx.Response(429, headers={"Retry-After": "100000"}),
        httpx.Response(200),
    )
    retrier, sleep, _ = make_retrier(ClientSettings(max_retry_after=120))
    run_with(transport, retrier)
    assert sleep.calls == [pytest.approx(30.0), 120.0]


def test_429_storm_ends_in_rate_limited_error() -> None:
    transport, seen = scripted(httpx.Response(429, headers={"Retry-After": "3"}))
    retrier, sleep, stats = make_retrier(ClientSettings(max_retries=4))
    with pytest.raises(RateLimitedError) as info:
        run_with(transport, retrier)
    assert len(seen) == 5 and sleep.calls == [3.0] * 4
    assert info.value.retry_after == 3.0 and "still throttled after 5 attempts" in str(info.value)
    assert stats.retries("svc") == 4


def test_503_and_504_retried_for_reads_with_backoff() -> None:
    transport, seen = scripted(httpx.Response(503), httpx.Response(504), httpx.Response(200))
    retrier, sleep, _ = make_retrier()
    assert run_with(transport, retrier).status_code == 200
    assert len(seen) == 3 and sleep.calls == [0.375, 0.75]  # equal jitter at rand=0.5


def test_5xx_exhausted_returns_last_response_for_the_caller_to_map() -> None:
    transport, seen = scripted(httpx.Response(502))
    retrier, _, _ = make_retrier(ClientSettings(max_retries=2))
    assert run_with(transport, retrier).status_code == 502
    assert len(seen) == 3


def test_post_is_not_retried_on_502_or_plain_503_but_is_on_429_and_503_with_retry_after() -> None:
    for status in (502, 503, 504):
        transport, seen = scripted(httpx.Response(status), httpx.Response(200))
        retrier, _, _ = make_retrier()
        assert run_with(transport, retrier, method="POST", idempotent=False).status_code == status
        assert len(seen) == 1
    for first in (httpx.Response(429), httpx.Response(503, headers={"Retry-After": "1"})):
        transport, seen = scripted(first, httpx.Response(201))
        retrier, _, _ = make_retrier()
        assert run_with(transport, retrier, method="POST", idempotent=False).status_code == 201
        assert len(seen) == 2


def test_dropped_connection_on_get_is_retried() -> None:
    transport, seen = scripted(httpx.ReadError, httpx.RemoteProtocolError, httpx.Response(200))
    retrier, sleep, stats = make_retrier()
    assert run_with(transport, retrier).status_code == 200
    assert len(seen) == 3 and len(sleep.calls) == 2
    assert stats.as_dict()["svc"]["statuses"] == {"200": 1, "transport": 2}


def test_dropped_connection_on_post_may_have_applied_and_is_not_retried() -> None:
    for exc in (httpx.ReadError, httpx.ReadTimeout, httpx.RemoteProtocolError, httpx.WriteError):
        transport, seen = scripted(exc, httpx.Response(201))
        retrier, sleep, _ = make_retrier()
        with pytest.raises(ClientTransportError) as info:
            run_with(transport, retrier, method="POST", idempotent=False)
        assert info.value.maybe_applied is True
        assert "may have been applied" in str(info.value)
        assert len(seen) == 1 and sleep.calls == []


def test_connection_refused_on_post_is_safe_to_retry() -> None:
    transport, seen = scripted(httpx.ConnectError, httpx.ConnectTimeout, httpx.Response(201))
    retrier, _, _ = make_retrier()
    assert run_with(transport, retrier, method="POST", idempotent=False).status_code == 201
    assert len(seen) == 3


def test_connection_failing_for_good_raises_after_max_retries() -> None:
    transport, seen = scripted(httpx.ConnectError)
    retrier, sleep, _ = make_retrier(ClientSettings(max_retries=3))
    with pytest.raises(ClientTransportError) as info:
        run_with(transport, retrier)
    assert info.value.maybe_applied is False and "after 4 attempts" in str(info.value)
    assert len(seen) == 4 and len(sleep.calls) == 3


def test_tls_failure_is_not_retried_and_says_so() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        try:
            raise ssl.SSLCertVerificationError("certificate verify failed")
        except ssl.SSLError as exc:
            raise httpx.ConnectError("tls", request=request) from exc

    retrier, sleep, _ = make_retrier()
    with pytest.raises(ClientTransportError, match="TLS failure") as info:
        run_with(httpx.MockTransport(handler), retrier)
    assert info.value.maybe_applied is False and sleep.calls == []


def test_read_timeout_over_tls_is_a_lost_reply_not_a_tls_failure() -> None:
    """A read timeout carries SSLWantReadError in its context: a write may have been applied."""

    def handler(request: httpx.Request) -> httpx.Response:
        timeout = httpx.ReadTimeout("timed out", request=request)
        timeout.__context__ = ssl.SSLWantReadError("The operation did not complete (read)")
        raise timeout

    retrier, sleep, _ = make_retrier()
    with pytest.raises(ClientTransportError) as info:
        run_with(httpx.MockTransport(handler), retrier, method="POST", idempotent=False)
    assert info.value.maybe_applied is True
    assert "TLS failure" not in str(info.value) and sleep.calls == []


def test_decoding_error_is_a_protocol_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Encoding": "gzip"}, content=b"not gzip")

    retrier, _, _ = make_retrier()
    with pytest.raises(ProtocolError, match="could not be decoded"):
        run_with(httpx.MockTransport(handler), retrier)


def test_classify_hook_overrides_the_status_verdict() -> None:
    transport, seen = scripted(
        httpx.Response(200, text="LIMITREACHED"),
        httpx.Response(200, text="ERROR"),
        httpx.Response(200, text="OK"),
    )
    retrier, sleep, _ = make_retrier()

    async def main() -> httpx.Response:
        async with httpx.AsyncClient(transport=transport) as client:
            return await retrier.send(
                lambda: client.get("https://api.test/m"),
                method="POST",
                template="m",
                idempotent=True,
                classify=lambda r: (
                    "throttled" if r.text == "LIMITREACHED" else "retry" if r.text == "ERROR" else None
                ),
            )

    assert asyncio.run(main()).text == "OK"
    assert len(seen) == 3 and len(sleep.calls) == 2


def test_retry_log_lines_name_the_endpoint(caplog: pytest.LogCaptureFixture) -> None:
    transport, _ = scripted(httpx.Response(429, headers={"Retry-After": "1"}), httpx.Response(200))
    retrier, _, _ = make_retrier()
    with caplog.at_level("WARNING"):
        run_with(transport, retrier)
    assert any(
        "[t1] svc GET x({id}): HTTP 429 (throttled); retry 1/6 in 1.0s" in r.getMessage()
        for r in caplog.records
    )


def test_the_run_retry_budget_is_shared_by_every_request() -> None:
    transport, seen = scripted(httpx.Response(503, headers={"Retry-After": "1"}))
    retrier, sleep, stats = make_retrier(ClientSettings(max_retries=5, max_retries_per_run=3))
    with pytest.raises(RateLimitedError):
        run_with(transport, retrier)
    assert len(sleep.calls) == 3 and stats.retries() == 3
    # The budget is spent: the next request of the run gets no retry at all.
    transport, seen = scripted(httpx.Response(429, headers={"Retry-After": "1"}))
    with pytest.raises(RateLimitedError):
        run_with(transport, retrier)
    assert len(seen) == 1 and len(sleep.calls) == 3
