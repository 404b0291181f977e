"""The fleet as one self-contained HTML page (docs/report-format.md, "The page").

Jinja2 with autoescape on: every value is HTML-escaped unless marked otherwise, and only our
own CSS, script, SVG numbers and the data island are. Values also go through ``value_text``
first (control and bidi characters shown as escapes, long values cut). The data island is JSON
with ``<``, ``>`` and ``&`` escaped, so no value can close its ``<script>``. A hash-based CSP in
the first ``<meta>`` lets only this page's own style and script run and the page make no request.
The table is whole without scripts; the script only sorts and filters the rows.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import json
from importlib import resources
from typing import Any

import jinja2
from markupsafe import Markup, escape

from reconciler import __version__
from reconciler.render.escape import value_text
from reconciler.report.fleet import EXPIRY_DAYS, STATES, Fleet, GroupRow, TenantRow, TrendPoint

MAX_ITEMS = 50  # changes or causes shown per tenant (the JSON has them all)
STATE_NAMES = {"failed": "failed", "unknown": "unknown", "drifted": "drifted", "in_sync": "in sync"}
SYNC_NAMES = {"in_sync": "in sync", "drifted": "drifted", "unknown": "unknown", "not_checked": "not checked"}
VERDICT_NAMES = {"not_visible": "not visible", "not_checked": "not checked"}
_TREND_W, _TREND_H = 84, 22
_PLAIN_VERDICTS = frozenset({"healthy", "idle"})  # the line says enough: no mark
_TREND_WORDS = 4  # the last runs said in words beside the chart (the chart shows them all)


def _asset(name: str) -> str:
    return resources.files("reconciler.report").joinpath("templates", name).read_text("utf-8")


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


def island_json(data: Any) -> str:
    """JSON safe inside ``<script>``: no ``<``, ``>`` or ``&`` (nor U+2028/2029) as itself."""
    text = json.dumps(data, ensure_ascii=True, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _ts(value: dt.datetime | None) -> int | None:
    return int(value.timestamp()) if value is not None else None


def _island(fleet: Fleet) -> dict[str, Any]:
    def row(r: TenantRow) -> dict[str, Any]:
        return {
            "tenant": r.tenant,
            "stateName": r.state,
            "state": STATES.index(r.state),
            "drift": _ts(r.drift_since),
            "failed": r.failed_or_unknown,
            "losing": sum(1 for g in r.groups if g.losing),
            "manual": len(r.manual),
            "apply": _ts(r.operation_at),
            "check": _ts(r.sync_at),
            "expiry": _ts(r.next_expiry),
        }

    return {"states": list(STATES), "rows": [row(r) for r in fleet.rows]}


def _trend(group: GroupRow) -> Markup:
    """The group's delivery ratio over the history: a line over the runs that had sessions, and a
    mark per run whose verdict is not plain healthy or idle, coloured by it; the last runs are
    also said in words beside it. Integer coordinates and one path per verdict: at 300 tenants
    x 30 runs, a dot and a title per run was most of a 2.7 MB page."""
    points = group.trend
    if len(points) < 2:
        return Markup("")
    span_x, span_y = _TREND_W - 4, _TREND_H - 4
    line = []
    marks: dict[str, list[str]] = {}
    for i, p in enumerate(points):
        x = 2 + round(i * span_x / (len(points) - 1))
        y = 2 + round((1 - p.ratio) * span_y) if p.ratio is not None else _TREND_H - 2
        if p.ratio is not None:
            line.append(f"{x},{y}")
        if p.verdict not in _PLAIN_VERDICTS:
            marks.setdefault(p.verdict, []).append(f"M{x - 2} {y - 2}h4v4h-4z")
    if not line and not marks:  # no run had sessions, none went wrong: the words say it
        return Markup(f'<span class="words muted">trend: {_words(points)}</span>')
    paths = "".join(f'<path class="p-{escape(v)}" d="{"".join(d)}"/>' for v, d in marks.items())
    return Markup(
        f'<svg class="trend" width="{_TREND_W}" height="{_TREND_H}" viewBox="0 0 {_TREND_W} {_TREND_H}" '
        f'aria-hidden="true"><polyline points="{" ".join(line)}"/>{paths}</svg>'
        f'<span class="words muted">trend: {_words(points)}</span>'
    )


def _words(points: tuple[TrendPoint, ...]) -> str:
    return escape(
        " → ".join(
            VERDICT_NAMES.get(p.verdict, p.verdict) + (f" {p.ratio:.0%}" if p.ratio is not None else "")
            for p in points[-_TREND_WORDS:]
        )
    )


@functools.cache
def _template() -> jinja2.Template:
    """The page's template, compiled once (a tenth of a second each time otherwise)."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("reconciler.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["val"] = value_text
    env.filters["when"] = _when
    env.filters["trend"] = _trend
    return env.get_template("fleet.html.j2")


def _when(value: dt.datetime) -> str:
    return f"{value.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC"


def render_page(fleet: Fleet) -> str:
    now = fleet.generated_at

    def age(value: dt.datetime) -> str:
        seconds = max(0, int((now - value).total_seconds()))
        for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
            if seconds >= size:
                return f"{seconds // size} {unit} ago"
        return "just now"

    css, js = _asset("fleet.css"), _asset("fleet.js")
    csp = (
        f"default-src 'none'; script-src {_hash(js)}; style-src {_hash(css)}; img-src data:; "
        "base-uri 'none'; form-action 'none'"
    )
    return _template().render(
        age=age,
        csp=csp,
        css=Markup(css),
        js=Markup(js),
        island=Markup(island_json(_island(fleet))),
        generated=f"{now:%Y-%m-%d %H:%M}",
        version=__version__,
        runs=fleet.runs,
        history=fleet.history,
        summary=fleet.summary,
        unreadable=fleet.unreadable,
        states=STATES,
        state_names=STATE_NAMES,
        sync_names=SYNC_NAMES,
        verdict_names=VERDICT_NAMES,
        expiry_days=EXPIRY_DAYS,
        rows=fleet.rows,
        max_items=MAX_ITEMS,
    )
