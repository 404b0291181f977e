"""Is a saved plan still true, and is it the plan the tenant files give? (pure)

Two questions, two answers:
- *stale* (``stale_reasons``): an object the plan touches changed since the plan was made (its
  ETag, or a content hash for Rescue), or the tenant files did. Apply refuses and says, field by
  field, what changed (``StalePlanError``, exit 1): plan again.
- *not the plan the files give* (``mismatches``): the plan was recomputed from the current tenant
  files and live state, and a change of the saved plan is not identical to the recomputed one
  (op, key, every desired field, dependencies, items, the live object it was planned against),
  names an object or a dependency the recomputation does not have, or the rails' thresholds or
  counts are not the ones the files and the fresh read give. Nothing in the file is trusted: an
  edited ``desired.fields.sso_id`` would otherwise be written while the rendered plan showed the
  reviewed value (``PlanMismatchError``, exit 4).

A change that is stale is reported as stale only: its recomputation differs because live state
did, which is no sign of an edited file.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from reconciler.kinds import kind_of
from reconciler.plan import Action, Change, Create, Delete, TenantPlan, Update
from reconciler.plan.jsondiff import json_differences, shown
from reconciler.plan.serialize import encode_change
from reconciler.render.common import show
from reconciler.resources import LiveState, Resource, Sensitive

FILES_CHANGED = "the tenant files changed since the plan was made: plan again and review"


def _explain(planned: Resource, now: Resource) -> list[str]:
    lines = []
    before, after = planned.content(), now.content()
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name), after.get(name)
        if isinstance(old, Sensitive) or isinstance(new, Sensitive):
            continue  # digests are per run: the ETag tells a secret changed, not how
        if old != new:
            lines.append(f"{name}: planned {show(old)}, now {show(new)}")
    return lines


def _live_of(change: Change) -> Resource | None:
    if isinstance(change, Update | Delete | Action):
        return change.live
    return None


def _desired_of(change: Change) -> Resource | None:
    if isinstance(change, Create | Update | Action):
        return change.desired
    return None


def change_stale(change: Change, live: LiveState) -> list[str]:
    """Why the live object ``change`` was planned against is not as it was ([] when it is)."""
    unknown = live.unknown_for(change.kind, change.key)
    desired = _desired_of(change)
    if unknown is not None and not (
        desired is not None and kind_of(change.kind).planned_while_unknown(desired)
    ):
        return [f"{change.id}: could not re-read it ({unknown.reason})"]
    planned = _live_of(change)
    now = live.current(change.kind, change.key, planned)
    if isinstance(change, Create):
        if now is not None and not kind_of(change.kind).create_adopts_existing:
            return [f"{change.id}: did not exist at plan time, exists now"]
        return []
    if planned is None:
        return []
    if now is None:
        return [f"{change.id}: existed at plan time, is gone now"]
    details = _explain(planned, now)
    if change.planned_version() != now.live_version():
        details = details or ["changed since the plan (a sensitive field or metadata)"]
    # Some content is not under the ETag (the application user's roles are associations): an
    # equal ETag with other content is a change too.
    return [f"{change.id}: {d}" for d in details]


def stale_reasons(saved: TenantPlan, digest_now: str, live: LiveState | None) -> list[str]:
    """Why ``saved`` may not be applied any more ([] when it still holds)."""
    reasons: list[str] = []
    if saved.desired_digest != digest_now:
        reasons.append(FILES_CHANGED)
    if live is None:
        return [*reasons, "live state could not be re-read"]
    for change in saved.actionable:
        if not _own_objects(change):
            reasons.extend(change_stale(change, live))
    return reasons


def _own_objects(change: Change) -> list[str]:
    """A change acts on its own object: its desired and live resources have its kind and key."""
    out = []
    for side, resource in (("desired", _desired_of(change)), ("live", _live_of(change))):
        if resource is not None and (resource.kind, resource.key) != (change.kind, change.key):
            out.append(
                f"{change.id}: its {side} object is {resource.kind}:{resource.key}, "
                "not the object the change names"
            )
    return out


def count_mismatches(saved: TenantPlan, now: TenantPlan) -> list[str]:
    """The live counts the rails judge the saved plan's updates and deletes by (``Plan.violations``)
    that are not the fresh read's."""
    out = []
    for kind in sorted({c.kind for c in saved.changes if isinstance(c, Update | Delete)}):
        have, want = saved.live_counts.get(kind, 0), now.live_counts.get(kind, 0)
        if have != want:
            out.append(
                f"live_counts.{kind}: the plan has {shown(have)}, live state has {want} "
                "(the safety rails count live objects)"
            )
    return out


def _a(op: str) -> str:
    return f"{'an' if op[0] in 'aeiou' else 'a'} {op}"


def _as_json(change: Change) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(json.dumps(encode_change(change), default=str))
    return data


def mismatches(saved: TenantPlan, now: TenantPlan, live: LiveState) -> list[str]:
    """Where ``saved`` is not the plan ``now`` (recomputed from the same tenant files, digest
    checked by the caller, and a fresh read ``live``): one line per difference; stale changes
    are left to ``stale_reasons``."""
    out: list[str] = []
    if saved.safety != now.safety:
        have, want = dataclasses.asdict(saved.safety), dataclasses.asdict(now.safety)
        out += json_differences(have, want, "safety", "the plan has", "the tenant files give")
    recomputed = {c.id: c for c in now.changes}
    kept = {c.id for c in saved.actionable}
    for change in saved.actionable:
        own = _own_objects(change)
        if own:
            out += own
            continue
        if change_stale(change, live):
            continue
        again = recomputed.get(change.id)
        if again is None or not again.is_change:
            gives = f"{_a(again.op)} entry" if again is not None else "no such change"
            out.append(
                f"{change.id}: the plan has {_a(change.op)}; the tenant files and live state give {gives}"
            )
            continue
        differences = json_differences(
            _as_json(change), _as_json(again), "", "the plan has", "the tenant files and live state give"
        )
        out += [f"{change.id}: {d}" for d in differences]
        left_out = [
            d for d in again.depends_on if d not in kept and (dep := recomputed.get(d)) and dep.is_change
        ]
        out += [f"{change.id}: depends on {d}, which the plan leaves out" for d in left_out]
    return out
