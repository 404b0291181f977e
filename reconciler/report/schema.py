"""The shapes `reconcile report` accepts, strictly: every key it reads has its type, and no key
the formats do not have (a newer tool's result is read by the tool that made it).

The plan (and drift's plan) is checked by the plan layer's own schema (``plan/reader.py``); the
others here: health (``render/health.py``), apply (``render/apply.py``), doctor
(``cli/doctor_cmd.py``, with the credentials field the Key Vault checks add), the manual
checklist (``render/checklist.py``) and the envelope of ``--out`` (``report/envelope.py``).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

Count = Annotated[int, Field(ge=0)]


def _utc_time(value: str) -> str:
    """An ISO 8601 time with its offset (a time without one would be read as local somewhere)."""
    parsed = dt.datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError("is a time without a UTC offset")
    return value


Time = Annotated[str, AfterValidator(_utc_time)]


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False, frozen=True)


class Envelope(_Strict):
    result_format: Literal[1]
    kind: Literal["reconcile-result"]
    command: Literal["drift", "apply", "doctor", "manual"]
    tool_version: str
    started_at: Time
    finished_at: Time
    tenants: list[str]
    result: Any


# --- health (render/health.py: asdict of plan/health.py's TenantHealth) ---
Verdict = Literal["healthy", "recovered", "idle", "degraded", "failing", "not_visible", "unknown"]


class HealthCause(_Strict):
    code: str
    text: str


class HealthUnread(_Strict):
    what: str
    reason: str


class HealthGroup(_Strict):
    path: str
    verdict: Verdict
    sessions: Count | None
    delivered: Count | None
    last_delivered: Time | None
    causes: list[HealthCause]
    confirmed: str | None
    declared: bool
    evidence: str | None
    in_dynamics: Count | None
    technicians: list[dict[str, Any]]
    unread: list[HealthUnread]
    ratio: Annotated[float, Field(ge=0)] | None


class HealthTenant(_Strict):
    tenant: str
    since: Time
    until: Time
    verdict: Verdict
    rescue_visible: bool
    groups: list[HealthGroup]
    dynamics_sessions: Count | None
    last_dynamics_session: Time | None
    blockers: list[HealthCause]
    notes: list[str]
    error: str | None
    requests: dict[str, Any]
    unread: list[HealthUnread]


class HealthFile(_Strict):
    format_version: Literal[1]
    tenants: list[HealthTenant]


# --- apply (render/apply.py) ---
class ApplyOutcome(_Strict):
    change_id: str
    status: Literal["done", "failed", "skipped", "unknown"]  # unknown: still running (an import)
    message: str


class ApplyManual(_Strict):
    id: str
    title: str
    steps: list[str]


class ApplyTenant(_Strict):
    tenant: str
    error: str
    outcomes: list[ApplyOutcome]
    manual: list[ApplyManual]
    requests: dict[str, Any]


class ApplyFile(_Strict):
    format_version: Literal[1]
    totals: dict[Literal["done", "failed", "skipped", "unknown"], Count]
    complete: bool
    tenants: list[ApplyTenant]


# --- doctor (cli/doctor_cmd.py) ---
class DoctorCheck(_Strict):
    name: str
    status: Literal["pass", "warn", "fail"]
    detail: str
    fix: str = ""


class Credential(_Strict):
    name: str
    kind: Literal["keyvault_secret", "certificate"]
    expires_at: Time | None


class DoctorTenant(_Strict):
    tenant: str
    ok: bool
    checks: list[DoctorCheck]
    credentials: list[Credential] = []


class DoctorFile(_Strict):
    tenants: list[DoctorTenant]
    failed: Count


# --- manual (render/checklist.py) ---
class ManualStep(_Strict):
    kind: str
    key: str
    title: str
    reason: str
    steps: list[str]
    tenants: list[str]


class ManualUnplanned(_Strict):
    tenant: str
    error: str


class ManualFile(_Strict):
    format_version: Literal[1]
    steps: list[ManualStep]
    unplanned: list[ManualUnplanned]


def where(loc: tuple[int | str, ...], prefix: str = "") -> str:
    """``result.tenants[0].groups[1].ratio``: a pydantic location as a path."""
    out = prefix
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def problems_of(model: type[_Strict], data: Any, prefix: str = "") -> tuple[Any, list[str]]:
    """``data`` validated as ``model`` (None and one line per problem when it is not one)."""
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        return None, [f"{where(e['loc'], prefix)}: {e['msg']}" for e in exc.errors(include_url=False)]
