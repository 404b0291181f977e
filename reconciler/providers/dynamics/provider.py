"""Dynamics as a provider: a table of its kind modules. Settings rows go together in ``$batch``
requests; every other change one at a time (concurrently), before the batch."""

from __future__ import annotations

from reconciler.providers.contract import KindTable, KindWrites
from reconciler.providers.dynamics.application_user import ApplicationUserWrites
from reconciler.providers.dynamics.integration import IntegrationWrites
from reconciler.providers.dynamics.session_key import SessionKeyWrites
from reconciler.providers.dynamics.settings import SettingsWrites
from reconciler.providers.dynamics.solution import SolutionWrites
from reconciler.providers.dynamics.writer import DynamicsWriter

# One entry per kind module of Dynamics: a new kind is one more line here.
WRITES = (SolutionWrites, IntegrationWrites, ApplicationUserWrites, SessionKeyWrites, SettingsWrites)


class DynamicsProvider(KindTable):
    kinds = frozenset(w.kind for w in WRITES)

    def __init__(self, writer: DynamicsWriter) -> None:
        entries: list[KindWrites] = [w(writer) for w in WRITES]
        super().__init__(entries)

    def created_ids(self) -> dict[str, str]:
        return {}
