"""The session report over raw HTTPS, as the Rescue API reference and the singer-io client use it:
login.aspx (cookie) -> setReportArea_v8 -> setReportDate_v2 -> setOutput -> getReport_v2."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator

import httpx
import pytest
from conftest import ADMIN_PASSWORD, demo_seed_with_passwords, http_client

from rescue_sandbox import SandboxHandle, running_sandbox

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxHandle]:
    seed = demo_seed_with_passwords()
    seed["tenants"]["contoso"]["rescue"]["sessions"] = [{"group": "Support/Tier 1", "count": 2}]
    with running_sandbox(seed) as handle:
        yield handle


def _api(handle: SandboxHandle) -> str:
    return str(handle.info["tenants"]["contoso"]["rescue_url"])


def _login(client: httpx.Client, handle: SandboxHandle) -> None:
    reply = client.post(
        f"{_api(handle)}/login.aspx", data={"email": "rescue-admin@contoso.com", "pwd": ADMIN_PASSWORD}
    )
    assert reply.text == "OK\n\n" and "ASP.NET_SessionId" in client.cookies


def _setup(client: httpx.Client, handle: SandboxHandle, output: str = "XML") -> None:
    for method, params in (
        ("setReportArea_v8", {"area": "0"}),
        ("setReportDate_v2", {"bdate": "1/1/2020 0:00:00", "edate": "12/31/2099 23:59:59"}),
        ("setOutput", {"output": output}),
    ):
        assert client.post(f"{_api(handle)}/{method}.aspx", data=params).text == "OK\n\n", method


def _advance(client: httpx.Client, seconds: int = 61) -> None:
    assert client.post("/_sandbox/tenants/contoso/rescue/clock", json={"seconds": seconds}).status_code == 200


def test_the_xml_report_survives_the_singer_io_parse_and_lists_every_session(sandbox: SandboxHandle) -> None:
    with http_client(sandbox) as client:
        _login(client, sandbox)
        _setup(client, sandbox)
        tree = client.get(f"{_api(sandbox)}/getReport_v2.aspx", params={"node": "41100", "nodetype": "NODE"})
        status, data = tree.text.split("\n\n", 1)
        assert status == "OK"
        root = ET.fromstring(data)
        header = {f.attrib["id"]: f.text for f in root.find("header").findall("field")}  # type: ignore[union-attr]
        rows = [
            {header[f.attrib["id"]]: f.text for f in row.findall("field")}
            for row in root.findall("./data/row")
        ]
        sessions = client.get("/_sandbox/tenants/contoso/rescue/sessions").json()["sessions"]
        assert sorted(str(r["Session ID"]) for r in rows) == sorted(str(s["session_id"]) for s in sessions)
        assert {r["Technician ID"] for r in rows} == {"41001", "41002", "41003"}
        # A second report within 60 seconds is refused; after a minute it is served again.
        again = client.get(f"{_api(sandbox)}/getReport_v2.aspx", params={"node": "41100"})
        assert again.text == "POLLRATEEXCEEDED\n\n"
        _advance(client)
        assert client.get(f"{_api(sandbox)}/getReport_v2.aspx", params={"node": "41100"}).text.startswith(
            "OK\n\n<report>"
        )


def test_text_output_and_the_rules_of_the_sequence(sandbox: SandboxHandle) -> None:
    with http_client(sandbox) as client:
        api = _api(sandbox)
        # No cookie session: an authcode alone carries no report settings.
        authcode = sandbox.info["tenants"]["contoso"]["rescue_authcode"]
        assert (
            client.post(f"{api}/setReportArea_v8.aspx", data={"area": "0", "authcode": authcode}).text
            == "NOTLOGGEDIN\n\n"
        )
        assert (
            client.post(f"{api}/login.aspx", data={"email": "rescue-admin@contoso.com", "pwd": "x"}).text
            == "INVALID\n\n"
        )
        _login(client, sandbox)
        assert (
            client.post(f"{api}/getReport_v2.aspx", data={"node": "41100"}).text == "ERROR\n\n"
        )  # nothing set
        assert (
            client.post(f"{api}/setReportArea_v8.aspx", data={"area": "99"}).text == "INVALIDPARAM_AREA\n\n"
        )
        bad_date = client.post(
            f"{api}/setReportDate_v2.aspx", data={"bdate": "2020-01-01", "edate": "1/2/2020"}
        )
        assert bad_date.text == "INVALIDPARAM_BDATE\n\n"
        assert client.post(f"{api}/setOutput.aspx", data={"output": "CSV"}).text == "INVALIDPARAM_OUTPUT\n\n"
        _setup(client, sandbox, output="TEXT")
        _advance(client)
        text = client.post(f"{api}/getReport_v2.aspx", data={"node": "41001"}).text
        lines = text.split("\n\n", 1)[1].strip().split("\n")
        assert lines[0].startswith(
            "Start Time|End Time|Last Action Time|Technician Name|Technician ID|Session ID"
        )
        assert len(lines) == 1 + 2 and all("|41001|" in line for line in lines[1:])
        # A node outside the Technicians tree is refused.
        _advance(client)
        assert client.post(f"{api}/getReport_v2.aspx", data={"node": "1"}).text == "INVALIDPARAM_NODE\n\n"


def test_more_than_ten_logins_in_three_minutes_are_refused(sandbox: SandboxHandle) -> None:
    api = str(sandbox.info["tenants"]["fabrikam"]["rescue_url"])
    form = {"email": "rescue-admin@fabrikam.com", "pwd": ADMIN_PASSWORD}
    with http_client(sandbox) as client:
        replies = [client.post(f"{api}/login.aspx", data=form).text for _ in range(11)]
    assert replies[:10] == ["OK\n\n"] * 10 and replies[10] == "LIMITREACHED\n\n"
