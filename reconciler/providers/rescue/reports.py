"""Rescue session reports: one cookie sign-in per account, then one report per technician.

``getReport_v2`` documents ``nodetype=NODE`` for "a Technician" only (a group or the Technicians
root is not one), so the session report of a tree is one report per technician node. Rescue
keeps the report settings on the server per user, and serves one report per 60 seconds, so:

- every report is preceded by every setting (``setReportArea_v8`` 0, the session report;
  ``setTimezone`` 0, UTC; ``setReportDate_v2`` the window as ``M/D/YYYY H:MM:SS``;
  ``setReportTime`` the whole day; ``setOutput`` XML, as the text output escapes neither its
  delimiter nor line breaks; ``setDelimiter``): another job of the same user may have changed any;
- the report sequences of one Rescue account are serialised within a run (a ``ReportAccount``
  shared by the tenants that use it: its lock, one cookie sign-in per user, its last report),
  and its reports are spaced by the interval;
- ``POLLRATEEXCEEDED`` (another job took the slot) is waited out, a bounded number of times;
  ``LIMITREACHED`` (more than ten sign-ins in three minutes) is not: either is an error that
  makes health Unknown, never a verdict on a partial report.

``requestAuthCode`` is never called: a new authcode ends the one every other integration of the
account uses (``tests/unit/test_no_authcode_request.py``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from typing import Unpack
from urllib.parse import urlencode

import httpx
from pydantic import SecretStr

from reconciler.errors import ApiError, AuthError, ProtocolError, RateLimitedError
from reconciler.plan.health import ObservedSession
from reconciler.providers.base import ApiClient, ClientOptions
from reconciler.providers.http import require_https
from reconciler.providers.rescue.client import require_http_ok

log = logging.getLogger(__name__)

SERVICE = "rescue"
SESSION_REPORT_AREA = "0"
REPORT_INTERVAL = 60.0  # getReport_v2: "You can retrieve reports every 60 seconds."
REPORT_ATTEMPTS = 3  # a report refused with POLLRATEEXCEEDED is tried again twice, an interval apart
_WHOLE_DAY = {"btime": "00:00:00", "etime": "23:59:59"}
_REQUIRED_COLUMNS = ("Session ID", "Technician ID", "Technician Name", "Start Time")


def report_date(value: dt.datetime) -> str:
    """``M/D/YYYY H:MM:SS`` in UTC, as setReportDate_v2 takes it."""
    t = value.astimezone(dt.UTC)
    return f"{t.month}/{t.day}/{t.year} {t.hour}:{t.minute:02d}:{t.second:02d}"


_TIME = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4}) (\d{1,2}):(\d{2})(?::(\d{2}))?(?: ([AP]M))?$")


def parse_report_time(text: str | None) -> dt.datetime | None:
    """``2/16/2012 9:00:05 AM`` (or 24-hour, or without seconds) as UTC; None when empty."""
    value = (text or "").strip()
    if not value:
        return None
    match = _TIME.match(value.upper())
    if match:  # the common shape, without strptime's cost (a report has thousands of rows)
        month, day, year, hour, minute, second, half = match.groups()
        h = int(hour)
        if half is not None and 1 <= h <= 12:
            h = h % 12 + (12 if half == "PM" else 0)
        try:
            return dt.datetime(
                int(year), int(month), int(day), h, int(minute), int(second or 0), tzinfo=dt.UTC
            )
        except ValueError:
            pass
    for fmt in ("%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %I:%M %p", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M"):
        try:
            return dt.datetime.strptime(value, fmt).replace(tzinfo=dt.UTC)
        except ValueError:
            continue
    raise ProtocolError(f"getReport_v2: unreadable time {value[:40]!r}", service=SERVICE)


def parse_session_report(payload: str) -> list[ObservedSession]:
    """The XML payload of getReport_v2 (after ``OK``): header fields by id, rows of fields."""
    if "<!DOCTYPE" in payload.upper() or "<!ENTITY" in payload.upper():
        raise ProtocolError("getReport_v2: the report declares a DTD (refused)", service=SERVICE)
    try:
        root = ET.fromstring(payload.strip())
    except ET.ParseError as exc:
        raise ProtocolError(f"getReport_v2: the report is not XML ({exc})", service=SERVICE) from exc
    header = root.find("header")
    if header is None:
        raise ProtocolError("getReport_v2: the report has no header", service=SERVICE)
    names = {f.attrib.get("id", ""): (f.text or "").strip() for f in header.findall("field")}
    missing = [c for c in _REQUIRED_COLUMNS if c not in names.values()]
    if missing:
        raise ProtocolError(f"getReport_v2: the report lacks {', '.join(missing)}", service=SERVICE)
    sessions = []
    for row in root.findall("./data/row"):
        values = {names.get(f.attrib.get("id", ""), ""): (f.text or "").strip() for f in row.findall("field")}
        start = parse_report_time(values.get("Start Time"))
        if not values.get("Session ID") or start is None:
            raise ProtocolError("getReport_v2: a row has no session ID or start time", service=SERVICE)
        sessions.append(
            ObservedSession(
                session_id=values["Session ID"],
                technician_id=values.get("Technician ID", ""),
                technician_name=values.get("Technician Name", ""),
                start=start,
                end=parse_report_time(values.get("End Time")),
            )
        )
    return sessions


_FORM_HEADERS = {"Accept": "text/plain", "Content-Type": "application/x-www-form-urlencoded"}


@dataclass(eq=False)
class SignIn:
    """One user's cookie sign-in, shared by the tenants that sign in as that user."""

    cookies: dict[str, str] = field(default_factory=dict)
    done: bool = False


