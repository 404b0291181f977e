"""RescueClient against httpx.MockTransport: form POSTs, status mapping, retries, secrecy."""

from __future__ import annotations

import asyncio
from functools import partial
from urllib.parse import parse_qs

import httpx
import pytest
from client_harness import (
    ConcurrencyProbe,
    FakeSleep,
    Handler,
    cause_chain,
    mock_options,
    recorder,
    run_client,
)
from pydantic import SecretStr

from reconciler.errors import ApiError, AuthError, InputError, ProtocolError, RateLimitedError
from reconciler.providers.base import ClientOptions
from reconciler.providers.http import ClientSettings, RequestStats
from reconciler.providers.rescue.client import RescueClient
from reconciler.providers.retry import ClientTransportError

AUTHCODE = "s3cr3t-authcode-4ahx80u0"
API = "https://rescue.test/API"


def new_client(options: ClientOptions) -> RescueClient:
    return RescueClient(API, SecretStr(AUTHCODE), **options)


run = partial(run_client, new_client)
"""``run(handler, body, settings=..., stats=..., sleep=...)``: ``body(client)`` against ``handler``."""


def form(request: httpx.Request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(request.content.decode(), keep_blank_values=True).items()}


def rescue_reply(step: str | int | type[Exception]) -> httpx.Response | type[Exception]:
    """A text is an HTTP 200 reply with that body, a number an empty reply with that status."""
    if isinstance(step, str):
        return httpx.Response(200, text=step)
    if isinstance(step, int):
        return httpx.Response(step, text="")
    return step


def replies(*steps: str | int | type[Exception]) -> tuple[Handler, list[httpx.Request]]:
    return recorder(*map(rescue_reply, steps))


def test_call_posts_a_form_with_the_authcode_in_the_body_only() -> None:
    handler, seen = replies("OK\n\nNODEID:5\nNAME:Tier 1\n")
    reply = run(handler, lambda c: c.call("getGroup", {"node": "5"}, repeatable=True))
    assert reply.blocks == [{"NODEID": "5", "NAME": "Tier 1"}]
    (request,) = seen
    assert request.method == "POST"
    assert str(request.url) == "https://rescue.test/API/getGroup.aspx"
    assert AUTHCODE not in str(request.url)
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert form(request) == {"node": "5", "authcode": AUTHCODE}


def test_http_url_is_refused() -> None:
    with pytest.raises(InputError, match=r"connection\.rescue\.api_url"):
        RescueClient("http://rescue.test/API", SecretStr(AUTHCODE), **mock_options(tenant="t"))


@pytest.mark.parametrize("token", ["INVALID_SECRETAUTHCODE", "NOTLOGGEDIN", "INVALID"])
def test_auth_tokens_tell_the_admin_to_regenerate_the_authcode(token: str) -> None:
    handler, seen = replies(token)
    with pytest.raises(AuthError) as info:
        run(handler, lambda c: c.get_hierarchy())
    message = str(info.value)
    assert token in message and "connection.rescue.authcode" in message and "regenerate" in message
    assert len(seen) == 1


def test_deleted_or_disabled_user_is_an_auth_error() -> None:
    handler, _ = replies("USER_DELETED_OR_DISABLED")
    with pytest.raises(AuthError, match="deleted or disabled"):
        run(handler, lambda c: c.get_user(node="7"))


@pytest.mark.parametrize(
    ("token", "text"),
    [
        ("INVALIDPARAM_NODE", "parameter 'node'"),
        ("INVALIDPARAM_EMAIL_ALREADY_IN_USE", "parameter 'email' (already in use)"),
        ("INVALIDPARAM_PARENT", "parameter 'parent'"),
    ],
)
def test_invalid_param_names_the_parameter(token: str, text: str) -> None:
    handler, _ = replies(token)
    with pytest.raises(ApiError) as info:
        run(handler, lambda c: c.set_user({"node": "7", "email": "a@b.c"}))
    assert info.value.code == token and text in str(info.value)


def test_unknown_status_token_is_an_api_error_with_the_code() -> None:
    handler, _ = replies("NOTECHCONSOLERUNNING")
    with pytest.raises(ApiError) as info:
        run(handler, lambda c: c.call("requestPINCode", {}, repeatable=False))
    assert info.value.code == "NOTECHCONSOLERUNNING"


