"""HTTP methods of the session report: ``login.aspx`` and the report sequence it enables.

``login.aspx`` answers ``OK`` and sets the ``ASP.NET_SessionId`` cookie; the report settings
live on that cookie session, and ``getReport_v2`` builds the report from them. A call without a
live cookie session is ``NOTLOGGEDIN`` (an authcode alone carries no report settings: the
stricter reading, see docs/sandbox.md). Every handler takes the company, the parameters and
the cookie, and returns the reply text and the cookie to set (or None).
"""

from __future__ import annotations

from collections.abc import Callable

from rescue_sandbox.rescue.model import RescueCompany
from rescue_sandbox.rescue.sessions import (
    LoginState,
    parse_area,
    parse_output,
    parse_report_date,
    parse_report_time,
    render_report,
    report_rows,
)
from rescue_sandbox.rescue.status import RescueStatus

COOKIE = "ASP.NET_SessionId"
ReportHandler = Callable[[RescueCompany, dict[str, str], str | None], tuple[str, str | None]]


def _ok(payload: str = "") -> str:
    return f"OK\n\n{payload}\n\n" if payload else "OK\n\n"


def _login(company: RescueCompany, p: dict[str, str], cookie: str | None) -> tuple[str, str | None]:
    with company.lock:
        user = company.user_by_email(p.get("email", "")) if p.get("email") else None
        if user is None or not user.enabled or not user.password or user.password != p.get("pwd", ""):
            raise RescueStatus("INVALID")
        return _ok(), company.book.login(user, company.now())


def _setting(apply: Callable[[LoginState, dict[str, str]], None]) -> ReportHandler:
    def handler(company: RescueCompany, p: dict[str, str], cookie: str | None) -> tuple[str, str | None]:
        with company.lock:
            state = company.book.login_state(cookie, company.now())
            apply(state, p)
        return _ok(), None

    return handler


def _area(state: LoginState, p: dict[str, str]) -> None:
    state.area = parse_area(p.get("area"))


def _date(state: LoginState, p: dict[str, str]) -> None:
    begin = parse_report_date(p.get("bdate"), "INVALIDPARAM_BDATE")
    end = parse_report_date(p.get("edate"), "INVALIDPARAM_EDATE")
    if end < begin:
        raise RescueStatus("INVALIDPARAM_EDATE")
    state.begin, state.end = begin, end


def _time(state: LoginState, p: dict[str, str]) -> None:
    state.time_from = parse_report_time(p.get("btime"), "INVALIDPARAM_BTIME")
    state.time_to = parse_report_time(p.get("etime"), "INVALIDPARAM_ETIME")


def _output(state: LoginState, p: dict[str, str]) -> None:
    state.output = parse_output(p.get("output"))


def _delimiter(state: LoginState, p: dict[str, str]) -> None:
    value = p.get("delimiter", "")
    if not value or "\n" in value or "\r" in value:
        raise RescueStatus("INVALIDPARAM_DELIMITER")
    state.delimiter = value


def _get_report(company: RescueCompany, p: dict[str, str], cookie: str | None) -> tuple[str, str | None]:
    with company.lock:
        now = company.now()
        state = company.book.login_state(cookie, now)
        if (p.get("nodetype") or "NODE").strip().upper() != "NODE":
            raise RescueStatus("INVALIDPARAM_NODETYPE")  # channels and external technicians: not emulated
        node = company.node(p.get("node") or p.get("nodeid"))
        under_technicians = any(n.node_id == node.node_id for n in company.walk(company.technicians_id))
        if not under_technicians:
            raise RescueStatus("INVALIDPARAM_NODE")
        if state.area is None or state.begin is None or state.end is None:
            raise RescueStatus("ERROR")  # no report area or dates set on this sign-in
        company.book.take_report_slot(state.user_id, now)
        technicians = {n.node_id for n in company.walk(node.node_id) if n.type == "Technician"}
        rows = report_rows(company.book.sessions, technicians, state)
        return _ok(render_report(rows, state)), None


REPORT_METHODS: dict[str, ReportHandler] = {
    "login": _login,
    "setreportarea_v8": _setting(_area),
    "setreportdate_v2": _setting(_date),
    "setreporttime": _setting(_time),
    "setoutput": _setting(_output),
    "setdelimiter": _setting(_delimiter),
    "getreport_v2": _get_report,
}