@dataclass(eq=False)
class ReportAccount:
    """One Rescue account's report sequences within a run: the lock that serialises them, the
    cookie sign-in of each of its users, and when its last report was served."""

    interval: float = REPORT_INTERVAL
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    sign_ins: dict[str, SignIn] = field(default_factory=dict)  # by e-mail, case folded
    last_report: float | None = None  # the event loop's clock

    def sign_in_of(self, email: str) -> SignIn:
        return self.sign_ins.setdefault(email.casefold(), SignIn())

    async def wait_for_slot(self) -> None:
        """Until ``interval`` seconds have passed since the account's last report."""
        if self.last_report is None:
            return
        delay = self.last_report + self.interval - asyncio.get_running_loop().time()
        if delay > 0:
            # Minutes can pass here at fleet size (one report per interval per account): say why.
            log.info(
                "waiting %.0f s for the Rescue report interval (one report per %.0f s)", delay, self.interval
            )
            await asyncio.sleep(delay)

    def report_served(self) -> None:
        self.last_report = asyncio.get_running_loop().time()


class ReportAccounts:
    """The run's report accounts by key: tenants that name the same account share one."""

    def __init__(self) -> None:
        self._accounts: dict[tuple[str, str], ReportAccount] = {}

    def get(self, key: tuple[str, str], interval: float) -> ReportAccount:
        account = self._accounts.get(key)
        if account is None:
            account = self._accounts[key] = ReportAccount(interval=interval)
        account.interval = max(account.interval, interval)
        return account


class _SignedOut(Exception):
    """NOTLOGGEDIN on a report call: the cookie sign-in ended (20 idle minutes)."""


