"""Rescue sessions, the cookie sign-in reports need, and the session report itself.

Sessions are what technicians do over time; each remembers what became of the integration's
post when it ended (``delivery``), which only the sandbox controls show, as in reality nobody
sees a post that was never sent or was refused.

Reports follow the Rescue API reference (docs/sandbox.md, "Sessions and reports" and "Reports
per technician"): the report settings (``setReportArea_v8``, ``setReportDate_v2``,
``setReportTime``, ``setTimezone``, ``setOutput``, ``setDelimiter``) are kept by the server per
user, whichever sign-in (a ``login.aspx`` cookie or an authcode) sets them, and ``getReport_v2``
generates one technician's report from them, at most once per ``report_interval`` (60 s) per
company. Pure state and text: the HTTP face is in ``reports.py`` and ``api.py``.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any
from xml.sax.saxutils import escape

from rescue_sandbox.errors import InputError
from rescue_sandbox.rescue.node import Node
from rescue_sandbox.rescue.status import RescueStatus

LOGIN_IDLE_SECONDS = 20 * 60
LOGIN_LIMIT = 10  # more than this many logins of one e-mail in LOGIN_WINDOW -> LIMITREACHED
LOGIN_WINDOW = 3 * 60
REPORT_INTERVAL = 60.0  # "You can retrieve reports every 60 seconds" (getReport_v2)
REPORT_INTERVAL_ENV = "RESCUE_SANDBOX_REPORT_INTERVAL"
SESSION_REPORT_AREA = 0
# The documented columns of the session report, in order (getReport_v2's sample output).
SESSION_REPORT_COLUMNS = (
    "Start Time",
    "End Time",
    "Last Action Time",
    "Technician Name",
    "Technician ID",
    "Session ID",
    "Session Type",
    "Status",
    "Name",
    "Custom field 1",
    "Custom field 2",
    "Custom field 3",
    "Custom field 4",
    "Custom field 5",
    "Tracking ID",
    "Customer IP",
    "Device ID",
    "Incident Tools Used",
    "Resolved Unresolved",
    "Channel ID",
    "Channel Name",
    "Calling Card",
    "Connecting Time",
    "Waiting Time",
)


# What a session was, in the words of the Rescue Administration Center (docs/sandbox.md,
# "Session types"): the standard applet, Instant Chat, a Calling Card, Rescue+Mobile, unattended
# access. Weighted as a help desk's mix; chosen from the session ID, so a seed always makes the same.
SESSION_TYPES = (
    ("Applet", 5),
    ("Instant Chat", 2),
    ("Calling Card", 2),
    ("Mobile", 2),
    ("Unattended", 1),
)
_TYPE_CYCLE = tuple(name for name, weight in SESSION_TYPES for _ in range(weight))
# How a session ended (the Technician Console's statuses), in turn.
SESSION_ENDINGS = ("Closed by technician", "Closed by customer", "Closed by technician", "Timed out")


def report_interval_from_env() -> float:
    """Seconds between two reports of one company: ``RESCUE_SANDBOX_REPORT_INTERVAL`` when set
    (tests and benchmarks, which would otherwise wait a minute per report), else the real 60."""
    raw = os.environ.get(REPORT_INTERVAL_ENV, "").strip()
    if not raw:
        return REPORT_INTERVAL
    try:
        value = float(raw)
    except ValueError:
        raise InputError(f"{REPORT_INTERVAL_ENV}={raw!r} is not a number of seconds") from None
    if not 0 <= value <= 3600:
        raise InputError(f"{REPORT_INTERVAL_ENV}={raw!r} must be between 0 and 3600 seconds")
    return value


@dataclass
class RescueSession:
    """One ended support session of a technician (times are epoch seconds, UTC)."""

    session_id: int
    technician_id: int
    technician_name: str
    group_id: int
    start: float
    end: float
    delivery: str = ""  # what the integration's post became: "delivered" or why nothing arrived
    session_type: str = "Applet"
    status: str = "Closed by technician"


@dataclass
class ReportSettings:
    """The report settings of one user, kept by the server between calls and sign-ins: every
    sign-in and authcode of that user shares them, so two jobs of one user overwrite each other."""

    area: int | None = None
    begin: dt.datetime | None = None  # in the user's report time zone, as set
    end: dt.datetime | None = None
    time_from: dt.time = dt.time(0, 0, 0)
    time_to: dt.time = dt.time(23, 59, 59)
    output: str = "TEXT"
    delimiter: str = "|"
    timezone_minutes: int = 0  # setTimezone: minutes east of UTC the report is written in


@dataclass
class LoginState:
    """A ``login.aspx`` cookie session: whose it is, when it was last used, and the code that
    lets the other methods accept the cookie in place of an authcode (never shown to a client)."""

    user_id: int
    last_used: float
    code: str


@dataclass
class SessionBook:
    """A company's sessions, sign-ins, report settings and limits (the company's ``book``)."""

    sessions: list[RescueSession] = field(default_factory=list)
    next_session_id: int = 70_000_001
    logins: dict[str, LoginState] = field(default_factory=dict)
    login_times: dict[str, list[float]] = field(default_factory=dict)  # by e-mail, every call
    settings: dict[int, ReportSettings] = field(default_factory=dict)  # by user node ID
    report_interval: float = field(default_factory=report_interval_from_env)
    last_report: float | None = None  # the company's last report (the limit's scope, unverified)

    def snapshot(self) -> dict[str, Any]:
        return {"sessions": [asdict(s) for s in self.sessions], "next_session_id": self.next_session_id}

    @classmethod
    def restore(cls, data: Mapping[str, Any] | None) -> SessionBook:
        data = data or {}
        return cls(
            sessions=[RescueSession(**s) for s in data.get("sessions", [])],
            next_session_id=int(data.get("next_session_id", 70_000_001)),
        )

    def add(self, technician: Node, start: float, end: float) -> RescueSession:
        session_id = self.next_session_id
        session = RescueSession(
            session_id,
            technician.node_id,
            technician.name,
            technician.parent_id,
            start,
            end,
            session_type=_TYPE_CYCLE[session_id % len(_TYPE_CYCLE)],
            status=SESSION_ENDINGS[(session_id // len(_TYPE_CYCLE)) % len(SESSION_ENDINGS)],
        )
        self.next_session_id += 1
        self.sessions.append(session)
        return session

    # -- sign-in ------------------------------------------------------------------------------

    def count_login(self, email: str, now: float) -> None:
        """Every ``login.aspx`` call of an e-mail counts, refused ones too (the stricter reading
        of "called more than ten times in three minutes")."""
        key = email.strip().casefold()
        recent = [t for t in self.login_times.get(key, []) if now - t < LOGIN_WINDOW]
        self.login_times[key] = [*recent, now]
        if len(recent) >= LOGIN_LIMIT:
            raise RescueStatus("LIMITREACHED")

    def login(self, user: Node, now: float) -> str:
        cookie = secrets.token_hex(12)
        self.logins[cookie] = LoginState(user.node_id, now, "login:" + secrets.token_hex(16))
        return cookie

    def login_state(self, cookie: str | None, now: float) -> LoginState:
        state = self.logins.get(cookie or "")
        if state is None or now - state.last_used > LOGIN_IDLE_SECONDS:
            self.logins.pop(cookie or "", None)
            raise RescueStatus("NOTLOGGEDIN")
        state.last_used = now
        return state

    def signed_in_user(self, code: str) -> int | None:
        """The user of a live sign-in's internal code (see ``LoginState.code``)."""
        return next((s.user_id for s in self.logins.values() if s.code == code), None)

    def settings_of(self, user_id: int) -> ReportSettings:
        return self.settings.setdefault(user_id, ReportSettings())

    def take_report_slot(self, now: float) -> None:
        if self.last_report is not None and now - self.last_report < self.report_interval:
            raise RescueStatus("POLLRATEEXCEEDED")
        self.last_report = now


