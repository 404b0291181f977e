"""Shared wording of the renderers: how a change, a value and a summary read."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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
from reconciler.resources import Resource, Sensitive, kind_title

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
        return "[" + ", ".join(str(v) for v in value) + "]"
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)


def item_line(item: FieldChange) -> str:
    if item.sensitive:
        return f"{item.path}: (sensitive) -> (sensitive)"
    return f"{item.path}: {show(item.old)} -> {show(item.new)}"


def resource_fields(resource: Resource) -> list[str]:
    lines = []
    for name, value in resource.content().items():
        if value is None:
            continue
        lines.append(f"{name} = {show(value)}")
    return lines


def headline(change: Change) -> str:
    title = kind_title(change.kind)
    if isinstance(change, Create):
        return f"create {title} {change.key}"
    if isinstance(change, Update):
        email = getattr(change.live, "email", None) if change.kind == "rescue_technician" else None
        return f"update {title} {change.key}" + (f" ({email})" if email else "")
    if isinstance(change, Delete):
        return f"delete {title} {change.key}"
    if isinstance(change, Action):
        return f"{change.name.replace('_', ' ')}: {change.reason}"
    if isinstance(change, Manual):
        return f"manual: {change.title}"
    if isinstance(change, UnknownChange):
        return f"unknown {title} {change.key}: {change.reason}"
    return f"{change.op} {title} {change.key}"


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
        return list(change.steps)
    return []


def summary_line(plan: Plan) -> str:
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
    if totals["manual"]:
        extra.append(f"{totals['manual']} manual step(s)")
    if totals["unknown"]:
        extra.append(f"{totals['unknown']} unknown (live state could not be read)")
    failed = len(plan.failed)
    if failed:
        extra.append(f"{failed} tenant(s) failed")
    return text + (" " + "; ".join(extra) + "." if extra else "")


def tenant_status(tenant: TenantPlan) -> str:
    if tenant.error:
        return "failed"
    if tenant.incomplete:
        return "incomplete"
    if tenant.has_changes:
        return "changes"
    if tenant.manual:
        return "manual steps only"
    return "no changes"


def requests_line(requests: Mapping[str, Any]) -> str:
    """`dataverse 7 (1 retry), rescue 4` from RequestStats.as_dict()."""
    parts = []
    for service, entry in sorted(requests.items()):
        if not isinstance(entry, dict):
            continue
        text = f"{service} {entry.get('requests', 0)}"
        retries = entry.get("retries", 0)
        if retries:
            text += f" ({retries} retr{'y' if retries == 1 else 'ies'})"
        parts.append(text)
    return ", ".join(parts)
