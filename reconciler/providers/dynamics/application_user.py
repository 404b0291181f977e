"""The ``application_user`` kind in Dynamics: the integration's application user
(``systemusers`` with ``applicationid``), its business unit and its security roles."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from reconciler.errors import ChangeFailed, PreconditionFailed
from reconciler.kinds.application_user import ApplicationUser
from reconciler.plan import Change, Create, Update
from reconciler.providers.contract import WritesEach
from reconciler.providers.dynamics.client import DataverseClient, odata_string
from reconciler.providers.dynamics.mapping import etag, guid, text
from reconciler.providers.dynamics.reading import DynamicsLive, DynamicsQuery, ReadContext
from reconciler.providers.dynamics.writer import DynamicsWriter, stable_id
from reconciler.resources import Kind, LiveMeta

APP_USER_SELECT = [
    "systemuserid",
    "applicationid",
    "firstname",
    "lastname",
    "internalemailaddress",
    "isdisabled",
    "_businessunitid_value",
]
BUSINESS_UNIT_SELECT = ["businessunitid", "name", "_parentbusinessunitid_value"]


def application_user_from_row(
    row: Mapping[str, Any], role_names: Iterable[str], business_units: Mapping[str, str]
) -> ApplicationUser:
    """``business_units`` maps businessunitid -> name."""
    email = text(row.get("internalemailaddress"))
    return ApplicationUser(
        app_id=guid(row.get("applicationid")) or "",
        first_name=text(row.get("firstname")),
        last_name=text(row.get("lastname")),
        email=email.lower() if email else None,
        business_unit=business_units.get(guid(row.get("_businessunitid_value")) or ""),
        roles=frozenset(role_names),
        meta=LiveMeta(
            id=guid(row.get("systemuserid")) or "",
            etag=etag(row),
            extra=(("business_unit_id", guid(row.get("_businessunitid_value")) or ""),),
        ),
    )


def application_user_to_row(fields: Mapping[str, Any], *, business_unit_id: str | None) -> dict[str, Any]:
    """Columns for create/update (``fullname`` is computed by Dataverse: never sent)."""
    mapping = {"first_name": "firstname", "last_name": "lastname", "email": "internalemailaddress"}
    row: dict[str, Any] = {col: fields[name] for name, col in mapping.items() if fields.get(name) is not None}
    if fields.get("app_id") is not None:
        row["applicationid"] = fields["app_id"]
    if business_unit_id is not None:
        row["businessunitid@odata.bind"] = f"/businessunits({business_unit_id})"
    return row


async def read_business_units(client: DataverseClient) -> list[dict[str, Any]]:
    return await client.list_all("businessunits", select=BUSINESS_UNIT_SELECT)


async def read_application_user(
    client: DataverseClient, app_id: str, business_units: Mapping[str, str]
) -> ApplicationUser | None:
    """The application user of ``app_id`` with its roles (None when there is none)."""
    rows = await client.list_all("systemusers", select=APP_USER_SELECT, filter=f"applicationid eq {app_id}")
    if not rows:
        return None
    row = rows[0]
    roles = await client.list_all(
        f"systemusers({row['systemuserid']})/systemuserroles_association",
        select=["roleid", "name", "_businessunitid_value"],
    )
    return application_user_from_row(row, [str(r["name"]) for r in roles], business_units)


class ApplicationUserRead:
    """The business units always (the root one is the default of a declared user's), the
    application user when its app ID is known."""

    kind: ClassVar[Kind] = ApplicationUser.kind

    @staticmethod
    def wanted(query: DynamicsQuery) -> bool:
        return True

    @staticmethod
    async def read(context: ReadContext, live: DynamicsLive, query: DynamicsQuery) -> None:
        for unit in await read_business_units(context.client):
            unit_id = str(unit["businessunitid"]).lower()
            live.business_units[unit_id] = str(unit.get("name") or "")
            if unit.get("_parentbusinessunitid_value") is None:
                live.root_business_unit = (unit_id, str(unit.get("name") or ""))
        if live.root_business_unit:
            live.state.facts["root_business_unit"] = live.root_business_unit[1]
        if query.app_id is None:
            return
        user = await read_application_user(context.client, query.app_id, live.business_units)
        if user is not None:
            live.state.add(user)
        live.state.listed.add(ApplicationUser.kind)


class ApplicationUserWrites(WritesEach):
    kind = "application_user"

    def __init__(self, dynamics: DynamicsWriter) -> None:
        self.dynamics = dynamics
        self.client = dynamics.client

    async def apply_one(self, change: Change) -> str:
        assert isinstance(change, Create | Update) and isinstance(change.desired, ApplicationUser)
        desired = change.desired
        units = await read_business_units(self.client)
        bu_id = _bu_id(desired.business_unit, units)
        if isinstance(change, Create):
            user_id = stable_id(self.dynamics.org, "appuser", desired.app_id)
            row = application_user_to_row(
                desired.content() | {"app_id": desired.app_id}, business_unit_id=bu_id
            )
            row["accessmode"] = 4  # non-interactive
            # A 412 means an earlier attempt created it: go on with its roles.
            with contextlib.suppress(PreconditionFailed):
                await self.client.create_only("systemusers", user_id, row)
            added = await self._set_roles(user_id, bu_id, set(), set(desired.roles or ()))
            return "created" + (f"; roles added: {', '.join(sorted(added))}" if added else "")
        live = change.live
        assert isinstance(live, ApplicationUser)
        user_id = live.meta.id
        names = {i.path for i in change.items}
        fields = {
            k: v
            for k, v in desired.content().items()
            if k in names and k in ("first_name", "last_name", "email")
        }
        body = application_user_to_row(fields, business_unit_id=bu_id if "business_unit" in names else None)
        done: list[str] = []
        if body:
            await self.client.update("systemusers", user_id, body, etag=None)
            done.append("updated " + ", ".join(sorted(n for n in names if n != "roles")))
        roles_item = next((i for i in change.items if i.path == "roles"), None)
        if roles_item is not None:
            user_bu = live.meta.get("business_unit_id") or bu_id
            added = await self._set_roles(user_id, user_bu, set(roles_item.old), set(roles_item.new))
            if added:
                done.append(f"roles: {', '.join(sorted(added))}")
        return "; ".join(done) or "nothing to do"

    async def _set_roles(self, user_id: str, bu_id: str, old: set[str], new: set[str]) -> list[str]:
        """Associate roles in ``new`` not in ``old`` and remove those in ``old`` not in ``new``."""
        changes: list[str] = []
        current = await self.client.list_all(
            f"systemusers({user_id})/systemuserroles_association", select=["roleid", "name"]
        )
        present = {str(r["name"]).casefold(): str(r["roleid"]) for r in current}
        for name in sorted(new):
            if name.casefold() in present:
                continue
            rows = await self.client.list_all(
                "roles",
                select=["roleid", "name", "_businessunitid_value"],
                filter=f"name eq {odata_string(name)} and _businessunitid_value eq {bu_id}",
            )
            if not rows:
                raise ChangeFailed(f"security role {name!r} does not exist in the user's business unit")
            await self.client.associate(
                "systemusers", user_id, "systemuserroles_association", "roles", str(rows[0]["roleid"])
            )
            changes.append(f"+{name}")
        wanted = {n.casefold() for n in new}
        for name in sorted(old):
            role_id = present.get(name.casefold())
            if name.casefold() not in wanted and role_id:
                await self.client.disassociate("systemusers", user_id, "systemuserroles_association", role_id)
                changes.append(f"-{name}")
        return changes


def _bu_id(name: str | None, units: list[dict[str, Any]]) -> str:
    if name is None:
        roots = [u for u in units if u.get("_parentbusinessunitid_value") is None]
        if roots:
            return str(roots[0]["businessunitid"]).lower()
        raise ChangeFailed("the org has no root business unit")
    for unit in units:
        if str(unit.get("name", "")).casefold() == name.casefold():
            return str(unit["businessunitid"]).lower()
    raise ChangeFailed(f"business unit {name!r} does not exist")
