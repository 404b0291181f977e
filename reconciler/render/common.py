"""Shared wording of the renderers: how a change, a value and a summary read.

Every value (a key, a live value, a reason quoting one) goes through ``escape.value_text``:
what these functions return is printable text, safe on a terminal and inside a code block.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.kinds import kind_label, kind_title
from reconciler.plan import (
    Action,
    Change,
    Create,
    Delete,
    FieldChange,
    Manual,
    Plan,
    TenantPlan,
    UnknownChange,
    Update,
)
from reconciler.plan.serialize import encode_value
from reconciler.render.escape import PROSE_CHARS, value_text
from reconciler.resources import Resource, Sensitive

SYMBOLS = {"create": "+", "update": "~", "delete": "-", "action": "!", "manual": "?", "unknown": "??"}


def show(value: Any) -> str:
    """A value as an admin reads it; secrets are always `(sensitive)`."""
    if isinstance(value, Sensitive):
        return "(sensitive)"
    value = encode_value(value)
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(value_text(v) for v in value) + "]"
    if isinstance(value, str):
        return f'"{value_text(value)}"'
    return value_text(value)


def item_line(item: FieldChange) -> str:
    if item.sensitive:
        return f"{value_text(item.path)}: (sensitive) -> (sensitive)"
    return f"{value_text(item.path)}: {show(item.old)} -> {show(item.new)}"


def resource_fields(resource: Resource) -> list[str]:
    lines = []
    undeclared: dict[str, str] = getattr(resource, "undeclared", {})
    for name, value in resource.content().items():
        if value is None:
            if name in undeclared:  # what an omitted field means on the service, said plainly
                lines.append(f"{value_text(name)}: {value_text(undeclared[name], PROSE_CHARS)}")
            continue
        lines.append(f"{value_text(name)} = {show(value)}")
    return lines


def headline(change: Change) -> str:
    title = kind_title(change.kind)
    key = value_text(change.key)
    if isinstance(change, Create):
        return f"create {title} {key}"
    if isinstance(change, Update):
        label = kind_label(change.kind, change.live)
        return f"update {title} {key}" + (f" ({value_text(label)})" if label else "")
    if isinstance(change, Delete):
        return f"delete {title} {key}"
    if isinstance(change, Action):
        return f"{value_text(change.name.replace('_', ' '))}: {value_text(change.reason, PROSE_CHARS)}"
    if isinstance(change, Manual):
        return f"manual: {value_text(change.title, PROSE_CHARS)}"
    if isinstance(change, UnknownChange):
        return f"unknown {title} {key}: {value_text(change.reason, PROSE_CHARS)}"
    return f"{value_text(change.op)} {title} {key}"


def provenance(change: Change) -> str | None:
    """The technician rule a change's mapping comes from (None: declared explicitly)."""
    desired = change.desired if isinstance(change, Create | Update) else None
    source = getattr(desired, "source", None)
    return source if isinstance(source, str) else None


def details(change: Change) -> list[str]:
    source = provenance(change)
    via = [f"from {source}"] if source else []
    if isinstance(change, Create):
        return resource_fields(change.desired) + via
    if isinstance(change, Update):
        return [item_line(i) for i in change.items] + via
    if isinstance(change, Action | Manual):
        return [value_text(step, PROSE_CHARS) for step in change.steps]
    return []


def summary_line(plan: Plan, *, manual: bool = True) -> str:
    """``manual=False``: drift's head, whose body lists no manual step, does not count them."""
    totals = plan.totals()
    parts = [
        f"{totals['create']} to create",
        f"{totals['update']} to update",
        f"{totals['delete']} to delete",
    ]
    if totals["action"]:
        parts.append(f"{totals['action']} repair(s)")
    text = "Plan: " + ", ".join(parts) + "."
    extra = []
    if totals["manual"] and manual:
        extra.append(f"{totals['manual']} manual step(s)")
    if totals["unknown"]:
        extra.append(f"{totals['unknown']} unknown (live state could not be read)")
    failed = len(plan.failed)
    if failed:
        extra.append(f"{failed} tenant(s) failed")
    return text + (" " + "; ".join(extra) + "." if extra else "")


def finding_parts(finding: str) -> tuple[str, str]:
    """(label, text) of a plan finding: session-flow health's carry no label of their own; the
    others start with theirs (``Rescue: `` for a nameless technician an unfinished create left)."""
    label, sep, text = finding.partition(": ")
    return (label, text) if sep and label in FINDING_LABELS else ("health", finding)


FINDING_LABELS = frozenset({"Rescue"})


def tenant_status(tenant: TenantPlan) -> str:
    if tenant.error:
        return "failed"
    if tenant.incomplete:
        return "incomplete"
    if tenant.has_changes:
        return "changes"
    if tenant.findings:
        return "findings"
    if tenant.manual:
        return "manual steps only"
    return "no changes"


def requests_line(requests: Mapping[str, Any]) -> str:
    """`dataverse 7 (1 retry), rescue 4` from RequestStats.as_dict()."""
    parts = []
    for service, entry in sorted(requests.items()):
        if not isinstance(entry, dict):
            continue
        text = f"{value_text(service)} {value_text(entry.get('requests', 0))}"
        retries = entry.get("retries", 0)
        if retries:
            text += f" ({value_text(retries)} retr{'y' if retries == 1 else 'ies'})"
        parts.append(text)
    return ", ".join(parts)
