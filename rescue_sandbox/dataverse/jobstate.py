"""The state of an org's alternate-key indexes and pending system jobs (plain data).

Below the org (which holds it), the job runner (jobs.py, which moves it on) and the snapshots
(persistence.py, which store it).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class KeyState:
    status: str = "Active"
    async_job: str | None = None


@dataclass
class PendingJob:
    job_id: str
    kind: str  # "index" or "import"
    submitted: float
    duration: float
    table: str | None = None
    key: str | None = None
    manifest: dict[str, Any] | None = None
    import_job_id: str | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
