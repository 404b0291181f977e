"""Doctor's privilege check: every Dataverse privilege the tenant needs, held at Organization
level by the reconciler's application user, each missing one grouped as the security role
editor shows it (one row per table with its access level) with one fix per row."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from reconciler.engine.doctor_report import FAIL, PASS, TenantReport
from reconciler.kinds.needs import TenantNeeds
from reconciler.profile import SolutionProfile
from reconciler.providers.dynamics.client import DataverseClient
from reconciler.render.least_privilege import DEPTHS, NEEDED_DEPTH, privilege_rows

_ROLES = (
    "Power Platform admin center > Environments > (the org) > Settings > Users + permissions > Security roles"
)
_ORDER = tuple(DEPTHS)  # Basic < Local < Deep < Global


def held_depths(role_privileges: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Privilege (casefolded) -> the widest depth any of the user's roles holds it at.
    ``Depth`` comes as the enum's name (Web API) or its number (0 Basic .. 3 Global)."""
    held: dict[str, str] = {}
    for entry in role_privileges:
        name = str(entry.get("PrivilegeName") or "").casefold()
        depth = entry.get("Depth")
        if isinstance(depth, int) and 0 <= depth < len(_ORDER):
            depth = _ORDER[depth]
        if not name or depth not in _ORDER:
            continue
        if name not in held or _ORDER.index(depth) > _ORDER.index(held[name]):
            held[name] = str(depth)
    return held


def missing_privileges(needed: Iterable[str], held: Mapping[str, str]) -> dict[str, str | None]:
    """Each needed privilege not held at Organization level -> the level it is held at (None:
    not at all)."""
    missing: dict[str, str | None] = {}
    for name in needed:
        depth = held.get(name.casefold())
        if depth != NEEDED_DEPTH:
            missing[name] = DEPTHS[depth] if depth is not None else None
    return missing


async def check_privileges(
    report: TenantReport, client: DataverseClient, needs: TenantNeeds, user_id: str, profile: SolutionProfile
) -> None:
    body = await client.get(f"systemusers({user_id})/Microsoft.Dynamics.CRM.RetrieveUserPrivileges()")
    missing = missing_privileges(needs.privileges, held_depths(body.get("RolePrivileges") or []))
    if not missing:
        report.add(
            "privileges", PASS, f"all {len(needs.privileges)} needed privileges held at Organization level"
        )
        return
    for row in privilege_rows(missing, needs.privileges, profile):
        lower = [f"{p} at {missing[p]} level" for p in row.privileges if missing[p] is not None]
        held_lower = f"; held only {', '.join(lower)}" if lower else ""
        report.add(
            f"privileges {row.name}",
            FAIL,
            f"missing: {row.text}{held_lower} (for: {'; '.join(row.why)})",
            f"in the application user's security role ({_ROLES}), give {row.text}",
        )
