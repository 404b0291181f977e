"""The fleet's manual-step checklist (``reconcile manual``) as text, markdown or JSON.

Titles, steps and tenant names are data (a saved plan can hold anything): they are shown only
through ``render.escape``, like every other renderer's values: text escapes control, bidi and
invisible characters (``value_text``), markdown shows a value as plain words or a code span
(``md_text``: no link, autolink, mention, image, HTML or table cell can come from it), JSON is JSON.
"""

from __future__ import annotations

import json

from reconciler.plan.checklist import Checklist
from reconciler.render.escape import PROSE_CHARS, md_prose, md_text, value_text
from reconciler.render.fleet import tenants_phrase


def _text(value: str) -> str:
    return value_text(value, PROSE_CHARS)


def _md(value: str) -> str:
    return md_prose(value, PROSE_CHARS)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _head(checklist: Checklist) -> str:
    tenants = len({t for item in checklist.items for t in item.tenants})
    steps = _count(len(checklist.items), "manual step")
    return f"{steps} for {_count(tenants, 'tenant')}: {checklist.step_count} to do in all (each step once per tenant)."


def render_checklist_text(checklist: Checklist) -> str:
    lines = ["Manual steps: only a person can do these. " + _head(checklist), ""]
    for item in checklist.items:
        lines.append(f"- {_text(item.title)} ({_count(len(item.tenants), 'tenant')})")
        lines.append(f"    why: {_text(item.reason)}")
        lines.extend(f"    {i}. {_text(step)}" for i, step in enumerate(item.steps, 1))
        lines.append(f"    {tenants_phrase(item.tenants)}")
        lines.append("")
    for tenant, why in checklist.unplanned:
        lines.append(f"not known for {_text(tenant)}: {_text(why)}")
    return "\n".join(lines).rstrip() + "\n"


def render_checklist_markdown(checklist: Checklist) -> str:
    """A GitHub task list: one box per tenant under each step, so the boxes the head counts are
    the boxes there are to tick."""
    lines = ["### Manual steps", "", f"Only a person can do these. {_head(checklist)}", ""]
    for item in checklist.items:
        lines.append(f"- **{_md(item.title)}** ({_count(len(item.tenants), 'tenant')}): {_md(item.reason)}")
        lines.extend(f"  {i}. {_md(step)}" for i, step in enumerate(item.steps, 1))
        lines.extend(f"  - [ ] {md_text(tenant)}" for tenant in item.tenants)
    if checklist.unplanned:
        lines += ["", "Not known (the tenant, or the objects its steps need, could not be read):", ""]
        lines.extend(f"- {_md(tenant)}: {_md(why)}" for tenant, why in checklist.unplanned)
    return "\n".join(lines) + "\n"


def render_checklist_json(checklist: Checklist) -> str:
    data = {
        "format_version": 1,
        "steps": [
            {
                "kind": item.kind,
                "key": item.key,
                "title": item.title,
                "reason": item.reason,
                "steps": list(item.steps),
                "tenants": list(item.tenants),
            }
            for item in checklist.items
        ],
        "unplanned": [{"tenant": tenant, "error": why} for tenant, why in checklist.unplanned],
    }
    return json.dumps(data, indent=2) + "\n"
