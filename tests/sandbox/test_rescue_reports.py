"""The session report over raw HTTPS, as the Rescue API reference and the singer-io client use it:
login.aspx (cookie) -> setReportArea_v8 -> setTimezone -> setReportDate_v2 -> setOutput ->
getReport_v2 on one technician (docs/sandbox.md, "Reports per technician")."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from conftest import ADMIN_PASSWORD, demo_seed_with_passwords, http_client

from rescue_sandbox import SandboxHandle, running_sandbox
from rescue_sandbox.errors import InputError
from rescue_sandbox.rescue.sessions import REPORT_INTERVAL_ENV, SESSION_TYPES

pytestmark = pytest.mark.integration

ADMIN = "rescue-admin@contoso.com"
TIER_1 = ("41001", "41002", "41003")
ODD_NAME = "Alice | Adams\nTier 1 lead"  # a delimiter and a line break in a technician's name


def _seed() -> dict[str, Any]:
    seed = demo_seed_with_passwords()
    seed["tenants"]["contoso"]["rescue"]["groups"][0]["children"][0]["technicians"][0]["name"] = ODD_NAME
    seed["tenants"]["contoso"]["rescue"]["sessions"] = [{"group": "Support/Tier 1", "count": 4}]
    return seed


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxHandle]:
    with running_sandbox(_seed(), report_interval=0) as handle:  # no wait between the tests' reports
        yield handle


def _api(handle: SandboxHandle) -> str:
    return str(handle.info["tenants"]["contoso"]["rescue_url"])


def _login(client: httpx.Client, handle: SandboxHandle) -> None:
    reply = client.post(f"{_api(handle)}/login.aspx", data={"email": ADMIN, "pwd": ADMIN_PASSWORD})
    assert reply.text == "OK\n\n" and "ASP.NET_SessionId" in client.cookies


def _setup(client: httpx.Client, handle: SandboxHandle, output: str = "XML", **extra: str) -> None:
    for method, params in (
        ("setReportArea_v8", {"area": "0"}),
        ("setTimezone", {"timezone": "0"}),
        ("setReportDate_v2", {"bdate": "1/1/2020 0:00:00", "edate": "12/31/2099 23:59:59"}),
        ("setOutput", {"output": output}),
    ):
        reply = client.post(f"{_api(handle)}/{method}.aspx", data=params | extra)
        assert reply.text == "OK\n\n", method


def _report(client: httpx.Client, handle: SandboxHandle, node: str, **params: str) -> str:
    return client.post(f"{_api(handle)}/getReport_v2.aspx", data={"node": node, **params}).text


def _xml_rows(text: str) -> list[dict[str, str]]:
    """singer-io's parse: status, blank line, XML of header fields and rows of fields."""
    status, data = text.split("\n\n", 1)
    assert status == "OK"
    root = ET.fromstring(data)
    header = {f.attrib["id"]: f.text or "" for f in root.find("header").findall("field")}  # type: ignore[union-attr]
    return [
        {header[f.attrib["id"]]: f.text or "" for f in row.findall("field")}
        for row in root.findall("./data/row")
    ]


def test_one_report_per_technician_and_only_the_documented_node_type(sandbox: SandboxHandle) -> None:
    with http_client(sandbox) as client:
        _login(client, sandbox)
        seen: list[dict[str, str]] = []
        for technician in TIER_1:
            _setup(client, sandbox)
            rows = _xml_rows(_report(client, sandbox, technician, nodetype="NODE"))
            assert rows and {r["Technician ID"] for r in rows} == {technician}
            seen.extend(rows)
        sessions = client.get("/_sandbox/tenants/contoso/rescue/sessions").json()["sessions"]
        assert sorted(r["Session ID"] for r in seen) == sorted(str(s["session_id"]) for s in sessions)
        # The XML carries the name as stored, delimiter and line break included.
        assert {r["Technician Name"] for r in seen if r["Technician ID"] == "41001"} == {ODD_NAME}
        # Sessions are of the Admin Center's types, not all one.
        assert {r["Session Type"] for r in seen} == {name for name, _ in SESSION_TYPES}
        # NODE is "Use when the node is a Technician": a group, the Technicians root, the company
        # root and an administrator are refused; the other documented types are not emulated.
        admin = client.post(f"{_api(sandbox)}/getUser_v3.aspx", data={"email": ADMIN}).text
        admin_id = admin.split("NODEID:", 1)[1].split("\n", 1)[0]
        for node in ("41100", "41110", "1", admin_id):
            assert _report(client, sandbox, node) == "INVALIDPARAM_NODE\n\n", node
        for node_type in ("CHANNEL", "EXTERNALROOT", "EXTERNALTECH", "EXTERNALGROUP", "GROUP", "node2"):
            assert _report(client, sandbox, "41001", nodetype=node_type) == "INVALIDPARAM_NODETYPE\n\n"


def test_text_output_escapes_neither_the_delimiter_nor_line_breaks(sandbox: SandboxHandle) -> None:
    with http_client(sandbox) as client:
        _login(client, sandbox)
        _setup(client, sandbox, output="TEXT")
        text = _report(client, sandbox, "41001")
        lines = text.split("\n\n", 1)[1].strip().split("\n")
        assert lines[0].startswith("Start Time|End Time|Last Action Time|Technician Name|Technician ID")
        columns = lines[0].count("|") + 1
        # Each of the 4 sessions is split over two lines, with one column too many on the first.
        assert len(lines) == 1 + 2 * 4
        assert all(line.count("|") + 1 != columns for line in lines[1:])


