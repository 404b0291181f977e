"""A tenant's doctor checklist: one check per line, each with its status and fix.

Separate from ``doctor.py`` so that the modules of its checks (privileges, the session flow)
fill a report without importing the command's orchestration.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PASS, WARN, FAIL, UNKNOWN = "pass", "warn", "fail", "unknown"  # unknown: a temporary failure


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # pass | warn | fail | unknown
    detail: str
    fix: str = ""


@dataclass
class TenantReport:
    tenant: str
    checks: list[Check] = field(default_factory=list)
    credentials: list[dict[str, Any]] = field(default_factory=list)  # doctor_fleet.py: credentials

    @property
    def ok(self) -> bool:
        """Ready: no check failed and none is unknown."""
        return all(c.status not in (FAIL, UNKNOWN) for c in self.checks)

    @property
    def failed(self) -> bool:
        return any(c.status == FAIL for c in self.checks)

    def add(self, name: str, status: str, detail: str, fix: str = "") -> None:
        self.checks.append(Check(name, status, detail, fix))