@pytest.mark.parametrize("throttle", ["LIMITREACHED", "POLLRATEEXCEEDED", 429])
def test_throttling_backs_off_and_retries_even_writes(throttle: str | int) -> None:
    handler, seen = replies(throttle, "OK\n\n4242\n")
    sleep = FakeSleep()
    assert run(handler, lambda c: c.create_group("10"), sleep=sleep) == "4242"
    assert len(seen) == 2 and sleep.calls == [0.375]


def test_throttling_storm_ends_in_rate_limited_error() -> None:
    handler, seen = replies("LIMITREACHED")
    with pytest.raises(RateLimitedError):
        run(handler, lambda c: c.get_hierarchy(), settings=ClientSettings(max_retries=3))
    assert len(seen) == 4


def test_error_token_is_retried_for_repeatable_calls_only() -> None:
    record = "NodeID:1\nParentID:0\nName:Technicians\nEmail:\nDescription:\nStatus:Offline\nType:Technicians"
    handler, seen = replies("ERROR", f"OK\n\n{record}\n\n")
    assert [b["NODEID"] for b in run(handler, lambda c: c.get_hierarchy()).blocks] == ["1"]
    assert len(seen) == 2

    handler, seen = replies("ERROR", "OK")
    run(handler, lambda c: c.set_group("5", "Tier 1"))  # sends every field: safe to repeat
    assert len(seen) == 2

    handler, seen = replies("ERROR", "OK\n\n12\n\n")
    with pytest.raises(ApiError, match="unspecified error") as info:
        run(handler, lambda c: c.create_group("5"))  # a repeat could make two groups
    assert info.value.code == "ERROR" and len(seen) == 1


def test_error_token_exhausted_on_read_is_an_api_error() -> None:
    handler, seen = replies("ERROR")
    with pytest.raises(ApiError, match="unspecified"):
        run(handler, lambda c: c.get_hierarchy(), settings=ClientSettings(max_retries=2))
    assert len(seen) == 3


def test_transport_errors_retried_for_reads_and_maybe_applied_for_writes() -> None:
    handler, seen = replies(httpx.ReadError, "OK\n\nNODEID:1\n")
    assert run(handler, lambda c: c.get_user(email="a@b.c")) == {"NODEID": "1"}
    assert len(seen) == 2 and form(seen[0])["email"] == "a@b.c"

    handler, seen = replies(httpx.ReadError, "OK 77")
    with pytest.raises(ClientTransportError) as info:
        run(handler, lambda c: c.create_user("10"))
    assert info.value.maybe_applied is True and len(seen) == 1


def test_http_errors_are_api_errors() -> None:
    handler, seen = replies(502)
    with pytest.raises(ApiError) as info:
        run(handler, lambda c: c.get_group("5"), settings=ClientSettings(max_retries=1))
    assert info.value.status == 502 and len(seen) == 2  # gateway errors are retried for reads
    for status in (500, 404):
        handler, seen = replies(status)
        with pytest.raises(ApiError) as info:
            run(handler, lambda c: c.get_group("5"))
        assert info.value.status == status and len(seen) == 1


def test_unparseable_reply_is_a_protocol_error_naming_the_method() -> None:
    handler, _ = replies("<html>maintenance</html>")
    with pytest.raises(ProtocolError, match="getHierarchy_v2"):
        run(handler, lambda c: c.get_hierarchy())


@pytest.mark.parametrize("body", ["OK 12345", "OK\n12345", "OK\n\n12345\n", "OK\n\nNODEID:12345\n"])
def test_new_node_id_in_any_documented_shape(body: str) -> None:
    handler, seen = replies(body)
    assert run(handler, lambda c: c.create_group("10")) == "12345"
    assert form(seen[0]) == {"parent": "10", "authcode": AUTHCODE}


def test_missing_new_node_id_is_a_protocol_error() -> None:
    handler, _ = replies("OK")
    with pytest.raises(ProtocolError, match="new node ID"):
        run(handler, lambda c: c.create_user("10"))


