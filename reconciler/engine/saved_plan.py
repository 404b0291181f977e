"""``apply --plan``: the plan applied is the plan shown, and still follows from the files.

A saved plan is never applied as the file says. The plan is recomputed from the current tenant
files and a fresh read, and the saved one must be part of it, change for change
(``engine/staleness.py``); then the *recomputed* changes are applied, so what runs is always
what the files give, whatever the file holds. The safety rails then judge the recomputed plan:
thresholds from the tenant files, counts from the fresh read.

Refusals, nothing written: a tenant the files do not declare, an edited change, rails fields
that are not the files' (``PlanMismatchError``, exit 4); an object changed since, or the files
(``StalePlanError``, exit 1, field by field).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from reconciler.config import LoadedTenant
from reconciler.engine.planner import RunOptions, run_plan
from reconciler.engine.staleness import FILES_CHANGED, count_mismatches, mismatches, stale_reasons
from reconciler.errors import PlanMismatchError, StalePlanError, printable
from reconciler.plan import Plan, TenantPlan

_AGAIN = "Run reconcile plan again and review it."


def recheck(
    saved: Plan, loaded: Sequence[LoadedTenant], options: RunOptions
) -> list[tuple[LoadedTenant, TenantPlan]]:
    """The recomputed plan of each saved tenant, cut to the saved plan's changes; raises when the
    saved plan is not that plan (``PlanMismatchError``) or no longer holds (``StalePlanError``)."""
    by_name = {t.name: t for t in loaded}
    undeclared = [t.tenant for t in saved.tenants if t.tenant not in by_name]
    if undeclared:  # refused before any request
        raise PlanMismatchError(
            _lines(
                "the saved plan names tenants the tenant files do not declare; nothing was written:",
                [f"{name}: no such tenant in the tenant files" for name in undeclared],
            )
        )
    chosen = [by_name[t.tenant] for t in saved.tenants]
    _, readings = run_plan(chosen, options)
    stale: list[str] = []
    wrong: list[str] = []
    for saved_tenant, tenant, reading in zip(saved.tenants, chosen, readings, strict=True):
        name = saved_tenant.tenant
        if reading.plan.error or reading.live is None:
            stale.append(f"{name}: cannot re-read live state: {reading.plan.error or 'not read'}")
            continue
        reasons = stale_reasons(saved_tenant, tenant.digest, reading.live)
        stale += [f"{name}: {r}" for r in reasons]
        if FILES_CHANGED not in reasons:  # with other files, every change may differ: stale only
            wrong += [f"{name}: {m}" for m in mismatches(saved_tenant, reading.plan, reading.live)]
        # Live objects come and go: a count that moved is a sign of tampering only when nothing
        # the plan touches changed.
        counts = [f"{name}: {m}" for m in count_mismatches(saved_tenant, reading.plan)]
        if reasons:
            stale += counts
        else:
            wrong += counts
    if wrong:
        header = "the saved plan is not the plan the tenant files and live state give; nothing was written:"
        raise PlanMismatchError(_lines(header, wrong + stale))
    if stale:
        raise StalePlanError(
            _lines("the saved plan is stale; nothing was written:", stale, "Run reconcile plan again.")
        )
    return [
        (tenant, _applied(saved_tenant, reading.plan))
        for saved_tenant, tenant, reading in zip(saved.tenants, chosen, readings, strict=True)
    ]


def _applied(saved: TenantPlan, now: TenantPlan) -> TenantPlan:
    """The recomputed plan with only the saved plan's changes (identical, as checked): drift
    found since is neither applied nor blocks the reviewed plan; a note names it."""
    kept = {c.id for c in saved.actionable}
    later = [c.id for c in now.actionable if c.id not in kept]
    notes = now.notes
    if later:
        notes += (f"not in the saved plan, so not applied (plan again to review): {', '.join(later)}",)
    changes = tuple(c for c in now.changes if not c.is_change or c.id in kept)
    return dataclasses.replace(now, changes=changes, notes=notes)


def _lines(header: str, lines: Sequence[str], footer: str = _AGAIN) -> str:
    return "\n  ".join([header, *(printable(line) for line in lines)]) + "\n" + footer
