"""What an apply did: one outcome per change, per tenant (a value the renderers show)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from reconciler.errors import EXIT_ERROR, EXIT_INCOMPLETE, EXIT_OK
from reconciler.plan.changes import Manual
from reconciler.plan.model import Plan

# "unknown": the change met an operation of the service still running (a solution import) and
# its bounded wait ran out; it may still happen, so it is neither done nor failed (exit 3).
Status = Literal["done", "failed", "skipped", "unknown"]
STATUSES: tuple[Status, ...] = ("done", "failed", "skipped", "unknown")


@dataclass(frozen=True, slots=True)
class Outcome:
    change_id: str
    status: Status
    message: str = ""


@dataclass(frozen=True)
class TenantApplyResult:
    tenant: str
    outcomes: tuple[Outcome, ...] = ()
    manual: tuple[Manual, ...] = ()
    error: str = ""  # nothing could be done (e.g. credentials refused)
    requests: Mapping[str, Any] = field(default_factory=dict)

    def count(self, status: Status) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def complete(self) -> bool:
        return not self.error and all(o.status == "done" for o in self.outcomes)


@dataclass(frozen=True)
class ApplyResult:
    tenants: tuple[TenantApplyResult, ...]

    def totals(self) -> dict[str, int]:
        counter = Counter(o.status for t in self.tenants for o in t.outcomes)
        return {s: counter[s] for s in STATUSES}

    @property
    def complete(self) -> bool:
        return all(t.complete for t in self.tenants)

    @property
    def nothing_done(self) -> bool:
        """True when something was to be done and none of it was (nor may still be: unknown)."""
        attempted = any(t.outcomes or t.error for t in self.tenants)
        totals = self.totals()
        return attempted and totals["done"] == 0 and totals["unknown"] == 0

    def exit_code(self, plan: Plan) -> int:
        """1 when nothing could be done, 3 when something failed, is unknown or ``plan`` was incomplete."""
        if any(t.error for t in self.tenants) and not self.totals()["done"]:
            return EXIT_ERROR
        if self.nothing_done:
            return EXIT_ERROR
        if not self.complete or plan.incomplete:
            return EXIT_INCOMPLETE
        return EXIT_OK
