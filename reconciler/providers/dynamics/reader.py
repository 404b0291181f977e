"""Read a tenant's Dynamics live state: each kind module's read part (solution, configuration
row, application user and its roles, LogMeIn settings rows with their users, the Session Key
and its index job), run concurrently from the table ``READS``.

Each part is read independently: a part that fails becomes ``Unknown`` for its kind and the
others go on. Tables are listed in pages (O(pages), never one GET per user).
"""

from __future__ import annotations

import asyncio
import logging

from reconciler.errors import AuthError, ProviderError
from reconciler.profile import SolutionProfile
from reconciler.providers.dynamics.application_user import ApplicationUserRead
from reconciler.providers.dynamics.client import DataverseClient
from reconciler.providers.dynamics.integration import IntegrationRead
from reconciler.providers.dynamics.reading import DynamicsLive, DynamicsQuery, ReadContext, ReadPart
from reconciler.providers.dynamics.session_key import SessionKeyRead
from reconciler.providers.dynamics.settings_read import SettingsRead
from reconciler.providers.dynamics.solution import SolutionRead
from reconciler.resources import SecretHasher, Unknown

log = logging.getLogger(__name__)

# One entry per kind module of Dynamics, in the order of the provider's writes (``WRITES``).
READS: tuple[type[ReadPart], ...] = (
    SolutionRead,
    IntegrationRead,
    ApplicationUserRead,
    SessionKeyRead,
    SettingsRead,
)


class DynamicsReader:
    def __init__(self, client: DataverseClient, profile: SolutionProfile, hasher: SecretHasher) -> None:
        self.context = ReadContext(client, profile, hasher)

    async def read(self, query: DynamicsQuery) -> DynamicsLive:
        live = DynamicsLive()
        parts = [part for part in READS if part.wanted(query)]
        results = await asyncio.gather(
            *(part.read(self.context, live, query) for part in parts), return_exceptions=True
        )
        for part, result in zip(parts, results, strict=True):
            if isinstance(result, AuthError):
                raise result
            if isinstance(result, ProviderError):
                log.debug("dynamics read of %s failed: %s", part.kind, result.message)
                live.state.unknown.append(Unknown(part.kind, "*", result.message))
            elif isinstance(result, BaseException):
                raise result
        return live
