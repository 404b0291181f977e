"""$batch: encoding and decoding against Microsoft's documented examples, and the client's batching.

The reply bodies below are the examples of "Execute batch operations using the Web API"
(learn.microsoft.com, powerapps-docs), with ``[Organization Uri]`` filled in.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from email import policy
from email.parser import BytesParser
from typing import Any

import httpx
import pytest
from client_harness import FakeTokens, Handler, run_client

from reconciler.errors import ApiError, NotFoundError, PreconditionFailed, ProtocolError
from reconciler.providers.dynamics.batch import (
    BatchOperation,
    ChangeSetReply,
    HttpReplyPart,
    decode_batch,
    encode_batch,
    parse_batch_reply,
    plan_chunks,
)
from reconciler.providers.dynamics.client import DataverseClient
from reconciler.providers.http import ClientSettings
from reconciler.providers.retry import ClientTransportError

ORG = "https://org.crm.dynamics.com"
ROOT = f"{ORG}/api/data/v9.2"
ACCOUNT = "accounts(00000000-0000-0000-0000-000000000001)"


def task(n: int) -> BatchOperation:
    return BatchOperation(
        "POST",
        "tasks",
        {"subject": f"Task {n} in batch", "regardingobjectid_account_task@odata.bind": ACCOUNT},
    )


def crlf(text: str) -> str:
    return text.replace("\n", "\r\n")


# Microsoft's reply to three creates and a GET, no change set.
REPLY_NO_CHANGESET = crlf(f"""--batchresponse_01346794-f2e2-4d45-8cc2-f97e09fe8916
Content-Type: application/http
Content-Transfer-Encoding: binary

HTTP/1.1 204 No Content
OData-Version: 4.0
Location: {ROOT}/tasks(d31ba648-c592-ed11-aad1-000d3a993550)
OData-EntityId: {ROOT}/tasks(d31ba648-c592-ed11-aad1-000d3a993550)


--batchresponse_01346794-f2e2-4d45-8cc2-f97e09fe8916
Content-Type: application/http
Content-Transfer-Encoding: binary

HTTP/1.1 204 No Content
OData-Version: 4.0
Location: {ROOT}/tasks(d41ba648-c592-ed11-aad1-000d3a993550)
OData-EntityId: {ROOT}/tasks(d41ba648-c592-ed11-aad1-000d3a993550)


--batchresponse_01346794-f2e2-4d45-8cc2-f97e09fe8916
Content-Type: application/http
Content-Transfer-Encoding: binary

HTTP/1.1 204 No Content
OData-Version: 4.0
Location: {ROOT}/tasks(d51ba648-c592-ed11-aad1-000d3a993550)
OData-EntityId: {ROOT}/tasks(d51ba648-c592-ed11-aad1-000d3a993550)


--batchresponse_01346794-f2e2-4d45-8cc2-f97e09fe8916
Content-Type: application/http
Content-Transfer-Encoding: binary

HTTP/1.1 200 OK
Content-Type: application/json; odata.metadata=minimal; odata.streaming=true
OData-Version: 4.0

{{
  "@odata.context": "{ROOT}/$metadata#tasks(subject)",
  "value": [
    {{"@odata.etag": "W/\\"77180907\\"", "subject": "Task 1 in batch",
      "activityid": "d31ba648-c592-ed11-aad1-000d3a993550"}}
  ]
}}
--batchresponse_01346794-f2e2-4d45-8cc2-f97e09fe8916--
""")
CT_NO_CHANGESET = "multipart/mixed; boundary=batchresponse_01346794-f2e2-4d45-8cc2-f97e09fe8916"

# Microsoft's reply to a change set of three creates that reference each other ($1, $2).
REPLY_CHANGESET = crlf(f"""--batchresponse_3cace264-86ea-40fe-83d3-954b336c0f4a
Content-Type: multipart/mixed; boundary=changesetresponse_1a5db8a1-ec98-42c4-81f6-6bc6adcfa4bc

--changesetresponse_1a5db8a1-ec98-42c4-81f6-6bc6adcfa4bc
Content-Type: application/http
Content-Transfer-Encoding: binary
Content-ID: 1

HTTP/1.1 204 No Content
OData-Version: 4.0
Location: {ROOT}/leads(425195a4-7a75-e911-a97a-000d3a34a1bd)
OData-EntityId: {ROOT}/leads(425195a4-7a75-e911-a97a-000d3a34a1bd)