class RescueReportClient(ApiClient):
    """One tenant's session reports, read with an administrator's cookie sign-in."""

    def __init__(
        self,
        api_url: str,
        email: str,
        password: SecretStr,
        account: ReportAccount | None = None,
        **options: Unpack[ClientOptions],
    ) -> None:
        self.api_url = require_https(api_url, setting="connection.rescue.api_url")
        self._email = email
        self._password = password
        self._account = account if account is not None else ReportAccount()
        self._sign_in = self._account.sign_in_of(email)
        super().__init__(SERVICE, None, **options)

    def __repr__(self) -> str:
        return f"RescueReportClient(api_url={self.api_url!r}, tenant={self.tenant!r})"

    async def _post(self, method: str, form: dict[str, str]) -> str:
        """One form POST; the payload after ``OK``, or an error named for the setting to fix."""
        headers = dict(_FORM_HEADERS)
        cookies = self._sign_in.cookies
        if cookies:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in cookies.items())
        response = await self._exchange(
            "POST",
            f"{self.api_url}/{method}.aspx",
            template=method,
            idempotent=method != "getReport_v2",
            headers=headers,
            content=urlencode(form).encode("utf-8"),
            classify=lambda r: "done" if r.status_code == 200 else None,
        )
        self._keep_cookies(response)
        return self._payload(method, response)

    def _keep_cookies(self, response: httpx.Response) -> None:
        """The sign-in's session cookie, sent back on every later call (the transport keeps none:
        this client is the one place that needs a cookie session, and only for its own host)."""
        for header in response.headers.get_list("set-cookie"):
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(header)
            except CookieError:
                continue  # a cookie we cannot read is one we cannot send back either
            for name, morsel in jar.items():
                self._sign_in.cookies[name] = morsel.value

    def _payload(self, method: str, response: httpx.Response) -> str:
        require_http_ok(method, response, self.tenant)
        status, _, payload = response.text.replace("\r\n", "\n").partition("\n")
        token = status.strip().split(" ", 1)[0].upper()
        if token == "OK":
            return payload.strip("\n")
        if token == "NOTLOGGEDIN" and method != "login":
            raise _SignedOut(method)
        if token in ("INVALID", "NOTLOGGEDIN", "USER_DELETED_OR_DISABLED", "INVALID_SECRETAUTHCODE"):
            raise AuthError(
                f"{method}: Rescue refused the report sign-in ({token}): check connection.rescue.reports "
                "(an active administrator's email and password)",
                service=SERVICE,
                tenant=self.tenant,
            )
        if token == "LIMITREACHED":
            raise RateLimitedError(
                f"{method}: Rescue refused the report sign-in (LIMITREACHED: more than 10 sign-ins of "
                "this account in 3 minutes; do other jobs sign in with it?); run health again later",
                service=SERVICE,
                tenant=self.tenant,
            )
        if token == "POLLRATEEXCEEDED":
            raise RateLimitedError(
                f"{method}: Rescue throttled the report (POLLRATEEXCEEDED: one report per "
                f"{self._account.interval:g} seconds, still refused after {REPORT_ATTEMPTS} tries; "
                "does another job use this account?); run health again later",
                service=SERVICE,
                tenant=self.tenant,
            )
        raise ApiError(
            f"{method}: Rescue answered {token[:60]}",
            code=token[:60],
            status=200,
            service=SERVICE,
            tenant=self.tenant,
        )

    async def sign_in(self) -> None:
        """``login.aspx``: opens the cookie session the report needs (``AuthError`` when refused).
        It changes nothing in Rescue, so ``doctor`` checks the sign-in with it alone."""
        await self._post("login", {"email": self._email, "pwd": self._password.get_secret_value()})
        self._sign_in.done = True

    async def session_report(
        self,
        technicians: Sequence[str],
        begin: dt.datetime,
        end: dt.datetime,
        *,
        unsure: Sequence[str] = (),
    ) -> list[ObservedSession]:
        """Every session of these technician nodes that started in [begin, end]: one report
        each, under the account's lock (no other tenant's settings in between). ``unsure`` nodes
        may not be technicians (records the hierarchy could not read): Rescue's
        ``INVALIDPARAM_NODE`` for one of them means no sessions, for a technician an error."""
        sessions: list[ObservedSession] = []
        nodes = [(node, False) for node in technicians] + [(node, True) for node in unsure]
        if not nodes:
            return sessions
        async with self._account.lock:
            if not self._sign_in.done:
                await self.sign_in()
            for node, maybe_not_technician in nodes:
                try:
                    sessions.extend(await self._technician_report(node, begin, end))
                except ApiError as exc:
                    if not (maybe_not_technician and exc.code == "INVALIDPARAM_NODE"):
                        raise
        return sessions

    async def _technician_report(
        self, technician: str, begin: dt.datetime, end: dt.datetime
    ) -> list[ObservedSession]:
        signed_in_again = False
        attempt = 0
        while True:
            attempt += 1
            try:
                payload = await self._report_sequence(technician, begin, end)
            except _SignedOut:
                if signed_in_again:
                    raise AuthError(
                        "the Rescue report sign-in ended again right after signing in (NOTLOGGEDIN)",
                        service=SERVICE,
                        tenant=self.tenant,
                    ) from None
                signed_in_again = True
                await self.sign_in()
                continue
            except RateLimitedError:
                if attempt >= REPORT_ATTEMPTS:
                    raise
                continue  # another job took the slot: wait a whole interval again
            try:
                return parse_session_report(payload)
            except ProtocolError as exc:
                raise ProtocolError(exc.message, service=SERVICE, tenant=self.tenant) from exc

    async def _report_sequence(self, technician: str, begin: dt.datetime, end: dt.datetime) -> str:
        """Every setting, then the report (the settings are the user's, on the server): after
        the wait for the account's slot, so nothing of this run comes between them."""
        await self._account.wait_for_slot()
        await self._post("setReportArea_v8", {"area": SESSION_REPORT_AREA})
        await self._post("setTimezone", {"timezone": "0"})
        await self._post("setReportDate_v2", {"bdate": report_date(begin), "edate": report_date(end)})
        await self._post("setReportTime", _WHOLE_DAY)
        await self._post("setOutput", {"output": "XML"})
        await self._post("setDelimiter", {"delimiter": "|"})
        try:
            return await self._post("getReport_v2", {"node": technician, "nodetype": "NODE"})
        finally:
            # Served or refused, the account's slot is taken for an interval from now.
            self._account.report_served()
