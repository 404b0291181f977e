"""The ``technician`` kind in Dynamics: each user's LogMeIn settings row, keyed by its user.

Its columns are the ``technician_settings`` lines of the column table (``profile/columns.py``),
mapped generically; the auth code column (filled by the integration at run time) is never
selected, written or exported. Every settings-row change of a wave goes in ``$batch`` requests,
and rows are re-listed right before creating, so a row the integration auto-created meanwhile
is adopted and completed instead of duplicated.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reconciler.config.text import excerpt
from reconciler.errors import ApiError, ChangeFailed
from reconciler.kinds.rescue_technician import placeholder_email
from reconciler.kinds.technician_settings import TechnicianSettings
from reconciler.plan import Change, Create, Delete, Outcome, Update
from reconciler.profile import SolutionProfile
from reconciler.providers.contract import WritesTogether
from reconciler.providers.dynamics.batch import BatchOperation
from reconciler.providers.dynamics.client import DataverseClient
from reconciler.providers.dynamics.mapping import etag, guid, mapped_columns, read_values, write_values
from reconciler.providers.dynamics.writer import DynamicsWriter, stable_id
from reconciler.resources import LiveMeta
from reconciler.resources.matching import name_key

SECTION = "technician_settings"
SETTINGS_FIELDS = tuple(c.role for c in mapped_columns(SECTION))


def settings_select(profile: SolutionProfile) -> list[str]:
    ts = profile.technician_settings
    return [ts.id_column, ts.user_value_column, *(ts.columns[f] for f in SETTINGS_FIELDS), "modifiedon"]


@dataclass(frozen=True)
class SettingsRows:
    """Settings rows keyed by user, plus what did not fit that shape.

    ``shared`` holds, per UPN, the row of each of several Dynamics users sharing that UPN (a
    disabled user keeps its domainname): no one of them is the UPN's row; the comparison takes
    the row whose owner is the user the tenant files resolve the UPN to, by systemuserid."""

    by_user: dict[str, TechnicianSettings]
    duplicates: list[str]
    orphans: list[str]
    shared: dict[str, tuple[TechnicianSettings, ...]] = field(default_factory=dict)


def settings_from_rows(
    rows: Iterable[Mapping[str, Any]], users: Mapping[str, str], profile: SolutionProfile
) -> SettingsRows:
    """Rows -> resources keyed by the user's UPN; a row is its owner's (by systemuserid).

    ``users`` maps systemuserid -> UPN. When one user has several rows, the most recently
    modified one is kept (it is what the integration reads last) and the others are reported.
    Rows of several users sharing a UPN are never narrowed down by date or order: they all go to
    ``shared``.
    """
    ts = profile.technician_settings
    by_owner: dict[str, list[Mapping[str, Any]]] = {}
    orphans: list[str] = []
    for row in rows:
        user_id = guid(row.get(ts.user_value_column)) or ""
        if user_id not in users:
            orphans.append(str(row.get(ts.id_column, "")))
            continue
        by_owner.setdefault(user_id, []).append(row)
    owned: dict[str, list[TechnicianSettings]] = {}
    duplicates: list[str] = []
    for user_id, group in sorted(by_owner.items()):
        upn = users[user_id]
        group.sort(key=lambda r: (str(r.get("modifiedon") or ""), str(r.get(ts.id_column))), reverse=True)
        keep = group[0]
        if len(group) > 1:
            others = ", ".join(str(r.get(ts.id_column)) for r in group[1:])
            duplicates.append(
                f"{upn} (user {user_id}) has {len(group)} LogMeIn settings rows; keeping "
                f"{keep.get(ts.id_column)} (most recently modified), not managing {others}"
            )
        owned.setdefault(name_key(upn), []).append(
            TechnicianSettings(
                user=upn,
                **read_values(keep, profile, SECTION),
                user_id=user_id,
                meta=LiveMeta(id=str(keep.get(ts.id_column, "")), etag=etag(keep)),
            )
        )
    by_user: dict[str, TechnicianSettings] = {}
    shared: dict[str, tuple[TechnicianSettings, ...]] = {}
    for found in owned.values():
        if len(found) == 1:
            by_user[found[0].user] = found[0]
        else:
            shared[found[0].user] = tuple(found)
    return SettingsRows(by_user, duplicates, orphans, shared)


def shared_rows_note(upn: str, rows: Sequence[TechnicianSettings]) -> str:
    """What a note says of the rows of several users sharing ``upn``."""
    shown = ", ".join(f"row {r.meta.id} of user {r.user_id}" for r in rows)
    return (
        f"{excerpt(upn)} is the UPN of several Dynamics users; their LogMeIn settings rows: {shown}. "
        "Each row is its own user's (by systemuserid): none is changed or pruned for the UPN alone "
        "(pin the user meant with dynamics_user_id)"
    )


def settings_to_row(
    fields: Mapping[str, Any], profile: SolutionProfile, *, user_id: str | None = None
) -> dict[str, Any]:
    """Columns to write for a settings row (the auth code column is never written)."""
    row = write_values(fields, profile, SECTION)
    if user_id is not None:
        row[f"{profile.technician_settings.user_navigation}@odata.bind"] = f"/systemusers({user_id})"
    return row


async def read_settings(client: DataverseClient, profile: SolutionProfile) -> SettingsRows:
    """Every settings row with its user's UPN (one paged listing, the user expanded)."""
    ts = profile.technician_settings
    rows = await client.list_all(
        ts.entity_set,
        select=settings_select(profile),
        expand=f"{ts.user_navigation}($select=systemuserid,domainname)",
    )
    users: dict[str, str] = {}
    for row in rows:
        user = row.get(ts.user_navigation)
        if isinstance(user, dict) and user.get("domainname"):
            users[str(user["systemuserid"]).lower()] = str(user["domainname"]).lower()
    return settings_from_rows(rows, users, profile)