--changesetresponse_1a5db8a1-ec98-42c4-81f6-6bc6adcfa4bc
Content-Type: application/http
Content-Transfer-Encoding: binary
Content-ID: 2

HTTP/1.1 204 No Content
OData-Version: 4.0
Location: {ROOT}/contacts(495195a4-7a75-e911-a97a-000d3a34a1bd)
OData-EntityId: {ROOT}/contacts(495195a4-7a75-e911-a97a-000d3a34a1bd)

--changesetresponse_1a5db8a1-ec98-42c4-81f6-6bc6adcfa4bc
Content-Type: application/http
Content-Transfer-Encoding: binary
Content-ID: 3

HTTP/1.1 204 No Content
OData-Version: 4.0
Location:{ROOT}/accounts(4f5195a4-7a75-e911-a97a-000d3a34a1bd)
OData-EntityId:{ROOT}/accounts(4f5195a4-7a75-e911-a97a-000d3a34a1bd)

--changesetresponse_1a5db8a1-ec98-42c4-81f6-6bc6adcfa4bc--
--batchresponse_3cace264-86ea-40fe-83d3-954b336c0f4a--
""")
CT_CHANGESET = "multipart/mixed; boundary=batchresponse_3cace264-86ea-40fe-83d3-954b336c0f4a"

ERROR_0x80044331 = (
    '{"error":{"code":"0x80044331","message":"A validation error occurred.  The length of the '
    "'subject' attribute of the 'task' entity exceeded the maximum allowed length of '200'.\"}}"
)

# Microsoft's reply when the first of three creates fails and odata.continue-on-error is absent.
REPLY_STOPPED = crlf(f"""--batchresponse_156da4b8-cd2c-4862-a911-4aaab97c001a
Content-Type: application/http
Content-Transfer-Encoding: binary

HTTP/1.1 400 Bad Request
REQ_ID: 5ecd1cb3-1730-4ffc-909c-d44c22270026
Content-Type: application/json; odata.metadata=minimal
OData-Version: 4.0

{ERROR_0x80044331}
--batchresponse_156da4b8-cd2c-4862-a911-4aaab97c001a--
""")
CT_STOPPED = "multipart/mixed; boundary=batchresponse_156da4b8-cd2c-4862-a911-4aaab97c001a"

# ... and with Prefer: odata.continue-on-error.
REPLY_CONTINUED = crlf(f"""--batchresponse_f44bd09d-573f-4a30-bca0-2e500ee7e139
Content-Type: application/http
Content-Transfer-Encoding: binary

HTTP/1.1 400 Bad Request
REQ_ID: de4c5227-4a28-4ebd-8ced-3392ece1697b
Content-Type: application/json; odata.metadata=minimal
OData-Version: 4.0

{ERROR_0x80044331}
--batchresponse_f44bd09d-573f-4a30-bca0-2e500ee7e139
Content-Type: application/http
Content-Transfer-Encoding: binary

HTTP/1.1 204 No Content
OData-Version: 4.0
Location: {ROOT}/tasks(aed2ae8b-3c94-ed11-aad1-000d3a9933c9)
OData-EntityId: {ROOT}/tasks(aed2ae8b-3c94-ed11-aad1-000d3a9933c9)


--batchresponse_f44bd09d-573f-4a30-bca0-2e500ee7e139
Content-Type: application/http
Content-Transfer-Encoding: binary

HTTP/1.1 204 No Content
OData-Version: 4.0
Location: {ROOT}/tasks(b181a991-3c94-ed11-aad1-000d3a9933c9)
OData-EntityId: {ROOT}/tasks(b181a991-3c94-ed11-aad1-000d3a9933c9)


--batchresponse_f44bd09d-573f-4a30-bca0-2e500ee7e139--
""")
CT_CONTINUED = "multipart/mixed; boundary=batchresponse_f44bd09d-573f-4a30-bca0-2e500ee7e139"

# A change set rolled back: Dataverse answers the whole set with the failing request's error.
REPLY_FAILED_CHANGESET = crlf("""--batchresponse_9a1b
Content-Type: application/http
Content-Transfer-Encoding: binary
Content-ID: 2

HTTP/1.1 412 Precondition Failed
Content-Type: application/json; odata.metadata=minimal
OData-Version: 4.0