# -- report settings ----------------------------------------------------------------------------


def parse_report_date(raw: str | None, token: str) -> dt.datetime:
    """``M/D/YYYY H:MM:SS`` (the time may be left out), as setReportDate_v2 takes it."""
    text = (raw or "").strip()
    for fmt in ("%m/%d/%Y %H:%M:%S", "%m/%d/%Y"):
        try:
            return dt.datetime.strptime(text, fmt).replace(tzinfo=dt.UTC)
        except ValueError:
            continue
    raise RescueStatus(token)


def parse_report_time(raw: str | None, token: str) -> dt.time:
    try:
        return dt.datetime.strptime((raw or "").strip(), "%H:%M:%S").time()
    except ValueError:
        raise RescueStatus(token) from None


def parse_area(raw: str | None) -> int:
    if (raw or "").strip() != str(SESSION_REPORT_AREA):
        # Only the session report is emulated; any other area is refused, never faked.
        raise RescueStatus("INVALIDPARAM_AREA")
    return SESSION_REPORT_AREA


def parse_output(raw: str | None) -> str:
    value = (raw or "").strip().upper()
    if value not in ("TEXT", "XML"):
        raise RescueStatus("INVALIDPARAM_OUTPUT")
    return value


def parse_timezone(raw: str | None) -> int:
    """setTimezone's ``timezone``: minutes from UTC (``0``, ``-300``), within the world's offsets."""
    text = (raw or "").strip()
    try:
        minutes = int(text)
    except ValueError:
        raise RescueStatus("INVALIDPARAM_TIMEZONE") from None
    if not -12 * 60 <= minutes <= 14 * 60:
        raise RescueStatus("INVALIDPARAM_TIMEZONE")
    return minutes


