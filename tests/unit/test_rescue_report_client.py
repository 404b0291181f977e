"""RescueReportClient against a scripted Rescue: one report per technician (nodetype NODE), every
setting re-sent before each report, one sequence at a time per account, the report interval kept,
POLLRATEEXCEEDED waited out a bounded number of times, LIMITREACHED and a lost sign-in handled."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass, field
from urllib.parse import parse_qs

import httpx
import pytest
from client_harness import mock_options
from pydantic import SecretStr

from reconciler.engine.health import report_nodes
from reconciler.errors import AuthError, ProviderError, RateLimitedError
from reconciler.providers.rescue.mapping import build_tree
from reconciler.providers.rescue.records import OddRecord
from reconciler.providers.rescue.reports import REPORT_ATTEMPTS, ReportAccount, RescueReportClient

API = "https://rescue.test/API"
INTERVAL = 0.05
BEGIN = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
END = dt.datetime(2026, 12, 7, 12, 30, tzinfo=dt.UTC)
SETTINGS = (
    "setReportArea_v8",
    "setTimezone",
    "setReportDate_v2",
    "setReportTime",
    "setOutput",
    "setDelimiter",
)


def _report(technician: str) -> str:
    return (
        'OK\n\n<report><header><field id="0">Start Time</field><field id="1">Technician Name</field>'
        '<field id="2">Technician ID</field><field id="3">Session ID</field></header><data><row>'
        f'<field id="0">12/2/2026 9:00:05 AM</field><field id="1">T{technician}</field>'
        f'<field id="2">{technician}</field><field id="3">7{technician}</field></row></data></report>\n\n'
    )


@dataclass
class FakeRescue:
    """One Rescue user's server side: its settings, its sign-ins, the company's report slot."""

    poll_refusals: int = 0  # the next N reports are refused with POLLRATEEXCEEDED
    login_reply: str = "OK\n\n"
    signed_out_replies: int = 0  # the next N setting calls answer NOTLOGGEDIN
    log: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    settings: dict[str, str] = field(default_factory=dict)
    last_report: float | None = None
    too_soon: int = 0

    def handler(self, who: str) -> object:
        def handle(request: httpx.Request) -> httpx.Response:
            method = request.url.path.rsplit("/", 1)[-1].removesuffix(".aspx")
            form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
            self.log.append((who, method, form))
            if method == "login":
                return httpx.Response(
                    200, text=self.login_reply, headers={"Set-Cookie": "ASP.NET_SessionId=c1"}
                )
            if "ASP.NET_SessionId=c1" not in request.headers.get("cookie", ""):
                return httpx.Response(200, text="NOTLOGGEDIN\n\n")
            if method in SETTINGS:
                if self.signed_out_replies:
                    self.signed_out_replies -= 1
                    return httpx.Response(200, text="NOTLOGGEDIN\n\n")
                self.settings[method] = repr(form)
                return httpx.Response(200, text="OK\n\n")
            assert method == "getReport_v2" and form["nodetype"] == "NODE"
            now = asyncio.get_running_loop().time()
            if self.poll_refusals or (self.last_report is not None and now - self.last_report < INTERVAL):
                self.poll_refusals = max(0, self.poll_refusals - 1)
                self.too_soon += 1
                return httpx.Response(200, text="POLLRATEEXCEEDED\n\n")
            self.last_report = now
            return httpx.Response(200, text=_report(form["node"]))

        return handle

    def calls(self, method: str) -> list[tuple[str, str, dict[str, str]]]:
        return [entry for entry in self.log if entry[1] == method]


def _client(rescue: FakeRescue, who: str, account: ReportAccount, email: str) -> RescueReportClient:
    options = mock_options(rescue.handler(who), tenant=who)  # type: ignore[arg-type]
    return RescueReportClient(API, email, SecretStr("pw"), account, **options)


async def _reports(
    rescue: FakeRescue,
    account: ReportAccount,
    jobs: dict[str, list[str]],
    emails: dict[str, str] | None = None,
) -> dict[str, list[str]]:
    async def one(who: str, technicians: list[str]) -> list[str]:
        email = (emails or {}).get(who, "admin@contoso.com")
        async with _client(rescue, who, account, email) as client:
            return [s.session_id for s in await client.session_report(technicians, BEGIN, END)]

    found = await asyncio.gather(*(one(who, techs) for who, techs in jobs.items()))
    return dict(zip(jobs, found, strict=True))


def test_tenants_sharing_an_account_never_interleave_and_keep_the_interval() -> None:
    rescue, account = FakeRescue(), ReportAccount(interval=INTERVAL)
    found = asyncio.run(_reports(rescue, account, {"contoso": ["41001", "41002"], "contoso-eu": ["41003"]}))
    assert found == {"contoso": ["741001", "741002"], "contoso-eu": ["741003"]}
    assert len(rescue.calls("login")) == 1  # one sign-in for the account, shared
    assert rescue.too_soon == 0  # the client waited the interval itself
    # Every report comes right after all six settings, sent by the same tenant's client.
    sequence = [entry for entry in rescue.log if entry[1] != "login"]
    assert len(sequence) == 3 * 7
    for start in range(0, len(sequence), 7):
        chunk = sequence[start : start + 7]
        assert [m for _, m, _ in chunk] == [*SETTINGS, "getReport_v2"]
        assert len({who for who, _, _ in chunk}) == 1
    area, zone, dates, times, output, delimiter = (sequence[i][2] for i in range(6))
    assert area == {"area": "0"} and zone == {"timezone": "0"} and output == {"output": "XML"}
    assert dates == {"bdate": "12/1/2026 0:00:00", "edate": "12/7/2026 12:30:00"}
    assert times == {"btime": "00:00:00", "etime": "23:59:59"} and delimiter == {"delimiter": "|"}


def test_two_users_of_one_company_sign_in_apart_and_still_take_turns() -> None:
    rescue, account = FakeRescue(), ReportAccount(interval=INTERVAL)
    emails = {"contoso": "admin@contoso.com", "contoso-eu": "Reports@Contoso.com"}
    jobs = {"contoso": ["41001"], "contoso-eu": ["41002", "41003"], "contoso-us": ["41004"]}
    asyncio.run(_reports(rescue, account, jobs, emails))
    assert [form["email"] for _, _, form in rescue.calls("login")] == [
        "admin@contoso.com",
        "Reports@Contoso.com",
    ]
    assert rescue.too_soon == 0 and len(rescue.calls("getReport_v2")) == 4
    sequence = [who for who, method, _ in rescue.log if method != "login"]
    assert all(len(set(sequence[i : i + 7])) == 1 for i in range(0, len(sequence), 7))


def test_a_poll_rate_refusal_is_waited_out_a_bounded_number_of_times() -> None:
    rescue, account = FakeRescue(poll_refusals=REPORT_ATTEMPTS - 1), ReportAccount(interval=INTERVAL)
    assert asyncio.run(_reports(rescue, account, {"contoso": ["41001"]})) == {"contoso": ["741001"]}
    reports = rescue.calls("getReport_v2")
    assert len(reports) == REPORT_ATTEMPTS and len(rescue.calls("setOutput")) == REPORT_ATTEMPTS

    rescue, account = FakeRescue(poll_refusals=99), ReportAccount(interval=INTERVAL)
    with pytest.raises(RateLimitedError, match="POLLRATEEXCEEDED"):
        asyncio.run(_reports(rescue, account, {"contoso": ["41001", "41002"]}))
    assert len(rescue.calls("getReport_v2")) == REPORT_ATTEMPTS  # never a report of the next technician


def test_limitreached_at_sign_in_is_an_error_at_once() -> None:
    rescue, account = FakeRescue(login_reply="LIMITREACHED\n\n"), ReportAccount(interval=INTERVAL)
    with pytest.raises(RateLimitedError, match="LIMITREACHED: more than 10 sign-ins"):
        asyncio.run(_reports(rescue, account, {"contoso": ["41001"]}))
    assert [m for _, m, _ in rescue.log] == ["login"]


def test_a_sign_in_that_ended_is_renewed_once() -> None:
    rescue, account = FakeRescue(signed_out_replies=1), ReportAccount(interval=INTERVAL)
    assert asyncio.run(_reports(rescue, account, {"contoso": ["41001"]})) == {"contoso": ["741001"]}
    assert len(rescue.calls("login")) == 2

    rescue, account = FakeRescue(signed_out_replies=99), ReportAccount(interval=INTERVAL)
    with pytest.raises(AuthError, match="sign-in ended again"):
        asyncio.run(_reports(rescue, account, {"contoso": ["41001"]}))
    assert len(rescue.calls("login")) == 2


def test_no_technician_means_no_request() -> None:
    rescue, account = FakeRescue(), ReportAccount(interval=INTERVAL)
    assert asyncio.run(_reports(rescue, account, {"contoso": []})) == {"contoso": []}
    assert rescue.log == []


def _block(node: str, parent: str, kind: str, name: str) -> dict[str, str]:
    return {"NODEID": node, "PARENTID": parent, "NAME": name, "TYPE": kind, "EMAIL": "", "STATUS": "Online"}


def test_the_nodes_reported_are_the_technicians_and_the_records_that_name_a_node() -> None:
    blocks = [
        _block("1", "0", "Root", "Contoso"),
        _block("2", "1", "Technicians", "Technicians"),
        _block("10", "2", "TechnicianGroup", "Support"),
        _block("11", "10", "Technician", "Alice"),
        _block("12", "10", "AdministratorLink", "Admin"),  # a link is not a person
        _block("13", "10", "Technician", "Bob"),
    ]
    odd = [OddRecord(7, "14", "a line break in its name"), OddRecord(8, "10", "a line break")]
    assert report_nodes(build_tree(blocks, odd)) == (["11", "13"], ["14"])
    with pytest.raises(
        ProviderError, match="Rescue hierarchy record #9 of the Rescue hierarchy has no readable node ID"
    ):
        report_nodes(build_tree(blocks, [*odd, OddRecord(9, None, "no NodeID line")]))