{"error":{"code":"0x80060882","message":"The version of the existing record doesn't match the RowVersion property provided."}}
--batchresponse_9a1b--
""")
CT_FAILED_CHANGESET = "multipart/mixed; boundary=batchresponse_9a1b"


# ---------------------------------------------------------------------------- encoding


def test_encode_change_set_matches_the_documented_shape() -> None:
    ops = plan_chunks([task(1), task(2), task(3)], 1000, change_set=True)[0]
    content_type, body = encode_batch(ops, api_root=ROOT, change_set=True, boundary_id="b1")
    assert content_type == 'multipart/mixed; boundary="batch_b1"'
    part = (
        "--changeset_b1\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
        "Content-ID: {n}\r\n\r\nPOST " + ROOT + "/tasks HTTP/1.1\r\n"
        "Content-Type: application/json; type=entry\r\n\r\n"
        '{{"subject":"Task {n} in batch","regardingobjectid_account_task@odata.bind":"' + ACCOUNT + '"}}\r\n'
    )
    expected = (
        '--batch_b1\r\nContent-Type: multipart/mixed; boundary="changeset_b1"\r\n\r\n'
        + "".join(part.format(n=n) for n in (1, 2, 3))
        + "--changeset_b1--\r\n\r\n--batch_b1--\r\n"
    )
    assert body.decode() == expected


def parse_mime(content_type: str, body: bytes) -> Any:
    """Parse a multipart body with the standard library: an independent check of the framing."""
    message = BytesParser(policy=policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    assert message.is_multipart() and not message.defects
    return message


def test_encoded_batch_is_well_formed_mime() -> None:
    ops = [
        BatchOperation("GET", f"{ACCOUNT}/Account_Tasks?$select=subject"),
        BatchOperation(
            "PATCH", "tasks(d31ba648-c592-ed11-aad1-000d3a993550)", {"a": 1}, {"If-Match": 'W/"7"'}
        ),
        BatchOperation("DELETE", "tasks(d41ba648-c592-ed11-aad1-000d3a993550)", headers={"If-Match": "*"}),
    ]
    (chunk,) = plan_chunks(ops, 1000, change_set=False)
    content_type, body = encode_batch(chunk, api_root=ROOT, change_set=False)
    parts = parse_mime(content_type, body).get_payload()
    assert isinstance(parts, list) and len(parts) == 3
    lines = [str(p.get_payload()).split("\r\n") for p in parts]
    assert [p["Content-Type"] for p in parts] == ["application/http"] * 3
    assert [p["Content-Transfer-Encoding"] for p in parts] == ["binary"] * 3
    assert all(p["Content-ID"] is None for p in parts)  # Content-ID only inside change sets
    assert lines[0][0] == f"GET {ROOT}/{ACCOUNT}/Account_Tasks?$select=subject HTTP/1.1"
    assert lines[1][:3] == [
        f"PATCH {ROOT}/tasks(d31ba648-c592-ed11-aad1-000d3a993550) HTTP/1.1",
        "Content-Type: application/json; type=entry",
        'If-Match: W/"7"',
    ]
    assert json.loads(lines[1][4]) == {"a": 1}
    assert lines[2][:2] == [
        f"DELETE {ROOT}/tasks(d41ba648-c592-ed11-aad1-000d3a993550) HTTP/1.1",
        "If-Match: *",
    ]


def test_change_set_references_are_sent_as_is() -> None:
    ops = [
        BatchOperation("POST", "accounts", {"name": "Account Name"}),
        BatchOperation("POST", "contacts", {"firstname": "Contact first name"}),
        BatchOperation("PUT", "$1/primarycontactid/$ref", {"@odata.id": "$2"}),
    ]
    (chunk,) = plan_chunks(ops, 1000, change_set=True)
    content_type, body = encode_batch(chunk, api_root=ROOT, change_set=True)
    (changeset,) = parse_mime(content_type, body).get_payload()
    inner = changeset.get_payload()
    assert [p["Content-ID"] for p in inner] == ["1", "2", "3"]
    assert str(inner[2].get_payload()).startswith("PUT $1/primarycontactid/$ref HTTP/1.1\r\n")


def test_plan_chunks_splits_numbers_and_checks_references() -> None:
    chunks = plan_chunks([task(n) for n in range(5)], 2, change_set=False)
    assert [[op.content_id for op in c] for c in chunks] == [["1", "2"], ["3", "4"], ["5"]]
    with pytest.raises(ValueError, match="GET is not allowed"):
        plan_chunks([BatchOperation("GET", "tasks")], 10, change_set=True)
    with pytest.raises(ValueError, match="need a change set"):
        plan_chunks([task(1), BatchOperation("PATCH", "$1", {"a": 1})], 10, change_set=False)
    with pytest.raises(ValueError, match="earlier operation of the same request"):
        plan_chunks([BatchOperation("PATCH", "$2", {"a": 1}), task(2)], 10, change_set=True)
    with pytest.raises(
        ValueError, match="earlier operation of the same request"
    ):  # split away from its target
        plan_chunks(
            [task(1), BatchOperation("POST", "notes", {"objectid_task@odata.bind": "$1"})], 1, change_set=True
        )
    with pytest.raises(ValueError, match="duplicated"):
        plan_chunks([task(1), BatchOperation("POST", "t", {}, content_id="1")], 10, change_set=True)
    with pytest.raises(ValueError, match="malformed header"):
        plan_chunks(
            [BatchOperation("DELETE", "t(1)", headers={"If-Match": "*\r\nX-Evil: 1"})], 10, change_set=False
        )
    # A dollar value that is not a binding is plain data, not a reference.
    plan_chunks([BatchOperation("POST", "notes", {"subject": "$1"})], 10, change_set=False)


# ---------------------------------------------------------------------------- decoding


def test_decode_documented_reply_without_change_set() -> None:
    ops = plan_chunks(
        [task(1), task(2), task(3), BatchOperation("GET", f"{ACCOUNT}/Account_Tasks")], 10, change_set=False
    )[0]
    results = decode_batch(ops, parse_batch_reply(CT_NO_CHANGESET, REPLY_NO_CHANGESET), change_set=False)
    assert [r.status for r in results] == [204, 204, 204, 200]
    assert [r.entity_id for r in results[:3]] == [
        "d31ba648-c592-ed11-aad1-000d3a993550",
        "d41ba648-c592-ed11-aad1-000d3a993550",
        "d51ba648-c592-ed11-aad1-000d3a993550",
    ]
    assert all(r.ok for r in results)
    assert results[3].body is not None and results[3].body["value"][0]["subject"] == "Task 1 in batch"
    assert [r.content_id for r in results] == ["1", "2", "3", "4"]


def test_decode_documented_change_set_reply() -> None:
    ops = plan_chunks(
        [
            BatchOperation("POST", "leads", {"firstname": "first name"}),
            BatchOperation("POST", "contacts", {"firstname": "first name"}),
            BatchOperation(
                "POST",
                "accounts",
                {"originatingleadid@odata.bind": "$1", "primarycontactid@odata.bind": "$2"},
            ),
        ],
        10,
        change_set=True,
    )[0]
    results = decode_batch(ops, parse_batch_reply(CT_CHANGESET, REPLY_CHANGESET), change_set=True)
    assert [r.status for r in results] == [204, 204, 204]
    assert results[2].entity_id == "4f5195a4-7a75-e911-a97a-000d3a34a1bd"  # "Location:<url>" without a space


def test_parse_change_set_next_to_a_single_request() -> None:
    reply = crlf("""--batchresponse_f2
