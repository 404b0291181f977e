"""One live read for every command (plan, drift, apply's re-check, export).

Dynamics, the Rescue hierarchy and (when wanted) Graph's consent lookup and the members of the
technician rules' Entra groups are read concurrently; then the Dynamics users of the rules'
members (known only now), and the SSO IDs of the Rescue technicians the caller picks (they
depend on the hierarchy just read). When one part fails the others are cancelled and collected, so nothing is left running
when the session closes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from reconciler.diff import Directories
from reconciler.diff.rules import EntraGroup
from reconciler.engine.session import TenantSession
from reconciler.profile import SolutionProfile
from reconciler.providers.consent import read_consent
from reconciler.providers.dynamics.reader import DynamicsLive, DynamicsReader
from reconciler.providers.graph import read_group
from reconciler.providers.rescue.reader import RescueLive, RescueReader
from reconciler.resources import LiveState, SecretHasher


@dataclass(frozen=True)
class LiveQuery:
    """What to read (``None``, ``False`` or empty: not wanted)."""

    solution_name: str | None = None
    integration: bool = False
    app_id: str | None = None
    session_key: bool = False
    users: tuple[str, ...] = ()  # UPNs whose systemuserid is wanted
    consent_app_id: str | None = None
    entra_groups: tuple[str, ...] = ()  # IDs of the Entra groups whose user members are wanted
    rescue_groups: tuple[str, ...] = ()  # declared Rescue group paths (unknown if the tree is partial)
    rescue_permissions: tuple[str, ...] = ()  # paths of the groups whose permissions are declared
    # (casefolded declared path, node ID) of the groups the tenant files pin (an ambiguous path)
    rescue_group_pins: tuple[tuple[str, str], ...] = ()


@dataclass
class LiveReading:
    """What one read found, per service, and the directories references resolve against."""

    dynamics: DynamicsLive
    rescue: RescueLive
    consent: LiveState = field(default_factory=LiveState)
    entra_groups: dict[str, EntraGroup] = field(default_factory=dict)

    @property
    def directories(self) -> Directories:
        return Directories(
            rescue=self.rescue.directory,
            rescue_error=self.rescue.error,
            users=self.dynamics.users_by_upn if self.dynamics.users_read else None,
            entra_groups=self.entra_groups,
        )

    def state(self) -> LiveState:
        """Everything read, merged into one live state."""
        live = LiveState()
        for part in (self.dynamics.state, self.rescue.state, self.consent):
            live.merge(part)
        return live


TechnicianPicker = Callable[[LiveReading], Iterable[str]]
UserPicker = Callable[[LiveReading], Iterable[str]]


async def read_live(
    session: TenantSession,
    profile: SolutionProfile,
    hasher: SecretHasher,
    query: LiveQuery,
    technicians: TechnicianPicker,
    rule_users: UserPicker | None = None,
) -> LiveReading:
    """Read what ``query`` asks for; ``rule_users`` picks, from the first reads, more Dynamics
    users to look up (the technician rules' members); ``technicians`` then picks the Rescue
    technicians whose SSO ID to read."""
    rescue_reader = RescueReader(session.rescue)
    dynamics_reader = DynamicsReader(session.dataverse, profile, hasher)
    dynamics_task = asyncio.ensure_future(
        dynamics_reader.read(
            solution_name=query.solution_name,
            integration=query.integration,
            app_id=query.app_id,
            session_key=query.session_key,
            users=query.users,
        )
    )
    consent_task = (
        asyncio.ensure_future(read_consent(session.graph, query.consent_app_id))
        if query.consent_app_id is not None
        else None
    )
    group_tasks = {
        group_id: asyncio.ensure_future(read_group(session.graph, group_id))
        for group_id in dict.fromkeys(query.entra_groups)  # each source read once
    }
    pending = [t for t in (dynamics_task, consent_task, *group_tasks.values()) if t is not None]
    try:
        rescue = await rescue_reader.read_tree(query.rescue_groups, dict(query.rescue_group_pins))
        reading = LiveReading(await dynamics_task, rescue)
        reading.entra_groups = {group_id: await task for group_id, task in group_tasks.items()}
        if rule_users is not None:
            await dynamics_reader.read_more_users(reading.dynamics, rule_users(reading))
        wanted = technicians(reading)
        if rescue.directory is not None:
            await rescue_reader.read_technicians(rescue, wanted)
            # After, not beside: a failure of one never leaves the other running unawaited.
            await rescue_reader.read_group_permissions(rescue, query.rescue_permissions)
        if consent_task is not None:
            reading.consent = await consent_task
    finally:
        # One part failed (e.g. credentials refused): stop the others and collect their
        # outcome, so nothing is left running or unretrieved when the session closes.
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
    return reading
