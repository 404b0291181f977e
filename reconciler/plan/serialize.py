"""Plan <-> JSON (``format_version``: see ``FORMAT_VERSION``, documented in docs/plan-format.md).

Decoding trusts its input's shape: only ``reconciler/plan/reader.py``, after the schema check,
calls it (``decode_plan`` there is the one way in for a saved plan).

Sensitive values are written as ``{"sensitive": true, "ref": "env:NAME"}``: the reference,
never the value and never the digest. A plan read back compares secrets again at apply time.
"""

from __future__ import annotations

import dataclasses
import typing
from functools import cache
from typing import Any

from reconciler.errors import InputError
from reconciler.plan.changes import (
    Action,
    Change,
    Create,
    Delete,
    FieldChange,
    Manual,
    UnknownChange,
    Update,
)
from reconciler.plan.model import Plan, SafetySettings, TenantPlan
from reconciler.resources import LiveMeta, Resource, Sensitive, Unmanaged, resource_type


def encode_value(value: Any) -> Any:
    """A field value as JSON (sensitive values as their reference only)."""
    if isinstance(value, Sensitive):
        return {"sensitive": True, "ref": value.ref}
    if isinstance(value, frozenset):
        return sorted(value)
    if isinstance(value, tuple):
        return list(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)  # a nested value (a Rescue group's export settings)
    return value


def encode_resource(resource: Resource) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(resource):
        if f.name == "meta":
            continue
        fields[f.name] = encode_value(getattr(resource, f.name))
    meta: LiveMeta = getattr(resource, "meta", LiveMeta())
    out: dict[str, Any] = {"kind": resource.kind, "key": resource.key, "fields": fields}
    if meta.id or meta.etag or meta.extra:
        out["meta"] = {"id": meta.id, "etag": meta.etag, "extra": dict(meta.extra)}
    return out


def _decode_value(annotation: Any, value: Any) -> Any:
    """A JSON value as a resource field of type ``annotation`` holds it (the schema checked its
    shape): sets, tuples and nested dataclasses by the type, so a new field needs no edit here."""
    if isinstance(value, dict) and value.get("sensitive") is True:
        # The digest is not saved: an empty digest never equals a live one, so a reloaded
        # secret is always re-resolved and re-compared at apply time.
        return Sensitive(digest="", ref=str(value.get("ref", "")))
    for candidate in typing.get_args(annotation) or (annotation,):  # ``X | None``: X
        origin = typing.get_origin(candidate)
        if origin is frozenset and isinstance(value, list):
            return frozenset(value)
        if origin is tuple and isinstance(value, list):
            return tuple(value)
        if dataclasses.is_dataclass(candidate) and isinstance(candidate, type) and isinstance(value, dict):
            return candidate(**value)
    return value


@cache
def _field_types(kind: str) -> dict[str, Any]:
    """The type of each field of ``kind``'s resources (the schema admits registered kinds only)."""
    cls = resource_type(kind)
    if cls is None:
        raise InputError(f"plan file: unknown resource kind {kind!r}")
    return typing.get_type_hints(cls)


def decode_resource(data: dict[str, Any]) -> Resource:
    cls = resource_type(data["kind"])
    if cls is None:  # the schema admits the registry's kinds only
        raise InputError(f"plan file: unknown resource kind {data['kind']!r}")
    hints = _field_types(data["kind"])
    fields = {k: _decode_value(hints[k], v) for k, v in data["fields"].items()}
    meta = data.get("meta")
    if meta:
        fields["meta"] = LiveMeta(
            id=meta["id"], etag=meta["etag"], extra=tuple(sorted(meta["extra"].items()))
        )
    return cls(**fields)


