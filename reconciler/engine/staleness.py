"""Is a saved plan still true? Compare what it was made from with what is live now.

A saved plan is applied only if every object it touches is as it was when the plan was made
(ETag, or a content hash for Rescue) and the tenant files are unchanged; otherwise apply
refuses and says, field by field, what changed.
"""

from __future__ import annotations

from reconciler.plan import Action, Change, Create, Delete, TenantPlan, Update
from reconciler.render.common import show
from reconciler.resources import LiveState, Resource, Sensitive, placeholder_email


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
    if isinstance(change, Update | Delete):
        return change.live
    if isinstance(change, Action):
        return change.live
    return None


def stale_reasons(saved: TenantPlan, digest_now: str, live: LiveState | None) -> list[str]:
    """Why ``saved`` may not be applied any more ([] when it still holds)."""
    reasons: list[str] = []
    if saved.desired_digest != digest_now:
        reasons.append("the tenant files changed since the plan was made: plan again and review")
    if live is None:
        return [*reasons, "live state could not be re-read"]
    for change in saved.actionable:
        unknown = live.unknown_for(change.kind, change.key)
        if unknown is not None and placeholder_email(change.key) is None:
            reasons.append(f"{change.id}: could not re-read it ({unknown.reason})")
            continue
        now = live.get(change.kind, change.key)
        planned = _live_of(change)
        if isinstance(change, Create):
            if now is not None and change.kind != "rescue_group":
                reasons.append(f"{change.id}: did not exist at plan time, exists now")
            continue
        if planned is None:
            continue
        if now is None:
            reasons.append(f"{change.id}: existed at plan time, is gone now")
            continue
        if change.planned_version() != now.live_version():
            details = _explain(planned, now) or ["changed since the plan (a sensitive field or metadata)"]
            reasons.extend(f"{change.id}: {d}" for d in details)
    return reasons
