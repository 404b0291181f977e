"""Rescue session reports: a cookie sign-in, then the report sequence, once per tenant per run.

``login.aspx`` (administrator email and password) opens a cookie session that holds the report
settings: ``setReportArea_v8`` (0, the session report), ``setReportDate_v2`` (the window, as
``M/D/YYYY H:MM:SS``), ``setOutput`` (XML: the text output does not escape its delimiter), then
``getReport_v2`` on the Technicians root node. Rescue serves one report per 60 seconds, so the
report is never retried on throttling: a refused or failed read is an error (health Unknown).
"""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
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

SERVICE = "rescue"
SESSION_REPORT_AREA = "0"
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


class RescueReportClient(ApiClient):
    """One company's session report, read with an administrator's cookie sign-in."""

    def __init__(
        self, api_url: str, email: str, password: SecretStr, **options: Unpack[ClientOptions]
    ) -> None:
        self.api_url = require_https(api_url, setting="connection.rescue.api_url")
        self._email = email
        self._password = password
        self._cookies: dict[str, str] = {}
        super().__init__(SERVICE, None, **options)

    def __repr__(self) -> str:
        return f"RescueReportClient(api_url={self.api_url!r}, tenant={self.tenant!r})"

    async def _post(self, method: str, form: dict[str, str]) -> str:
        """One form POST; the payload after ``OK``, or an error named for the setting to fix."""
        headers = dict(_FORM_HEADERS)
        if self._cookies:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in self._cookies.items())
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
                self._cookies[name] = morsel.value

    def _payload(self, method: str, response: httpx.Response) -> str:
        require_http_ok(method, response, self.tenant)
        status, _, payload = response.text.replace("\r\n", "\n").partition("\n")
        token = status.strip().split(" ", 1)[0].upper()
        if token == "OK":
            return payload.strip("\n")
        if token in ("INVALID", "NOTLOGGEDIN", "USER_DELETED_OR_DISABLED"):
            raise AuthError(
                f"{method}: Rescue refused the report sign-in ({token}): check connection.rescue.reports "
                "(an active administrator's email and password)",
                service=SERVICE,
                tenant=self.tenant,
            )
        if token in ("POLLRATEEXCEEDED", "LIMITREACHED"):
            raise RateLimitedError(
                f"{method}: Rescue throttled the report ({token}: one report per 60 seconds, "
                "at most 10 sign-ins in 3 minutes); run health again later",
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

    async def session_report(self, node: str, begin: dt.datetime, end: dt.datetime) -> list[ObservedSession]:
        """Every session below ``node`` that started in [begin, end]: one sign-in, one report."""
        await self.sign_in()
        await self._post("setReportArea_v8", {"area": SESSION_REPORT_AREA})
        await self._post("setReportDate_v2", {"bdate": report_date(begin), "edate": report_date(end)})
        await self._post("setOutput", {"output": "XML"})
        payload = await self._post("getReport_v2", {"node": node, "nodetype": "NODE"})
        try:
            return parse_session_report(payload)
        except ProtocolError as exc:
            raise ProtocolError(exc.message, service=SERVICE, tenant=self.tenant) from exc