Content-Type: multipart/mixed; boundary=changesetresponse_64

--changesetresponse_64
Content-Type: application/http
Content-Transfer-Encoding: binary
Content-ID: 1

HTTP/1.1 204 No Content
OData-Version: 4.0

--changesetresponse_64--
--batchresponse_f2
Content-Type: application/http
Content-Transfer-Encoding: binary

HTTP/1.1 200 OK
Content-Type: application/json

{"value": []}
--batchresponse_f2--
""")
    parts = parse_batch_reply("multipart/mixed; boundary=batchresponse_f2", reply)
    assert isinstance(parts[0], ChangeSetReply) and parts[0].parts[0].content_id == "1"
    assert isinstance(parts[1], HttpReplyPart) and parts[1].status == 200 and parts[1].body == '{"value": []}'


def test_stopped_batch_marks_the_rest_not_executed() -> None:
    ops = plan_chunks([task(1), task(2), task(3)], 10, change_set=False)[0]
    results = decode_batch(ops, parse_batch_reply(CT_STOPPED, REPLY_STOPPED), change_set=False)
    assert [r.status for r in results] == [400, 424, 424]
    assert results[0].error is not None and results[0].error.code == "0x80044331"
    assert "exceeded the maximum allowed length" in str(results[0].error)
    assert results[1].error is not None and "not executed: operation 1 failed" in str(results[1].error)


def test_continue_on_error_reports_each_part() -> None:
    ops = plan_chunks([task(1), task(2), task(3)], 10, change_set=False)[0]
    results = decode_batch(ops, parse_batch_reply(CT_CONTINUED, REPLY_CONTINUED), change_set=False)
    assert [r.status for r in results] == [400, 204, 204]
    assert not results[0].ok and results[1].ok and results[2].ok
    assert results[2].entity_id == "b181a991-3c94-ed11-aad1-000d3a9933c9"


def test_failed_change_set_rolls_back_every_operation() -> None:
    ops = plan_chunks(
        [task(1), BatchOperation("PATCH", "tasks(d31ba648-c592-ed11-aad1-000d3a993550)", {"a": 1}), task(3)],
        10,
        change_set=True,
    )[0]
    results = decode_batch(
        ops, parse_batch_reply(CT_FAILED_CHANGESET, REPLY_FAILED_CHANGESET), change_set=True
    )
    assert [r.status for r in results] == [424, 412, 424]
    assert isinstance(results[1].error, PreconditionFailed) and results[1].error.code == "0x80060882"
    assert "changed since it was read" in str(results[1].error)
    assert results[0].error is not None and "rolled back: operation 2" in str(results[0].error)


def test_part_errors_keep_their_type() -> None:
    reply = crlf("""--b
