"""Any tenant, group or cause text reaches the page as text: parsed back with an HTML parser,
each is exactly what ``value_text`` shows, and it never adds an element or an attribute."""

from __future__ import annotations

import datetime as dt
import functools
from html.parser import HTMLParser

from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.render.escape import value_text
from reconciler.report.fleet import build_fleet
from reconciler.report.html import render_page
from reconciler.report.runs import GroupPoint, Run, TenantRecord

T0 = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.summaries: list[str] = []
        self.tags: set[str] = set()
        self.attributes: set[str] = set()
        self._in_summary = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attributes.update(name for name, _ in attrs)
        if tag == "summary":
            self._in_summary = True
            self.summaries.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "summary":
            self._in_summary = False

    def handle_data(self, data: str) -> None:
        if self._in_summary:
            self.summaries[-1] += data


def _parsed(tenant: str, group: str, cause: str) -> _Page:
    health = TenantRecord(
        health="failing", groups=(GroupPoint(group, "failing", 3, 0, 0.0, (cause,)),), health_causes=(cause,)
    )
    runs = [
        Run(
            "p.json",
            "plan",
            T0,
            {tenant: TenantRecord(sync="drifted", changes=(f"update technician:{cause}",))},
        ),
        Run("h.json", "health", T0, {tenant: health}),
        Run("h2.json", "health", T0 + dt.timedelta(days=1), {tenant: health}),
    ]
    page = _Page()
    page.feed(render_page(build_fleet(runs, now=T0 + dt.timedelta(days=2))))
    return page


def test_the_page_s_own_elements_and_attributes() -> None:
    page = _parsed("contoso", "Support", "no session arrived")
    assert page.summaries == ["contoso"]
    assert "a" not in page.tags and "img" not in page.tags and "iframe" not in page.tags
    assert not any(a.startswith("on") for a in page.attributes) and "style" not in page.attributes


@functools.cache
def _baseline() -> _Page:
    return _parsed("contoso", "Support", "no session arrived")


@settings(max_examples=60, deadline=None)
@given(st.text(min_size=1, max_size=60), st.text(max_size=60), st.text(max_size=60))
def test_any_value_is_text_and_adds_no_markup(tenant: str, group: str, cause: str) -> None:
    baseline = _baseline()
    page = _parsed(tenant, group, cause)
    assert page.summaries == [value_text(tenant)]
    assert page.tags == baseline.tags and page.attributes == baseline.attributes
