"""One live read for every command (plan, drift, apply's re-check, export, health), in steps.

1. ``read_directories``: Dynamics (its settings rows and the users they name), the Rescue
   hierarchy, Graph's consent lookup and the members of the technician rules' Entra groups,
   concurrently: what references are resolved against (health needs no more).
2. ``read_users``: the Dynamics users known only now (the technician rules' members).
3. The caller resolves (``diff/resolve.py:resolve``, pure) and asks for what that needs:
4. ``read_details``: the SSO IDs of the Rescue technicians by node ID, the permissions of the
   declared groups one live group answers to.

Each step takes values and returns a new ``LiveReading``; none calls back into its caller or
changes the reading it was given (the readers fill fresh records). Within a step, when one part
fails the others are cancelled and collected, so nothing is left running when the session closes.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from reconciler.diff import Directories
from reconciler.diff.rules import EntraGroup
from reconciler.engine.session import TenantSession
from reconciler.kinds.technician_settings import mapped_details
from reconciler.profile import SolutionProfile
from reconciler.providers.consent import read_consent
from reconciler.providers.dynamics.reader import DynamicsReader
from reconciler.providers.dynamics.reading import DynamicsLive, DynamicsQuery
from reconciler.providers.dynamics.settings_read import read_more_users
from reconciler.providers.graph import read_group
from reconciler.providers.rescue.reader import RescueLive, RescueReader
from reconciler.resources import Kind, LiveState, SecretHasher


@dataclass(frozen=True)
class LiveQuery:
    """What the directory step reads (``None``, ``False`` or empty: not wanted)."""

    solution_name: str | None = None
    integration: bool = False
    app_id: str | None = None
    session_key: bool = False
    users: tuple[str, ...] = ()  # UPNs whose systemuserid is wanted
    consent_app_id: str | None = None
    entra_groups: tuple[str, ...] = ()  # IDs of the Entra groups whose user members are wanted
    rescue_groups: tuple[str, ...] = ()  # declared Rescue group paths (unknown if the tree is partial)
    # (casefolded declared path, node ID) of the groups the tenant files pin (an ambiguous path)
    rescue_group_pins: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class DetailQuery:
    """What the details step reads, known once references are resolved."""

    # Per kind, the keys of the objects whose details are wanted (a Rescue technician's SSO ID
    # by node ID, a Rescue group's getGroup_v2 by path): the kind modules say which
    # (``reads_details``), the provider's reader how.
    keys: Mapping[Kind, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class LiveReading:
    """What the steps so far found, per service, and the directories references resolve against."""

    dynamics: DynamicsLive
    rescue: RescueLive
    consent: LiveState = field(default_factory=LiveState)
    entra_groups: Mapping[str, EntraGroup] = field(default_factory=dict)

    @property
    def directories(self) -> Directories:
        return Directories(
            rescue=self.rescue.directory,
            rescue_error=self.rescue.error,
            users=self.dynamics.users_by_upn if self.dynamics.users_read else None,
            entra_groups=self.entra_groups,
        )

    @property
    def root_business_unit(self) -> str | None:
        """The name of the org's root business unit (the default of an application user's)."""
        return self.dynamics.state.facts.get("root_business_unit")

    def export_details(self) -> DetailQuery:
        """What export reads after the directories: the details of the Rescue technicians the
        settings rows point at (those the hierarchy holds)."""
        directory = self.rescue.directory
        if directory is None:
            return DetailQuery()
        return DetailQuery(mapped_details(self.dynamics.state, directory.node_ids))

    def state(self) -> LiveState:
        """Everything read, merged into one live state."""
        return _merged(self.dynamics.state, self.rescue.state, self.consent)


async def read_directories(
    session: TenantSession, profile: SolutionProfile, hasher: SecretHasher, query: LiveQuery
) -> LiveReading:
    """Step 1: Dynamics, the Rescue hierarchy, consent and the Entra groups, concurrently."""
    dynamics_task = asyncio.ensure_future(
        DynamicsReader(session.dataverse, profile, hasher).read(
            DynamicsQuery(
                solution_name=query.solution_name,
                integration=query.integration,
                app_id=query.app_id,
                session_key=query.session_key,
                users=query.users,
            )
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
        rescue = await RescueReader(session.rescue).read_tree(
            query.rescue_groups, dict(query.rescue_group_pins)
        )
        dynamics = await dynamics_task
        groups = {group_id: await task for group_id, task in group_tasks.items()}
        consent = await consent_task if consent_task is not None else LiveState()
    finally:
        # One part failed (e.g. credentials refused): stop the others and collect their
        # outcome, so nothing is left running or unretrieved when the session closes.
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
    return LiveReading(dynamics, rescue, consent, groups)


async def read_users(session: TenantSession, reading: LiveReading, upns: Iterable[str]) -> LiveReading:
    """Step 2: ``reading`` with the Dynamics users of ``upns`` looked up too (those not yet)."""
    upns = list(upns)
    if not upns:
        return reading
    dynamics = dataclasses.replace(
        reading.dynamics,
        state=_merged(reading.dynamics.state),
        users_by_upn=dict(reading.dynamics.users_by_upn),
        missing_users=list(reading.dynamics.missing_users),
    )
    await read_more_users(session.dataverse, dynamics, upns)
    return dataclasses.replace(reading, dynamics=dynamics)


async def read_details(session: TenantSession, reading: LiveReading, wanted: DetailQuery) -> LiveReading:
    """Step 4: ``reading`` with what ``wanted`` names read too (nothing without a hierarchy)."""
    rescue = reading.rescue
    if rescue.directory is None:
        return reading
    details = RescueLive(
        tree=rescue.tree,
        directory=rescue.directory,
        error=rescue.error,
        odd_nodes=list(rescue.odd_nodes),
        group_ids=dict(rescue.group_ids),
    )
    await RescueReader(session.rescue).read_details(details, wanted.keys)
    # The details follow the hierarchy's records: a group read with its permissions replaces it.
    return dataclasses.replace(
        reading, rescue=dataclasses.replace(details, state=_merged(rescue.state, details.state))
    )


def _merged(*parts: LiveState) -> LiveState:
    merged = LiveState()
    for part in parts:
        merged.merge(part)
    return merged