Content-Type: application/http

HTTP/1.1 404 Not Found
Content-Type: application/json

{"error":{"code":"0x80040217","message":"task With Id = x Does Not Exist"}}
--b--
""")
    ops = plan_chunks(
        [BatchOperation("DELETE", "tasks(d31ba648-c592-ed11-aad1-000d3a993550)")], 10, change_set=False
    )[0]
    (result,) = decode_batch(ops, parse_batch_reply("multipart/mixed; boundary=b", reply), change_set=False)
    assert isinstance(result.error, NotFoundError) and result.error.status == 404


@pytest.mark.parametrize(
    ("content_type", "body", "match"),
    [
        (CT_CONTINUED, REPLY_CONTINUED.rsplit("--batchresponse", 1)[0], "truncated"),
        ("application/json", "{}", "not multipart"),
        (
            "multipart/mixed; boundary=b",
            "--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--\r\n",
            "unexpected part",
        ),
        (
            "multipart/mixed; boundary=b",
            "--b\r\nContent-Type: application/http\r\n\r\nHTTP/9 x\r\n--b--\r\n",
            "status line",
        ),
    ],
)
def test_malformed_replies_are_protocol_errors(content_type: str, body: str, match: str) -> None:
    with pytest.raises(ProtocolError, match=match):
        parse_batch_reply(content_type, body)


def test_reply_with_too_few_parts_is_a_protocol_error_when_nothing_failed() -> None:
    ops = plan_chunks([task(1), task(2), task(3), task(4), task(5)], 10, change_set=False)[0]
    with pytest.raises(ProtocolError, match="4 parts for 5 operations"):
        decode_batch(ops, parse_batch_reply(CT_NO_CHANGESET, REPLY_NO_CHANGESET), change_set=False)


# ---------------------------------------------------------------------------- through the client


def fake_dataverse(request: httpx.Request, *, fail_subjects: tuple[str, ...] = ()) -> httpx.Response:
    """A tiny independent $batch server built on the stdlib MIME parser."""
    message = parse_mime(request.headers["Content-Type"], request.content)
    stop = "odata.continue-on-error" not in request.headers.get("Prefer", "")
    out: list[str] = []
    failed = False
    for part in message.get_payload():
        for inner in part.get_payload() if part.is_multipart() else [part]:
            lines = str(inner.get_payload()).split("\r\n")
            body: dict[str, Any] = next((json.loads(line) for line in lines if line.startswith("{")), {})
            if body.get("subject") in fail_subjects:
                status = (
                    "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n\r\n" + ERROR_0x80044331
                )
                failed = True
            else:
                status = f"HTTP/1.1 204 No Content\r\nOData-EntityId: {ROOT}/tasks(d31ba648-c592-ed11-aad1-00000000000{len(out)})\r\n"
            out.append(f"--batchresponse_z\r\nContent-Type: application/http\r\n\r\n{status}\r\n")
            if failed and stop:
                break
        if failed and stop:
            break
    body_text = "".join(out) + "--batchresponse_z--\r\n"
    return httpx.Response(
        400 if failed and stop else 200,
        headers={"Content-Type": "multipart/mixed; boundary=batchresponse_z"},
        text=body_text,
    )


def run_batch(
    handler: Handler, ops: list[BatchOperation], *, change_set: bool, continue_on_error: bool, **settings: int
) -> Any:
    """``client.batch(ops, ...)`` against ``handler``, with ``ClientSettings(**settings)``."""
    return run_client(
        lambda options: DataverseClient(ORG, FakeTokens(), **options),
        handler,
        lambda c: c.batch(ops, change_set=change_set, continue_on_error=continue_on_error),
        settings=ClientSettings(**settings),
    )


def recording(respond: Callable[[httpx.Request], httpx.Response]) -> tuple[Handler, list[httpx.Request]]:
    """``respond`` as a handler that also keeps every request it was given."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return respond(request)

    return handler, seen