def encode_change(change: Change) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": change.id,
        "op": change.op,
        "kind": change.kind,
        "key": change.key,
        "depends_on": list(change.depends_on),
        "fingerprint": change.planned_version(),
    }
    source = getattr(change.desired, "source", None) if isinstance(change, Create | Update) else None
    if source is not None:
        out["source"] = source  # the technician rule that produced this mapping
    if isinstance(change, Create):
        out["desired"] = encode_resource(change.desired)
    elif isinstance(change, Update):
        out["desired"] = encode_resource(change.desired)
        out["live"] = encode_resource(change.live)
        out["items"] = [
            {
                "path": i.path,
                "before": "(sensitive)" if i.sensitive else encode_value(i.old),
                "after": "(sensitive)" if i.sensitive else encode_value(i.new),
                "sensitive": i.sensitive,
            }
            for i in change.items
        ]
    elif isinstance(change, Delete):
        out["live"] = encode_resource(change.live)
    elif isinstance(change, Action):
        out.update(name=change.name, reason=change.reason, steps=list(change.steps))
        out["desired"] = encode_resource(change.desired)
        out["live"] = encode_resource(change.live) if change.live is not None else None
    elif isinstance(change, Manual):
        out.update(title=change.title, reason=change.reason, steps=list(change.steps))
    elif isinstance(change, UnknownChange):
        out["reason"] = change.reason
    return out


def decode_change(data: dict[str, Any]) -> Change:
    op = data["op"]
    base: dict[str, Any] = {"kind": data["kind"], "key": data["key"], "depends_on": tuple(data["depends_on"])}
    if op == "create":
        return Create(**base, desired=decode_resource(data["desired"]))
    if op == "update":
        items = tuple(
            FieldChange(path=i["path"], old=None, new=None, sensitive=True)
            if i["sensitive"]
            else FieldChange(
                path=i["path"],
                old=_decode_value(_field_types(data["kind"]).get(i["path"]), i["before"]),
                new=_decode_value(_field_types(data["kind"]).get(i["path"]), i["after"]),
            )
            for i in data["items"]
        )
        return Update(
            **base, desired=decode_resource(data["desired"]), live=decode_resource(data["live"]), items=items
        )
    if op == "delete":
        return Delete(**base, live=decode_resource(data["live"]))
    if op == "action":
        live = data["live"]
        return Action(
            **base,
            name=data["name"],
            desired=decode_resource(data["desired"]),
            live=decode_resource(live) if live is not None else None,
            reason=data["reason"],
            steps=tuple(data["steps"]),
        )
    if op == "manual":
        return Manual(**base, title=data["title"], reason=data["reason"], steps=tuple(data["steps"]))
    if op == "unknown":
        return UnknownChange(**base, reason=data["reason"])
    raise InputError(f"plan file: unknown change op {op!r}")  # the schema admits the six ops only


def encode_tenant(plan: TenantPlan) -> dict[str, Any]:
    return {
        "tenant": plan.tenant,
        "error": plan.error,
        "desired_digest": plan.desired_digest,
        "summary": plan.counts(),
        "has_changes": plan.has_changes,
        "incomplete": plan.incomplete,
        "changes": [encode_change(c) for c in plan.changes],
        "unmanaged": [dataclasses.asdict(u) for u in plan.unmanaged],
        "problems": list(plan.problems),
        "notes": list(plan.notes),
        "findings": list(plan.findings),
        "live_counts": dict(plan.live_counts),
        "requests": dict(plan.requests),
        "safety": dataclasses.asdict(plan.safety),
        "violations": [dataclasses.asdict(v) for v in plan.violations()],
    }


def encode_plan(plan: Plan) -> dict[str, Any]:
    return {
        "format_version": plan.format_version,
        "created_at": plan.created_at,
        "tool_version": plan.tool_version,
        "has_changes": plan.has_changes,
        "incomplete": plan.incomplete,
        "totals": plan.totals(),
        "tenants": [encode_tenant(t) for t in plan.tenants],
    }


def decode_plan_data(data: dict[str, Any]) -> Plan:
    """The plan of ``data`` that the plan file schema accepted (``reconciler/plan/reader.py``
    checks it first: decode nothing else, as wrong types would surface half-way as tracebacks)."""
    tenants = tuple(
        TenantPlan(
            tenant=t["tenant"],
            desired_digest=t["desired_digest"],
            changes=tuple(decode_change(c) for c in t["changes"]),
            unmanaged=tuple(Unmanaged(**u) for u in t["unmanaged"]),
            problems=tuple(t["problems"]),
            notes=tuple(t["notes"]),
            findings=tuple(t["findings"]),
            live_counts=dict(t["live_counts"]),
            requests=dict(t["requests"]),
            safety=SafetySettings(**t["safety"]),
            error=t["error"],
        )
        for t in data["tenants"]
    )
    return Plan(tenants=tenants, created_at=data["created_at"], tool_version=data["tool_version"])
