"""What one result file says, per tenant, in the terms of the report's axes.

One ``Run`` per result file: the command, when it finished (UTC), and one ``TenantRecord`` per
tenant it covered. A record holds only the axes its command speaks for (a health run says
nothing about drift): None means "this run does not say".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

Sync = Literal["in_sync", "drifted", "unknown"]
Operation = Literal["ok", "failed", "incomplete"]


@dataclass(frozen=True)
class GroupPoint:
    """One technician group's health in one health run."""

    path: str
    verdict: str
    sessions: int | None
    delivered: int | None
    ratio: float | None
    causes: tuple[str, ...] = ()


@dataclass(frozen=True)
class CredentialExpiry:
    name: str
    kind: str
    expires_at: dt.datetime | None


@dataclass(frozen=True)
class TenantRecord:
    sync: Sync | None = None
    changes: tuple[str, ...] = ()  # "update technician:alice@contoso.com"
    manual: tuple[str, ...] = ()  # the open manual steps' titles
    health: str | None = None  # the tenant's verdict (plan/health.py's worst-of order)
    groups: tuple[GroupPoint, ...] = ()
    health_causes: tuple[str, ...] = ()  # blockers, errors and failed reads of the tenant
    health_blocked: bool = False  # a prerequisite blocks every session (a blocker)
    health_unread: bool = False  # a read the tenant's verdict or causes depend on failed
    operation: Operation | None = None
    operation_detail: tuple[str, ...] = ()  # failed outcomes, the tenant's error
    doctor_failed: tuple[str, ...] | None = None  # failed checks (None: no doctor run)
    credentials: tuple[CredentialExpiry, ...] | None = None
    solution: str | None = None
    error: str = ""


@dataclass(frozen=True)
class Run:
    file: str
    command: str  # plan, drift, health, apply, doctor, manual
    at: dt.datetime  # when it finished (UTC)
    tenants: Mapping[str, TenantRecord] = field(default_factory=dict)