# -- the report ---------------------------------------------------------------------------------


def _local(epoch: float, settings: ReportSettings) -> dt.datetime:
    """A moment as the report shows it: in the user's report time zone (labelled UTC, as the
    window set with setReportDate_v2 is a wall-clock time of that zone too)."""
    return dt.datetime.fromtimestamp(epoch, dt.UTC) + dt.timedelta(minutes=settings.timezone_minutes)


def _stamp(epoch: float, settings: ReportSettings) -> str:
    """Rescue's report time format, e.g. ``2/16/2012 9:00:05 AM``, in the report time zone."""
    t = _local(epoch, settings)
    hour = t.hour % 12 or 12
    return f"{t.month}/{t.day}/{t.year} {hour}:{t.minute:02d}:{t.second:02d} {'AM' if t.hour < 12 else 'PM'}"


def _in_window(session: RescueSession, settings: ReportSettings) -> bool:
    assert settings.begin is not None and settings.end is not None
    start = _local(session.start, settings).replace(microsecond=0)  # the parameters' granularity
    return settings.begin <= start <= settings.end and settings.time_from <= start.time() <= settings.time_to


def report_rows(
    sessions: Iterable[RescueSession], technician_id: int, settings: ReportSettings
) -> list[list[str]]:
    """The rows of one technician's session report over the user's window."""
    rows = []
    for s in sessions:
        if s.technician_id != technician_id or not _in_window(s, settings):
            continue
        values = dict.fromkeys(SESSION_REPORT_COLUMNS, "")
        values |= {
            "Start Time": _stamp(s.start, settings),
            "End Time": _stamp(s.end, settings),
            "Last Action Time": _stamp(s.end, settings),
            "Technician Name": s.technician_name,
            "Technician ID": str(s.technician_id),
            "Session ID": str(s.session_id),
            "Session Type": s.session_type,
            "Status": s.status,
            "Resolved Unresolved": "Unresolved" if s.status == "Timed out" else "Resolved",
            "Calling Card": "Yes" if s.session_type == "Calling Card" else "",
        }
        rows.append([values[c] for c in SESSION_REPORT_COLUMNS])
    return rows


def render_report(rows: list[list[str]], settings: ReportSettings) -> str:
    """The payload after ``OK``: XML (header fields with ids, rows of fields) or delimited text."""
    if settings.output == "XML":
        header = "".join(f'<field id="{i}">{escape(c)}</field>' for i, c in enumerate(SESSION_REPORT_COLUMNS))
        body = "".join(
            "<row>" + "".join(f'<field id="{i}">{escape(v)}</field>' for i, v in enumerate(row)) + "</row>"
            for row in rows
        )
        return f"<report><header>{header}</header><data>{body}</data></report>"
    # Text output escapes neither its delimiter nor line breaks (the reason clients ask for XML).
    delimiter = settings.delimiter
    lines = [delimiter.join(SESSION_REPORT_COLUMNS), *(delimiter.join(r) for r in rows)]
    return "\n".join(lines)
