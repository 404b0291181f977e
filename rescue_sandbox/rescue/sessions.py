"""Rescue sessions, the cookie sign-in reports need, and the session report itself.

Sessions are what technicians do over time; each remembers what became of the integration's
post when it ended (``delivery``), which only the sandbox controls show, as in reality nobody
sees a post that was never sent or was refused.

Reports follow the Rescue API reference (docs/sandbox.md, "Sessions and reports"): a cookie
sign-in with ``login.aspx`` holds the report settings (``setReportArea_v8``,
``setReportDate_v2``, ``setReportTime``, ``setOutput``, ``setDelimiter``) and ``getReport_v2``
generates the report from them, at most once per 60 seconds per user. Pure state and text:
the HTTP face is in ``api.py``.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any
from xml.sax.saxutils import escape

from rescue_sandbox.rescue.node import Node
from rescue_sandbox.rescue.status import RescueStatus

LOGIN_IDLE_SECONDS = 20 * 60
LOGIN_LIMIT = 10  # more than this many logins of one user in LOGIN_WINDOW -> LIMITREACHED
LOGIN_WINDOW = 3 * 60
REPORT_INTERVAL = 60.0
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


@dataclass
class LoginState:
    """A ``login.aspx`` cookie session and the report settings it holds."""

    user_id: int
    last_used: float
    area: int | None = None
    begin: dt.datetime | None = None
    end: dt.datetime | None = None
    time_from: dt.time = dt.time(0, 0, 0)
    time_to: dt.time = dt.time(23, 59, 59)
    output: str = "TEXT"
    delimiter: str = "|"


@dataclass
class SessionBook:
    """A company's sessions, sign-ins and report limits (the company's ``sessions`` attribute)."""

    sessions: list[RescueSession] = field(default_factory=list)
    next_session_id: int = 70_000_001
    logins: dict[str, LoginState] = field(default_factory=dict)
    login_times: dict[int, list[float]] = field(default_factory=dict)
    last_report: dict[int, float] = field(default_factory=dict)

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
        session = RescueSession(
            self.next_session_id, technician.node_id, technician.name, technician.parent_id, start, end
        )
        self.next_session_id += 1
        self.sessions.append(session)
        return session

    # -- sign-in ------------------------------------------------------------------------------

    def login(self, user: Node, now: float) -> str:
        recent = [t for t in self.login_times.get(user.node_id, []) if now - t < LOGIN_WINDOW]
        if len(recent) >= LOGIN_LIMIT:
            raise RescueStatus("LIMITREACHED")
        self.login_times[user.node_id] = [*recent, now]
        cookie = secrets.token_hex(12)
        self.logins[cookie] = LoginState(user.node_id, now)
        return cookie

    def login_state(self, cookie: str | None, now: float) -> LoginState:
        state = self.logins.get(cookie or "")
        if state is None or now - state.last_used > LOGIN_IDLE_SECONDS:
            self.logins.pop(cookie or "", None)
            raise RescueStatus("NOTLOGGEDIN")
        state.last_used = now
        return state

    def take_report_slot(self, user_id: int, now: float) -> None:
        if now - self.last_report.get(user_id, -1e12) < REPORT_INTERVAL:
            raise RescueStatus("POLLRATEEXCEEDED")
        self.last_report[user_id] = now


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


# -- the report ---------------------------------------------------------------------------------


def _stamp(epoch: float) -> str:
    """Rescue's report time format, e.g. ``2/16/2012 9:00:05 AM`` (UTC)."""
    t = dt.datetime.fromtimestamp(epoch, dt.UTC)
    hour = t.hour % 12 or 12
    return f"{t.month}/{t.day}/{t.year} {hour}:{t.minute:02d}:{t.second:02d} {'AM' if t.hour < 12 else 'PM'}"


def _in_window(session: RescueSession, state: LoginState) -> bool:
    assert state.begin is not None and state.end is not None
    start = dt.datetime.fromtimestamp(session.start, dt.UTC)
    return state.begin <= start <= state.end and state.time_from <= start.time() <= state.time_to


def report_rows(
    sessions: Iterable[RescueSession], technicians: set[int], state: LoginState
) -> list[list[str]]:
    rows = []
    for s in sessions:
        if s.technician_id not in technicians or not _in_window(s, state):
            continue
        values = dict.fromkeys(SESSION_REPORT_COLUMNS, "")
        values |= {
            "Start Time": _stamp(s.start),
            "End Time": _stamp(s.end),
            "Last Action Time": _stamp(s.end),
            "Technician Name": s.technician_name,
            "Technician ID": str(s.technician_id),
            "Session ID": str(s.session_id),
            "Session Type": "Applet",
            "Status": "Closed by technician",
            "Resolved Unresolved": "Resolved",
        }
        rows.append([values[c] for c in SESSION_REPORT_COLUMNS])
    return rows


def render_report(rows: list[list[str]], state: LoginState) -> str:
    """The payload after ``OK``: XML (header fields with ids, rows of fields) or delimited text."""
    if state.output == "XML":
        header = "".join(f'<field id="{i}">{escape(c)}</field>' for i, c in enumerate(SESSION_REPORT_COLUMNS))
        body = "".join(
            "<row>" + "".join(f'<field id="{i}">{escape(v)}</field>' for i, v in enumerate(row)) + "</row>"
            for row in rows
        )
        return f"<report><header>{header}</header><data>{body}</data></report>"
    # Text output does not escape its delimiter (the reason clients ask for XML).
    lines = [state.delimiter.join(SESSION_REPORT_COLUMNS), *(state.delimiter.join(r) for r in rows)]
    return "\n".join(lines)
