"""What every Dynamics kind module writes with: the Dataverse client, the effective solution
profile, the tenant folder (solution packages), the secret resolver and the apply's waits.

Creates can never duplicate: rows get an id derived from their key (``stable_id``, uuid5) and
are written with ``If-None-Match: *`` (a retry after a lost reply answers 412 = already there).
Updates carry the ETag read at plan time. The writes themselves live in the kind modules
(``solution.py``, ``integration.py``, ``application_user.py``, ``session_key.py``,
``settings.py``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

from reconciler.profile import SolutionProfile
from reconciler.providers.dynamics.client import DataverseClient

_NAMESPACE = uuid.UUID("5f0c2a4e-8d2b-4b8e-9a57-6c1f0d3e2b91")


def stable_id(org_url: str, *parts: str) -> str:
    """A row id derived from the row's key, the same in every run (idempotent creates)."""
    return str(uuid.uuid5(_NAMESPACE, "|".join((org_url.lower(), *parts))))


class DynamicsWriter:
    def __init__(
        self,
        client: DataverseClient,
        profile: SolutionProfile,
        *,
        tenant_folder: Path,
        resolve_secret: Callable[[str], str],
        poll_interval: float = 2.0,
        import_wait_seconds: float = 3600.0,
        session_key_wait: float = 600.0,
    ) -> None:
        self.client = client
        self.profile = profile
        self.folder = tenant_folder
        self.resolve_secret = resolve_secret
        self.poll_interval = poll_interval
        self.import_wait_seconds = import_wait_seconds
        self.session_key_wait = session_key_wait
        self.org = client.base_url
