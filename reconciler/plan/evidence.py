"""The manual export step learns from evidence (pure): a plan tenant plus its session-flow health.

No API reads a group's export setting, so the tenant file's ``confirmed:`` date is an
attestation. Health is evidence: a group without ``confirmed:`` whose sessions arrive has its
manual step shown as "observed working (last session ...)"; a group with ``confirmed:`` whose
sessions do not arrive becomes a drift finding with its likely cause.
"""

from __future__ import annotations

import dataclasses

from reconciler.plan.changes import Change, Manual
from reconciler.plan.health import GroupHealth, TenantHealth
from reconciler.plan.model import TenantPlan


def _observed(step: Manual, group: GroupHealth) -> Manual:
    return dataclasses.replace(
        step,
        title=f"{step.title}: observed working (last session {group.last_delivered})",
        reason=(
            f"observed working (last session {group.last_delivered}): {group.delivered} of {group.sessions} "
            "sessions reached Dynamics; record `confirmed:` to close this step"
        ),
    )


def finding(group: GroupHealth) -> str:
    causes = "; ".join(c.text for c in group.causes) or (
        "not checked: " + "; ".join(u.text for u in group.unread) if group.unread else "cause unknown"
    )
    return (
        f"Rescue group {group.path!r} is confirmed ({group.confirmed}) but its sessions do not reach "
        f"Dynamics: {group.delivered} of {group.sessions} arrived; likely cause: {causes}"
    )


def with_health(plan: TenantPlan, health: TenantHealth) -> TenantPlan:
    """The tenant's plan with its manual export steps and findings informed by ``health``."""
    if health.error is not None:
        note = f"session-flow health unknown: {health.error}"
        return dataclasses.replace(plan, notes=(*plan.notes, note))
    # A read that failed is said, never taken as evidence either way.
    unread = tuple(f"session-flow health incomplete: {u.text}" for u in health.unread)
    groups = {g.path.casefold(): g for g in health.groups}
    changes: list[Change] = []
    for change in plan.changes:
        group = groups.get(change.key.casefold()) if change.kind == "rescue_group" else None
        if isinstance(change, Manual) and group is not None and group.evidence == "observed_working":
            change = _observed(change, group)
        changes.append(change)
    findings = tuple(finding(g) for g in health.groups if g.evidence == "confirmed_not_arriving")
    return dataclasses.replace(
        plan, changes=tuple(changes), findings=(*plan.findings, *findings), notes=(*plan.notes, *unread)
    )