def tasks(count: int) -> list[BatchOperation]:
    return [task(n) for n in range(count)]


def test_client_splits_into_requests_of_batch_size() -> None:
    handler, seen = recording(fake_dataverse)
    results = run_batch(handler, tasks(5), batch_size=2, change_set=False, continue_on_error=True)
    assert [r.status for r in results] == [204] * 5 and len(seen) == 3
    assert all(str(r.url) == f"{ROOT}/$batch" and r.method == "POST" for r in seen)
    assert all(r.headers["Prefer"] == "odata.continue-on-error" for r in seen)
    assert all(
        r.headers["OData-Version"] == "4.0" and r.headers["Accept"] == "application/json" for r in seen
    )


def test_client_stops_after_a_failure_without_continue_on_error() -> None:
    handler, seen = recording(lambda request: fake_dataverse(request, fail_subjects=("Task 0 in batch",)))
    results = run_batch(handler, tasks(5), batch_size=2, change_set=False, continue_on_error=False)
    assert len(seen) == 1 and "Prefer" not in seen[0].headers
    assert [r.status for r in results] == [400, 424, 424, 424, 424]
    assert "not sent" in str(results[4].error)


def test_client_change_sets_per_request() -> None:
    def change_set_server(request: httpx.Request) -> httpx.Response:
        message = parse_mime(request.headers["Content-Type"], request.content)
        (changeset,) = message.get_payload()
        ids = [p["Content-ID"] for p in changeset.get_payload()]
        inner = "".join(
            f"--cs\r\nContent-Type: application/http\r\nContent-ID: {i}\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"
            for i in ids
        )
        text = f"--br\r\nContent-Type: multipart/mixed; boundary=cs\r\n\r\n{inner}--cs--\r\n--br--\r\n"
        return httpx.Response(200, headers={"Content-Type": "multipart/mixed; boundary=br"}, text=text)

    handler, seen = recording(change_set_server)
    results = run_batch(handler, tasks(3), batch_size=2, change_set=True, continue_on_error=False)
    assert [r.content_id for r in results] == ["1", "2", "3"] and all(r.ok for r in results)
    assert len(seen) == 2


def test_client_maps_a_rejected_batch_and_a_lost_reply() -> None:
    def rejected(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            400, json={"error": {"code": "0x80048d19", "message": "Error identified in Payload"}}
        )

    with pytest.raises(ApiError) as info:
        run_batch(rejected, [task(1)], change_set=False, continue_on_error=False)
    assert info.value.code == "0x80048d19" and info.value.status == 400

    def lose(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadError("lost", request=request)

    dropped, calls = recording(lose)
    with pytest.raises(ClientTransportError) as lost:
        run_batch(dropped, [task(1)], change_set=True, continue_on_error=False)
    assert lost.value.maybe_applied is True and len(calls) == 1

    calls.clear()
    with pytest.raises(ClientTransportError):
        run_batch(
            dropped,
            [BatchOperation("GET", "tasks")],
            max_retries=2,
            change_set=False,
            continue_on_error=False,
        )
    assert len(calls) == 3  # a read-only batch is retried


@pytest.mark.parametrize("continue_on_error", [True, False])
def test_a_later_request_failing_keeps_the_earlier_results(continue_on_error: bool) -> None:
    def lose_the_second(request: httpx.Request) -> httpx.Response:
        if len(seen) == 2:  # ``seen`` already holds this request
            raise httpx.ReadError("lost", request=request)
        return fake_dataverse(request)

    handler, seen = recording(lose_the_second)
    results = run_batch(
        handler, tasks(5), batch_size=2, change_set=False, continue_on_error=continue_on_error
    )
    assert [r.status for r in results[:4]] == [204, 204, 0, 0]
    assert results[2].error is not None and "may have been applied" in str(results[2].error)
    if continue_on_error:
        assert len(seen) == 3 and results[4].ok
    else:
        assert len(seen) == 2 and results[4].status == 424 and "not sent" in str(results[4].error)
