"""Read a tenant's Dynamics live state: solution, configuration row, application user and its
roles, LogMeIn settings rows with their users, the Session Key and its index job.

Each part is read independently: a part that fails becomes ``Unknown`` for its kind and the
others go on. Tables are listed in pages (O(pages), never one GET per user).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Coroutine, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.diff.resolve import DynamicsUser
from reconciler.errors import AuthError, NotFoundError, ProviderError
from reconciler.kinds.technician_settings import TechnicianSettings
from reconciler.profile import SolutionProfile
from reconciler.providers.dynamics.application_user import read_application_user, read_business_units
from reconciler.providers.dynamics.client import DataverseClient, odata_string
from reconciler.providers.dynamics.integration import read_integration
from reconciler.providers.dynamics.session_key import read_session_key
from reconciler.providers.dynamics.settings import read_settings, shared_rows_note
from reconciler.providers.dynamics.solution import read_solutions
from reconciler.resources import Kind, LiveState, SecretHasher, Unknown
from reconciler.resources.matching import name_key

log = logging.getLogger(__name__)

USER_LOOKUP_CHUNK = 40  # UPNs per `or` filter; beyond LIST_ALL_USERS_OVER, list every user instead
LIST_ALL_USERS_OVER = 200


@dataclass
class DynamicsLive:
    """Live state plus the lookups apply needs (UPN -> systemuserid, BU ids, roles by BU)."""

    state: LiveState = field(default_factory=LiveState)
    # name_key(UPN) -> every Dynamics user with that domainname, disabled ones too: one UPN
    # naming several users is ambiguous (diff/resolve.py), never "the last one listed".
    users_by_upn: dict[str, tuple[DynamicsUser, ...]] = field(default_factory=dict)
    users_read: bool = False
    missing_users: list[str] = field(default_factory=list)
    root_business_unit: tuple[str, str] | None = None  # (id, name)
    business_units: dict[str, str] = field(default_factory=dict)  # id -> name


class DynamicsReader:
    def __init__(self, client: DataverseClient, profile: SolutionProfile, hasher: SecretHasher) -> None:
        self.client = client
        self.profile = profile
        self.hasher = hasher

    async def read(
        self,
        *,
        solution_name: str | None,
        integration: bool,
        app_id: str | None,
        session_key: bool,
        users: Iterable[str],
    ) -> DynamicsLive:
        live = DynamicsLive()
        wanted_users = sorted(set(users))
        jobs: list[tuple[tuple[Kind, ...], Coroutine[Any, Any, None]]] = []
        if solution_name:
            jobs.append((("solution",), self._solution(live, solution_name)))
        if integration:
            jobs.append((("integration",), self._integration(live)))
        jobs.append((("application_user",), self._business_units_and_app_user(live, app_id)))
        if session_key:
            jobs.append((("session_key",), self._session_key(live)))
        jobs.append((("technician",), self._settings(live, wanted_users)))
        results = await asyncio.gather(*(coro for _, coro in jobs), return_exceptions=True)
        for (kinds, _), result in zip(jobs, results, strict=True):
            if isinstance(result, AuthError):
                raise result
            if isinstance(result, ProviderError):
                log.debug("dynamics read of %s failed: %s", kinds, result.message)
                for kind in kinds:
                    live.state.unknown.append(Unknown(kind, "*", result.message))
            elif isinstance(result, BaseException):
                raise result
        return live

    async def _solution(self, live: DynamicsLive, name: str) -> None:
        for solution in await read_solutions(self.client, name):
            live.state.add(solution)
        live.state.listed.add("solution")

    async def _integration(self, live: DynamicsLive) -> None:
        config, note = await read_integration(self.client, self.profile, self.hasher)
        if note:
            live.state.notes.append(note)
        if config is not None:
            live.state.add(config)
        live.state.listed.add("integration")

    async def _business_units_and_app_user(self, live: DynamicsLive, app_id: str | None) -> None:
        for unit in await read_business_units(self.client):
            unit_id = str(unit["businessunitid"]).lower()
            live.business_units[unit_id] = str(unit.get("name") or "")
            if unit.get("_parentbusinessunitid_value") is None:
                live.root_business_unit = (unit_id, str(unit.get("name") or ""))
        if live.root_business_unit:
            live.state.facts["root_business_unit"] = live.root_business_unit[1]
        if app_id is None:
            return
        user = await read_application_user(self.client, app_id, live.business_units)
        if user is not None:
            live.state.add(user)
        live.state.listed.add("application_user")

    async def _session_key(self, live: DynamicsLive) -> None:
        session = self.profile.session
        try:
            keys = await read_session_key(self.client, self.profile)
        except NotFoundError:
            live.state.notes.append(f"table {session.table} does not exist (is the solution installed?)")
            live.state.listed.add("session_key")
            return
        for key in keys:
            live.state.add(key)
        live.state.listed.add("session_key")

    async def _settings(self, live: DynamicsLive, wanted: list[str]) -> None:
        settings = await read_settings(self.client, self.profile)
        live.state.notes.extend(settings.duplicates)
        if settings.orphans:
            live.state.notes.append(
                f"{len(settings.orphans)} LogMeIn settings row(s) point at no existing user: "
                + ", ".join(settings.orphans[:10])
            )
        # Every wanted UPN is looked up among all users, even one whose row named its user: another
        # user (a disabled one) may have the same domainname, and then neither is chosen.
        for resource in settings.by_user.values():
            live.state.add(resource)
        for upn, rows in sorted(settings.shared.items()):
            live.state.shared[(TechnicianSettings.kind, upn)] = rows
            live.state.notes.append(shared_rows_note(upn, rows))
        await self._resolve_users(live, wanted)
        live.state.listed.add("technician")

    @staticmethod
    def _share_rows(live: DynamicsLive) -> None:
        """The one row of a UPN several users share is its owner's, not the UPN's: under the UPN
        it would read as the row of whichever user the tenant files name. Moved to ``shared``."""
        for row in live.state.of_kind(TechnicianSettings.kind):
            if isinstance(row, TechnicianSettings) and len(live.users_by_upn.get(name_key(row.key), ())) > 1:
                del live.state.resources[row.ident]
                live.state.shared[row.ident] = (row,)
                live.state.notes.append(shared_rows_note(row.key, (row,)))

    async def read_more_users(self, live: DynamicsLive, upns: Iterable[str]) -> None:
        """The systemuserids of users known only after another read (a technician rule's
        members). A failure makes every settings row unknown: a missing ID is never guessed."""
        if not live.users_read:
            return  # the settings rows could not be read: they are unknown already
        earlier = list(live.missing_users)
        try:
            await self._resolve_users(live, sorted({u for u in upns if name_key(u) not in live.users_by_upn}))
        except AuthError:
            raise
        except ProviderError as exc:
            live.users_read = False
            live.state.unknown.append(
                Unknown("technician", "*", f"Dynamics users could not be read: {exc.message}")
            )
            return
        live.missing_users = earlier + live.missing_users

    async def _resolve_users(self, live: DynamicsLive, upns: list[str]) -> None:
        """Every user each wanted UPN names (compared in normal form): a few `or` filters, or
        one paged listing."""
        if not upns:
            live.users_read = True
            return
        select = ["systemuserid", "domainname", "isdisabled"]
        wanted = {name_key(u) for u in upns}
        rows: list[dict[str, Any]] = []
        if len(upns) > LIST_ALL_USERS_OVER:
            rows = await self.client.list_all("systemusers", select=select, filter="applicationid eq null")
        else:
            for start in range(0, len(upns), USER_LOOKUP_CHUNK):
                chunk = upns[start : start + USER_LOOKUP_CHUNK]
                condition = " or ".join(f"domainname eq {odata_string(u)}" for u in chunk)
                rows += await self.client.list_all("systemusers", select=select, filter=condition)
        found = users_by_upn(rows, wanted)
        live.users_by_upn.update(found)
        live.missing_users = [u for u in upns if name_key(u) not in found]
        live.users_read = True
        self._share_rows(live)


def users_by_upn(
    rows: Iterable[Mapping[str, Any]], wanted: Collection[str]
) -> dict[str, tuple[DynamicsUser, ...]]:
    """``systemusers`` rows -> every user of each wanted UPN (``name_key``), disabled ones too,
    in a stable order: several users of one UPN are the caller's ambiguity, not a choice here."""
    found: dict[str, dict[str, DynamicsUser]] = {}
    for row in rows:
        upn = str(row.get("domainname") or "")
        key = name_key(upn)
        if upn and key in wanted:
            user = DynamicsUser(str(row["systemuserid"]).lower(), upn, row.get("isdisabled") is True)
            found.setdefault(key, {})[user.id] = user
    return {key: tuple(sorted(users.values(), key=lambda u: u.id)) for key, users in found.items()}
