"""HTTP methods of the session report: ``login.aspx`` and the report sequence.

``login.aspx`` answers ``OK`` and sets the ``ASP.NET_SessionId`` cookie (more than ten calls for
one e-mail in three minutes: ``LIMITREACHED``). The report methods act for the user of the cookie
or of the ``authcode`` (every report page lists ``authcode`` as an alternative to signing in);
the settings are that user's, kept by the server (``sessions.ReportSettings``). ``getReport_v2``
takes only the node types its page documents, and for ``NODE`` only a technician. Every handler
takes the company, the parameters and the cookie, and returns the reply text and the cookie to set
(or None). The other API methods accept the cookie through :func:`cookie_authcode`.
"""

from __future__ import annotations

from collections.abc import Callable

from rescue_sandbox.rescue.model import RescueCompany
from rescue_sandbox.rescue.sessions import (
    ReportSettings,
    parse_area,
    parse_output,
    parse_report_date,
    parse_report_time,
    parse_timezone,
    render_report,
    report_rows,
)
from rescue_sandbox.rescue.status import RescueStatus

COOKIE = "ASP.NET_SessionId"
ReportHandler = Callable[[RescueCompany, dict[str, str], str | None], tuple[str, str | None]]
# getReport_v2's documented node types; the sandbox has no channels' or external technicians'
# sessions, so it refuses those types rather than answer an empty report for them.
NODE_TYPES = ("NODE", "CHANNEL", "EXTERNALROOT", "EXTERNALTECH", "EXTERNALGROUP")
EMULATED_NODE_TYPES = ("NODE",)


def _ok(payload: str = "") -> str:
    return f"OK\n\n{payload}\n\n" if payload else "OK\n\n"


def _login(company: RescueCompany, p: dict[str, str], cookie: str | None) -> tuple[str, str | None]:
    with company.lock:
        email = p.get("email", "")
        company.book.count_login(email, company.now())
        user = company.user_by_email(email) if email else None
        if user is None or not user.enabled or not user.password or user.password != p.get("pwd", ""):
            raise RescueStatus("INVALID")
        return _ok(), company.book.login(user, company.now())


def _user_id(company: RescueCompany, p: dict[str, str], cookie: str | None) -> int:
    """Whose report settings a call reads or changes: the authcode's user, else the cookie's."""
    if p.get("authcode"):
        return company.authenticate(p["authcode"]).node_id
    return company.book.login_state(cookie, company.now()).user_id


def cookie_authcode(company: RescueCompany, cookie: str | None) -> str | None:
    """The internal code that lets a method other than the report's act for the cookie's user
    (each page lists ``authcode`` as optional: a signed-in caller needs none), or None."""
    if not cookie:
        return None
    with company.lock:
        try:
            return company.book.login_state(cookie, company.now()).code
        except RescueStatus:
            return None  # no live sign-in: the method answers NOTLOGGEDIN itself


def _setting(apply: Callable[[ReportSettings, dict[str, str]], None]) -> ReportHandler:
    def handler(company: RescueCompany, p: dict[str, str], cookie: str | None) -> tuple[str, str | None]:
        with company.lock:
            apply(company.book.settings_of(_user_id(company, p, cookie)), p)
        return _ok(), None

    return handler


def _area(settings: ReportSettings, p: dict[str, str]) -> None:
    settings.area = parse_area(p.get("area"))


def _date(settings: ReportSettings, p: dict[str, str]) -> None:
    begin = parse_report_date(p.get("bdate"), "INVALIDPARAM_BDATE")
    end = parse_report_date(p.get("edate"), "INVALIDPARAM_EDATE")
    if end < begin:
        raise RescueStatus("INVALIDPARAM_EDATE")
    settings.begin, settings.end = begin, end


def _time(settings: ReportSettings, p: dict[str, str]) -> None:
    settings.time_from = parse_report_time(p.get("btime"), "INVALIDPARAM_BTIME")
    settings.time_to = parse_report_time(p.get("etime"), "INVALIDPARAM_ETIME")


def _timezone(settings: ReportSettings, p: dict[str, str]) -> None:
    settings.timezone_minutes = parse_timezone(p.get("timezone"))


def _output(settings: ReportSettings, p: dict[str, str]) -> None:
    settings.output = parse_output(p.get("output"))


def _delimiter(settings: ReportSettings, p: dict[str, str]) -> None:
    value = p.get("delimiter", "")
    if not value or "\n" in value or "\r" in value:
        raise RescueStatus("INVALIDPARAM_DELIMITER")
    settings.delimiter = value


def _get_report(company: RescueCompany, p: dict[str, str], cookie: str | None) -> tuple[str, str | None]:
    with company.lock:
        now = company.now()
        settings = company.book.settings_of(_user_id(company, p, cookie))
        node_type = (p.get("nodetype") or "NODE").strip().upper()
        if node_type not in NODE_TYPES or node_type not in EMULATED_NODE_TYPES:
            raise RescueStatus("INVALIDPARAM_NODETYPE")
        node = company.node(p.get("node") or p.get("nodeid"))
        if node.type != "Technician":
            # NODE is documented "Use when the node is a Technician": a group, a root or an
            # administrator is not one.
            raise RescueStatus("INVALIDPARAM_NODE")
        if settings.area is None or settings.begin is None or settings.end is None:
            raise RescueStatus("ERROR")  # no report area or dates set for this user
        company.book.take_report_slot(now)
        rows = report_rows(company.book.sessions, node.node_id, settings)
        return _ok(render_report(rows, settings)), None


REPORT_METHODS: dict[str, ReportHandler] = {
    "login": _login,
    "setreportarea_v8": _setting(_area),
    "setreportdate_v2": _setting(_date),
    "setreporttime": _setting(_time),
    "settimezone": _setting(_timezone),
    "setoutput": _setting(_output),
    "setdelimiter": _setting(_delimiter),
    "getreport_v2": _get_report,
}
