"""Raw-HTTP conformance of ``$batch``: framing, change sets, Content-ID references, atomic
rollback, ``Prefer: odata.continue-on-error`` and the limits (Microsoft's batch page examples)."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest
from dataverse_harness import HOST, install_org

from rescue_sandbox.dataverse import DataverseOrg
from rescue_sandbox.dataverse.standalone import StandaloneServer

pytestmark = pytest.mark.integration

SEED: dict[str, Any] = {
    "org_url": f"https://{HOST}",
    "business_units": [{"name": "contoso"}],
    "roles": ["LogMeIn Integration User"],
    "users": [{"domainname": "alice@contoso.com", "firstname": "Alice", "lastname": "Adams"}],
}
STATUS_LINE = re.compile(r"^HTTP/1\.1 (\d{3}) ", re.MULTILINE)


@pytest.fixture
def org(server: StandaloneServer) -> DataverseOrg:
    return install_org(server, SEED)


@pytest.fixture
def api_headers() -> dict[str, str]:
    return {"OData-Version": "4.0"}


def request_part(
    method: str, url: str, body: dict[str, Any] | None = None, content_id: str | None = None
) -> str:
    head = "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
    if content_id:
        head += f"Content-ID: {content_id}\r\n"
    text = f"{head}\r\n{method} {url} HTTP/1.1\r\n"
    if body is not None:
        text += f"Content-Type: application/json; type=entry\r\n\r\n{json.dumps(body)}\r\n"
    else:
        text += "\r\n"
    return text


def changeset(boundary: str, parts: list[str]) -> str:
    inner = "".join(f"--{boundary}\r\n{p}" for p in parts) + f"--{boundary}--\r\n"
    return f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n{inner}'


def batch_body(boundary: str, items: list[str]) -> bytes:
    return ("".join(f"--{boundary}\r\n{i}" for i in items) + f"--{boundary}--\r\n").encode()


def post_batch(api: httpx.Client, items: list[str], prefer: str | None = None) -> httpx.Response:
    headers = {"Content-Type": 'multipart/mixed; boundary="batch_AAA123"'}
    if prefer:
        headers["Prefer"] = prefer
    return api.post("$batch", content=batch_body("batch_AAA123", items), headers=headers)


def settings_body(sso: str) -> dict[str, Any]:
    return {"lmi_ssoid": sso}


def test_batch_of_independent_requests_framing(api: httpx.Client, org: DataverseOrg) -> None:
    response = post_batch(
        api,
        [
            request_part("POST", "/api/data/v9.2/lmi_logmeinsettingses", settings_body("one")),
            request_part("POST", "lmi_logmeinsettingses", settings_body("two")),
            request_part("GET", "/api/data/v9.2/lmi_logmeinsettingses?$select=lmi_ssoid"),
        ],
    )
    assert response.status_code == 200
    boundary = response.headers["Content-Type"].split("boundary=")[1]
    assert boundary.startswith("batchresponse_")
    text = response.text
    assert text.rstrip().endswith(f"--{boundary}--")
    assert (
        text.count(f"--{boundary}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary")
        == 3
    )
    assert STATUS_LINE.findall(text) == ["204", "204", "200"]
    assert text.count("OData-EntityId: https://") == 2
    listing = json.loads(text[text.index("{") : text.rindex("}") + 1])
    assert sorted(r["lmi_ssoid"] for r in listing["value"]) == ["one", "two"]


def test_change_set_with_content_id_references(api: httpx.Client, org: DataverseOrg) -> None:
    bu = org.rows("businessunit")[0]["businessunitid"]
    role = org.rows("role")[0]["roleid"]
    cs = changeset(
        "changeset_BBB456",
        [
            request_part(
                "POST",
                "systemusers",
                {"firstname": "Zed", "businessunitid@odata.bind": f"/businessunits({bu})"},
                "1",
            ),
            request_part(
                "POST", "lmi_logmeinsettingses", {"lmi_UserId@odata.bind": "$1", "lmi_ssoid": "zed"}, "2"
            ),
            request_part("POST", "$1/systemuserroles_association/$ref", {"@odata.id": f"roles({role})"}, "3"),
            request_part("PATCH", "$2", {"lmi_technicianid": "42"}, "4"),
        ],
    )
    response = post_batch(api, [cs])
    assert response.status_code == 200, response.text
    text = response.text
    assert "Content-Type: multipart/mixed; boundary=changesetresponse_" in text
    assert re.findall(r"Content-ID: (\d)", text) == ["1", "2", "3", "4"]
    assert STATUS_LINE.findall(text) == ["204"] * 4
    zed = org.find("systemuser", "firstname", "Zed")[0]
    [settings] = org.find("lmi_logmeinsettings", "lmi_ssoid", "zed")
    assert settings["_lmi_userid_value"] == zed["systemuserid"] and settings["lmi_technicianid"] == "42"
    assert org.related_ids("systemuserroles_association", "systemuser", zed["systemuserid"]) == [role]


def test_failed_change_set_rolls_back_every_operation(api: httpx.Client, org: DataverseOrg) -> None:
    before = len(org.rows("lmi_logmeinsettings"))
    cs = changeset(
        "changeset_CCC",
        [
            request_part("POST", "lmi_logmeinsettingses", settings_body("kept?"), "1"),
            request_part("PATCH", "$1", {"lmi_technicianid": "7"}, "2"),
            request_part("POST", "lmi_logmeinsettingses", {"nosuch": 1}, "3"),
        ],
    )
    response = post_batch(api, [cs, request_part("POST", "lmi_logmeinsettingses", settings_body("after"))])
    assert response.status_code == 400
    text = response.text
    assert STATUS_LINE.findall(text) == ["400"], "a failed change set is answered by one error part"
    assert "0x80048d19" in text and "changesetresponse_" not in text
    assert len(org.rows("lmi_logmeinsettings")) == before, (
        "nothing of the change set remains, nothing after ran"
    )


def test_continue_on_error_runs_every_part(api: httpx.Client, org: DataverseOrg) -> None:
    response = post_batch(
        api,
        [
            request_part("POST", "lmi_logmeinsettingses", {"lmi_ssoid": "x" * 500}),
            request_part("POST", "lmi_logmeinsettingses", settings_body("two")),
            request_part("POST", "lmi_logmeinsettingses", settings_body("three")),
        ],
        prefer="odata.continue-on-error",
    )
    assert response.status_code == 200
    assert STATUS_LINE.findall(response.text) == ["400", "204", "204"]
    assert '"code": "0x80044331"' in response.text
    assert sorted(r["lmi_ssoid"] for r in org.rows("lmi_logmeinsettings")) == ["three", "two"]


def test_first_failure_stops_the_batch_without_continue_on_error(
    api: httpx.Client, org: DataverseOrg
) -> None:
    response = post_batch(
        api,
        [
            request_part("POST", "lmi_logmeinsettingses", settings_body("one")),
            request_part("GET", "nosuchset"),
            request_part("POST", "lmi_logmeinsettingses", settings_body("three")),
        ],
    )
    assert response.status_code == 400
    assert STATUS_LINE.findall(response.text) == ["204", "404"]
    assert [r["lmi_ssoid"] for r in org.rows("lmi_logmeinsettings")] == ["one"]


def test_unknown_content_id_reference_is_400(api: httpx.Client, org: DataverseOrg) -> None:
    cs = changeset(
        "changeset_DDD",
        [request_part("POST", "lmi_logmeinsettingses", {"lmi_UserId@odata.bind": "$9"}, "1")],
    )
    response = post_batch(api, [cs])
    assert response.status_code == 400
    assert "Content-ID Reference: '$9' does not exist in the batch context." in response.text


@pytest.mark.parametrize(
    "items, fragment",
    [
        ([changeset("changeset_E", [request_part("GET", "systemusers")])], "GET requests are not allowed"),
        ([request_part("POST", "$batch", {})], "cannot contain other batch requests"),
        ([request_part("GET", "systemusers")] * 1001, "exceeded the limit of 1000"),
    ],
)
def test_batch_structure_is_checked_before_anything_runs(
    api: httpx.Client, items: list[str], fragment: str
) -> None:
    response = post_batch(api, items)
    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("application/json")
    assert fragment in response.json()["error"]["message"]


def test_batch_of_1000_is_accepted(api: httpx.Client) -> None:
    response = post_batch(api, [request_part("GET", "systemusers?$select=fullname&$top=1")] * 1000)
    assert response.status_code == 200
    assert len(STATUS_LINE.findall(response.text)) == 1000


def test_batch_needs_multipart_content_type(api: httpx.Client) -> None:
    response = api.post("$batch", content=b"{}", headers={"Content-Type": "application/json"})
    assert response.status_code == 400


def test_unterminated_batch_is_400(api: httpx.Client) -> None:
    body = b"--batch_X\r\n" + request_part("GET", "systemusers").encode()
    response = api.post("$batch", content=body, headers={"Content-Type": "multipart/mixed; boundary=batch_X"})
    assert response.status_code == 400 and "terminated" in response.json()["error"]["message"]