class SettingsWrites(WritesTogether):
    kind = "technician"

    def __init__(self, dynamics: DynamicsWriter) -> None:
        self.dynamics = dynamics

    async def apply_group(self, changes: Sequence[Change], created: Mapping[str, str]) -> list[Outcome]:
        """All settings-row changes in ``$batch`` requests; one outcome per change.

        ``created`` maps ``new:<email>`` placeholders to node IDs created in this run.
        """
        client = self.dynamics.client
        ts = self.dynamics.profile.technician_settings
        creates = [c for c in changes if isinstance(c, Create)]
        existing: dict[str, tuple[str, str]] = {}
        if creates:
            rows = await client.list_all(ts.entity_set, select=[ts.id_column, ts.user_value_column])
            for row in rows:
                user = str(row.get(ts.user_value_column) or "").lower()
                if user:
                    existing.setdefault(user, (str(row[ts.id_column]), str(row.get("@odata.etag") or "")))
        ops: list[BatchOperation] = []
        owners: list[tuple[Change, str]] = []
        outcomes: list[Outcome] = []
        for change in changes:
            try:
                op, note = self.operation(change, existing, created)
            except ChangeFailed as exc:
                outcomes.append(Outcome(change.id, "failed", str(exc)))
                continue
            ops.append(BatchOperation(**op, content_id=str(len(ops) + 1)))
            owners.append((change, note))
        if ops:
            results = await client.batch(ops, change_set=False, continue_on_error=True)
            for (change, note), result in zip(owners, results, strict=True):
                if result.ok or (result.status == 412 and note == "created"):
                    outcomes.append(
                        Outcome(
                            change.id, "done", note if result.ok else "already created by an earlier attempt"
                        )
                    )
                else:
                    outcomes.append(Outcome(change.id, "failed", _batch_error(result.status, result.error)))
        return outcomes

    def operation(
        self, change: Change, existing: Mapping[str, tuple[str, str]], technician_ids: Mapping[str, str]
    ) -> tuple[dict[str, Any], str]:
        """The batch operation of one change, and what it will have done."""
        profile = self.dynamics.profile
        ts = profile.technician_settings
        if isinstance(change, Delete):
            return {
                "method": "DELETE",
                "path": f"{ts.entity_set}({change.live.meta.id})",
                "headers": {"If-Match": change.live.meta.etag or "*"},
            }, "deleted"
        assert isinstance(change, Create | Update) and isinstance(change.desired, TechnicianSettings)
        desired = change.desired
        fields = {name: getattr(desired, name) for name in SETTINGS_FIELDS}
        tech = desired.technician_id
        pending_email = placeholder_email(tech) if tech else None
        if tech and pending_email is not None:
            if tech not in technician_ids:
                raise ChangeFailed(f"the Rescue technician {pending_email} was not created")
            fields["technician_id"] = technician_ids[tech]
        if isinstance(change, Update):
            names = {i.path for i in change.items}
            body = settings_to_row({k: v for k, v in fields.items() if k in names}, profile)
            live = change.live
            return {
                "method": "PATCH",
                "path": f"{ts.entity_set}({live.meta.id})",
                "body": body,
                "headers": {"If-Match": live.meta.etag or "*"},
            }, "updated " + ", ".join(sorted(names))
        user_id = desired.user_id
        if not user_id:
            raise ChangeFailed(f"Dynamics user {desired.user} was not found at plan time")
        if user_id in existing:
            row_id, row_etag = existing[user_id]
            body = settings_to_row(fields, profile)
            return {
                "method": "PATCH",
                "path": f"{ts.entity_set}({row_id})",
                "body": body,
                "headers": {"If-Match": row_etag or "*"},
            }, "adopted the row that appeared since the plan"
        body = settings_to_row(fields, profile, user_id=user_id)
        row_id = stable_id(self.dynamics.org, "settings", user_id)
        return {
            "method": "PATCH",
            "path": f"{ts.entity_set}({row_id})",
            "body": body,
            "headers": {"If-None-Match": "*"},
        }, "created"


def _batch_error(status: int, error: ApiError | None) -> str:
    if status == 412:
        return "changed since the plan was made (ETag mismatch); plan again"
    if error is not None:
        return error.message
    return f"HTTP {status}"