def test_settings_are_the_users_on_the_server_shared_by_every_sign_in(sandbox: SandboxHandle) -> None:
    authcode = str(sandbox.info["tenants"]["contoso"]["rescue_authcode"])
    with http_client(sandbox) as first, http_client(sandbox) as second:
        _login(first, sandbox)
        _login(second, sandbox)
        _setup(first, sandbox, output="XML")
        # A second job of the same user sets TEXT: the first job's next report is TEXT too.
        assert second.post(f"{_api(sandbox)}/setOutput.aspx", data={"output": "TEXT"}).text == "OK\n\n"
        assert _report(first, sandbox, "41002").split("\n\n", 1)[1].startswith("Start Time|")
        # The authcode of the account acts for the same user (authcode is optional on every report
        # page): it sees and changes the same settings, without a cookie.
        with http_client(sandbox) as bare:
            reply = bare.post(f"{_api(sandbox)}/setOutput.aspx", data={"output": "XML", "authcode": authcode})
            assert reply.text == "OK\n\n"
            assert _xml_rows(
                bare.post(
                    f"{_api(sandbox)}/getReport_v2.aspx", data={"node": "41002", "authcode": authcode}
                ).text
            )
            # With neither a cookie nor an authcode: not signed in.
            assert (
                bare.post(f"{_api(sandbox)}/setOutput.aspx", data={"output": "XML"}).text == "NOTLOGGEDIN\n\n"
            )
        # setTimezone shifts every time of the report (minutes from UTC) and is refused out of range.
        _setup(first, sandbox, output="XML")
        utc = _xml_rows(_report(first, sandbox, "41003"))
        assert first.post(f"{_api(sandbox)}/setTimezone.aspx", data={"timezone": "-300"}).text == "OK\n\n"
        shifted = _xml_rows(_report(first, sandbox, "41003"))
        assert [r["Session ID"] for r in shifted] == [r["Session ID"] for r in utc]
        assert [r["Start Time"] for r in shifted] != [r["Start Time"] for r in utc]
        for bad in ("UTC", "901", ""):
            reply = first.post(f"{_api(sandbox)}/setTimezone.aspx", data={"timezone": bad})
            assert reply.text == "INVALIDPARAM_TIMEZONE\n\n", bad


def test_get_hierarchy_accepts_the_login_cookie_as_singer_io_sends_it(sandbox: SandboxHandle) -> None:
    api = _api(sandbox)
    with http_client(sandbox) as client:
        assert client.get(f"{api}/getHierarchy_v2.aspx").text == "NOTLOGGEDIN\n\n"
        _login(client, sandbox)
        blocks = client.get(f"{api}/getHierarchy_v2.aspx").text.split("\n\n")[1:-1]
        assert any("NodeID:41001" in b for b in blocks)
        client.cookies.set("ASP.NET_SessionId", "not-a-sign-in")
        assert client.get(f"{api}/getHierarchy_v2.aspx").text == "NOTLOGGEDIN\n\n"


def test_more_than_ten_login_calls_in_three_minutes_are_refused(sandbox: SandboxHandle) -> None:
    api = str(sandbox.info["tenants"]["fabrikam"]["rescue_url"])
    good = {"email": "rescue-admin@fabrikam.com", "pwd": ADMIN_PASSWORD}
    with http_client(sandbox) as client:
        # A refused call counts too ("called more than ten times").
        assert client.post(f"{api}/login.aspx", data=good | {"pwd": "wrong"}).text == "INVALID\n\n"
        replies = [client.post(f"{api}/login.aspx", data=good).text for _ in range(10)]
        assert replies[:9] == ["OK\n\n"] * 9 and replies[9] == "LIMITREACHED\n\n"
        client.post("/_sandbox/tenants/fabrikam/rescue/clock", json={"seconds": 181})
        assert client.post(f"{api}/login.aspx", data=good).text == "OK\n\n"


def test_the_real_interval_one_report_a_minute_per_company() -> None:
    """Without the suite's setting the sandbox serves one report per 60 s, to every user of the
    company, and says so in sandbox.json."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv(REPORT_INTERVAL_ENV, raising=False)
        with running_sandbox(_seed()) as handle, http_client(handle) as client:
            assert handle.info["tenants"]["contoso"]["report_interval"] == 60.0
            authcode = str(handle.info["tenants"]["contoso"]["rescue_authcode"])
            _login(client, handle)
            _setup(client, handle)
            assert _report(client, handle, "41001").startswith("OK\n\n<report>")
            # Another technician, and the authcode's sign-in: still within the company's minute.
            assert _report(client, handle, "41002") == "POLLRATEEXCEEDED\n\n"
            refused = client.post(
                f"{_api(handle)}/getReport_v2.aspx", data={"node": "41002", "authcode": authcode}
            )
            assert refused.text == "POLLRATEEXCEEDED\n\n"
            client.post("/_sandbox/tenants/contoso/rescue/clock", json={"seconds": 59})
            assert _report(client, handle, "41002") == "POLLRATEEXCEEDED\n\n"
            client.post("/_sandbox/tenants/contoso/rescue/clock", json={"seconds": 2})
            assert _report(client, handle, "41002").startswith("OK\n\n<report>")
        patch.setenv(REPORT_INTERVAL_ENV, "soon")
        with (
            pytest.raises(InputError, match="RESCUE_SANDBOX_REPORT_INTERVAL='soon' is not a number"),
            running_sandbox(_seed()),
        ):
            pass
