"""The ``technician`` kind's read in Dynamics: the LogMeIn settings rows and the Dynamics users
the wanted UPNs name (every user of a UPN, disabled ones too), and the later lookup of users
known only after another read (a technician rule's members)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any, ClassVar

from reconciler.diff.resolve import DynamicsUser
from reconciler.errors import AuthError, ProviderError
from reconciler.kinds.technician_settings import TechnicianSettings
from reconciler.providers.dynamics.client import DataverseClient, odata_string
from reconciler.providers.dynamics.reading import DynamicsLive, DynamicsQuery, ReadContext
from reconciler.providers.dynamics.settings import read_settings, shared_rows_note
from reconciler.resources import Kind, Unknown
from reconciler.resources.matching import name_key

USER_LOOKUP_CHUNK = 40  # UPNs per `or` filter; beyond LIST_ALL_USERS_OVER, list every user instead
LIST_ALL_USERS_OVER = 200


class SettingsRead:
    kind: ClassVar[Kind] = TechnicianSettings.kind

    @staticmethod
    def wanted(query: DynamicsQuery) -> bool:
        return True  # the rows are read for the wanted users and for the rows nobody declares

    @staticmethod
    async def read(context: ReadContext, live: DynamicsLive, query: DynamicsQuery) -> None:
        settings = await read_settings(context.client, context.profile)
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
        await _resolve_users(context.client, live, sorted(set(query.users)))
        live.state.listed.add(TechnicianSettings.kind)


def share_rows(live: DynamicsLive) -> None:
    """The one row of a UPN several users share is its owner's, not the UPN's: under the UPN
    it would read as the row of whichever user the tenant files name. Moved to ``shared``."""
    for row in live.state.of_kind(TechnicianSettings.kind):
        if isinstance(row, TechnicianSettings) and len(live.users_by_upn.get(name_key(row.key), ())) > 1:
            del live.state.resources[row.ident]
            live.state.shared[row.ident] = (row,)
            live.state.notes.append(shared_rows_note(row.key, (row,)))


async def read_more_users(client: DataverseClient, live: DynamicsLive, upns: Iterable[str]) -> None:
    """The systemuserids of users known only after another read (a technician rule's
    members). A failure makes every settings row unknown: a missing ID is never guessed."""
    if not live.users_read:
        return  # the settings rows could not be read: they are unknown already
    earlier = list(live.missing_users)
    try:
        await _resolve_users(client, live, sorted({u for u in upns if name_key(u) not in live.users_by_upn}))
    except AuthError:
        raise
    except ProviderError as exc:
        live.users_read = False
        live.state.unknown.append(
            Unknown(TechnicianSettings.kind, "*", f"Dynamics users could not be read: {exc.message}")
        )
        return
    live.missing_users = earlier + live.missing_users


async def _resolve_users(client: DataverseClient, live: DynamicsLive, upns: list[str]) -> None:
    """Every user each wanted UPN names (compared in normal form): a few `or` filters, or
    one paged listing."""
    if not upns:
        live.users_read = True
        return
    select = ["systemuserid", "domainname", "isdisabled"]
    wanted = {name_key(u) for u in upns}
    rows: list[dict[str, Any]] = []
    if len(upns) > LIST_ALL_USERS_OVER:
        rows = await client.list_all("systemusers", select=select, filter="applicationid eq null")
    else:
        for start in range(0, len(upns), USER_LOOKUP_CHUNK):
            chunk = upns[start : start + USER_LOOKUP_CHUNK]
            condition = " or ".join(f"domainname eq {odata_string(u)}" for u in chunk)
            rows += await client.list_all("systemusers", select=select, filter=condition)
    found = users_by_upn(rows, wanted)
    live.users_by_upn.update(found)
    live.missing_users = [u for u in upns if name_key(u) not in found]
    live.users_read = True
    share_rows(live)


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