def test_typed_helpers_send_the_documented_methods_and_fields() -> None:
    handler, seen = replies("OK\n\nNODEID:5\nSSOID:alice\n")

    async def body(c: RescueClient) -> None:
        assert await c.get_user(node="5") == {"NODEID": "5", "SSOID": "alice"}
        await c.set_user({"node": "5", "name": "Alice", "ssoid": "alice"})
        await c.get_group("5")
        await c.set_group("5", "Tier 1", description="first line")
        await c.set_group("5", "Tier 1", permissions=["RemoteControl", "SendFile"], locked=["SendFile"])

    run(handler, body)
    paths = [r.url.path for r in seen]
    assert paths == [
        "/API/getUser_v3.aspx",
        "/API/setUser_v2.aspx",
        "/API/getGroup_v2.aspx",
        "/API/setGroup_v2.aspx",
        "/API/setGroup_v2.aspx",
    ]
    assert form(seen[1]) == {"node": "5", "name": "Alice", "ssoid": "alice", "authcode": AUTHCODE}
    assert form(seen[3]) == {
        "node": "5",
        "name": "Tier 1",
        "status": "Enabled",
        "description": "first line",
        "authcode": AUTHCODE,
    }  # no `permission`: left to Rescue (the plan says so)
    assert form(seen[4])["permission"] == "RemoteControl,SendFile"
    assert form(seen[4])["lockedpermission"] == "SendFile"


def test_contract_violations_are_caught_before_sending() -> None:
    handler, seen = replies("OK")
    for body in (
        lambda c: c.get_user(),
        lambda c: c.get_user(node="1", email="a@b.c"),
        lambda c: c.get_group("abc"),
        lambda c: c.set_group("5", "x", status="On"),
        lambda c: c.call("../x", {}, repeatable=True),
        lambda c: c.call("getGroup", {"AuthCode": "x"}, repeatable=True),
        lambda c: c.set_user({"name": "x"}),
    ):
        with pytest.raises(ValueError):
            run(handler, body)
    assert seen == []


def test_stats_count_requests_per_method() -> None:
    stats = RequestStats()
    handler, _ = replies("LIMITREACHED", "OK\n\nNODEID:1\n")
    run(handler, lambda c: c.get_hierarchy(), stats=stats)
    d = stats.as_dict()["rescue"]
    assert d["endpoints"] == {"POST getHierarchy_v2": {"requests": 2, "retries": 1}}
    assert stats.total("rescue") == 2


def test_concurrent_reads_stay_under_the_bound() -> None:
    probe = ConcurrencyProbe(lambda: httpx.Response(200, text="OK\n\nNODEID:1\n"))

    async def body(c: RescueClient) -> list[dict[str, str]]:
        return list(await asyncio.gather(*(c.get_user(node=str(i)) for i in range(20))))

    assert len(run(probe, body, settings=ClientSettings(max_concurrency=3))) == 20
    assert probe.peak == 3


def test_authcode_never_in_errors_logs_or_repr(caplog: pytest.LogCaptureFixture) -> None:
    failures: list[Exception] = []
    cases: list[tuple[str | int | type[Exception], ...]] = [
        ("INVALID_SECRETAUTHCODE",),
        ("INVALIDPARAM_NODE",),
        ("LIMITREACHED",),
        (httpx.ReadError,),
        (503,),
        (f"garbage {AUTHCODE}",),
    ]
    with caplog.at_level("DEBUG"):
        for steps in cases:
            handler, _ = replies(*steps)
            try:
                run(handler, lambda c: c.create_group("10"), settings=ClientSettings(max_retries=1))
            except Exception as exc:  # collecting every failure on purpose
                failures.append(exc)
        repr_text = repr(RescueClient(API, SecretStr(AUTHCODE), **mock_options(tenant="t")))
    assert len(failures) == len(cases)
    for failure in failures:
        for raised in cause_chain(failure):
            assert AUTHCODE not in str(raised) and AUTHCODE not in repr(raised)
    assert all(AUTHCODE not in r.getMessage() for r in caplog.records)
    assert AUTHCODE not in repr_text


@pytest.mark.parametrize(
    "body",
    [
        "OK\n\nNODEID:5\nNAME:Alice\nDESCRIPTION:first line\nsecond line\nSSOID:alice\n\n",
        "OK\n\nNODEID:5\nDESCRIPTION:a blank\n\nline\nSSOID:alice\n\n",
    ],
)
def test_get_user_refuses_a_reply_whose_values_broke_the_framing(body: str) -> None:
    """setUser_v2 writes back every field as read: a truncated description would be lost."""
    handler, _ = replies(body)
    with pytest.raises(ProtocolError, match="line break"):
        run(handler, lambda c: c.get_user(node="5"))
