"""A user's LogMeIn settings row in Dynamics: which Rescue technician the user is, and the SSO ID."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import ClassVar

from reconciler.config.models import Tenant
from reconciler.kinds.base import ANY_KEY, Comparison, DesiredContext, ExportContext, ResourceKind
from reconciler.kinds.needs import (
    GROUP_MEMBERS_PERMISSION,
    MEMBER_PROPERTIES_PERMISSION,
    TenantNeeds,
    add_reason,
)
from reconciler.kinds.rescue_technician import RescueTechnician
from reconciler.kinds.yaml_text import scalar
from reconciler.plan import Delete
from reconciler.profile import SolutionProfile
from reconciler.resources import Kind, LiveState, Resource, Unmanaged, register


@register
@dataclass(frozen=True, slots=True)
class TechnicianSettings(Resource):
    """A user's LogMeIn settings row (Dynamics). The runtime auth code is never part of it."""

    kind: ClassVar[Kind] = "technician"
    key_fields: ClassVar[tuple[str, ...]] = ("user",)
    user: str
    technician_id: str | None = None
    sso_id: str | None = None
    # The user's systemuserid: resolved from ``user`` (desired) or read with the row (live).
    user_id: str | None = field(default=None, compare=False)
    # Desired-only: the technician rule that produced this mapping (None: listed explicitly).
    source: str | None = field(default=None, compare=False)


class TechnicianSettingsKind(ResourceKind):
    type = TechnicianSettings
    title = "technician settings"
    depends_on = ("solution", "rescue_technician")
    section = "technicians"
    not_compared: ClassVar[dict[str, str]] = {
        "user_id": "carried for the writer: the user's systemuserid, resolved from `user` (the identity)",
        "source": "desired-only: the technician rule that produced the mapping (for messages)",
    }

    def desired(self, tenant: Tenant, context: DesiredContext) -> list[Resource]:
        """None here: a mapping names a user and a Rescue technician, references that
        ``diff/resolve.py`` resolves against the live directories."""
        return []

    def plan(
        self, want: Resource, have: Resource | None, deps: tuple[str, ...], comparison: Comparison
    ) -> None:
        """A live row is its owner's: the one of the user ``want`` resolved to (``user_id``),
        among the rows of users sharing the UPN too; a row of another user is never updated
        into this one's (it is left alone, and this user's row is created)."""
        owned = [
            r
            for r in (have, *comparison.live.shared.get(want.ident, ()))
            if isinstance(r, TechnicianSettings)
            and isinstance(want, TechnicianSettings)
            and r.user_id == want.user_id
        ]
        super().plan(want, owned[0] if owned else None, deps, comparison)

    def create_deps(self, want: Resource, comparison: Comparison) -> tuple[str, ...]:
        """A row that names a Rescue technician this plan creates or changes waits for it."""
        if isinstance(want, TechnicianSettings) and want.technician_id:
            return comparison.pending(f"{RescueTechnician.kind}:{want.technician_id}")
        return ()

    def after_all(self, comparison: Comparison) -> None:
        """A live row of a user the tenant files do not list is unmanaged, or deleted with
        ``prune.technicians``; a listed but unresolved user is neither."""
        declared = comparison.declared()
        if (self.name, ANY_KEY) in declared:
            return  # a technician rule's source is unknown: any row might be one it maps
        for live in comparison.live.of_kind(self.name):
            if live.ident in declared:
                continue
            if comparison.prune.technicians:
                comparison.add(Delete(self.name, live.key, (), live=live))
            else:
                note = "LogMeIn settings row of a user the tenant files do not list"
                comparison.add_unmanaged(Unmanaged(self.name, live.key, note))
        for ident, rows in comparison.live.shared.items():
            if ident[0] == self.name and ident not in declared:
                # Never pruned: which user's row the UPN means is not known.
                owners = ", ".join(
                    f"{r.meta.id} (user {r.user_id})" for r in rows if isinstance(r, TechnicianSettings)
                )
                note = f"LogMeIn settings rows of users sharing a UPN the tenant files do not list: {owners}"
                comparison.add_unmanaged(Unmanaged(self.name, ident[1], note))

    def needs(self, tenant: Tenant, profile: SolutionProfile, need: TenantNeeds) -> None:
        """Listed technicians and rules alike write settings rows that point at their users; an
        Entra rule reads its group's members in Graph."""
        settings = profile.technician_settings.table
        for why in technician_sources(tenant):
            need.section("technician_settings")
            need.table(["Read", "AppendTo"], "User", why)  # the UPN's systemuserid; the row's lookup
            need.table(["Read", "Create", "Write", "Append"], settings, why)
        if tenant.prune.technicians:
            need.table(["Delete"], settings, "prune.technicians")
        for i, rule in enumerate(tenant.technician_rules):
            if rule.entra_group is not None:
                why = f"technician_rules[{i}] (entra_group {rule.entra_group})"
                need.graph_permission(GROUP_MEMBERS_PERMISSION, why)
                need.graph_permission(MEMBER_PROPERTIES_PERMISSION, f"{why}: the members' userPrincipalName")
                add_reason(need.entra_groups, rule.entra_group.lower(), f"technician_rules[{i}]")

    def export(self, context: ExportContext) -> list[str]:
        """One mapping per row; a row whose technician another row already names is left out
        (commented), the row of the technician's own e-mail first."""
        rows = [r for r in context.live.of_kind(self.name) if isinstance(r, TechnicianSettings)]
        if not rows:
            return []
        rescue = {
            r.technician_id: r
            for r in context.live.of_kind(RescueTechnician.kind)
            if isinstance(r, RescueTechnician)
        }
        emails = context.node_emails
        lines = ["", "technicians:"]
        owners: dict[str, str] = {}
        for row in sorted(rows, key=lambda r: (emails.get(r.technician_id or "") != r.user, r.user)):
            owner = owners.setdefault(row.technician_id or "", row.user)
            if row.technician_id and owner != row.user:
                lines.append(
                    f"  # - user: {row.user}   left out: its row points at Rescue technician "
                    f"{row.technician_id}, which {owner} is mapped to; fix one of the rows"
                )
                continue
            lines += _mapping(row, emails, rescue)
        return lines


def mapped_details(state: LiveState, node_ids: Collection[str]) -> dict[Kind, tuple[str, ...]]:
    """What export reads after the directories, per kind: the SSO IDs of the Rescue technicians
    the live settings rows point at (an exported mapping names its technician's SSO ID)."""
    return {RescueTechnician.kind: tuple(mapped_technician_ids(state, node_ids))}


def mapped_technician_ids(state: LiveState, node_ids: Collection[str]) -> list[str]:
    """The Rescue technicians the live settings rows point at, those of ``node_ids`` (export
    reads their SSO IDs)."""
    rows = state.every(TechnicianSettings.kind)
    ids = [r.technician_id for r in rows if isinstance(r, TechnicianSettings) and r.technician_id]
    return [i for i in dict.fromkeys(ids) if i in node_ids]


def _mapping(
    row: TechnicianSettings, emails: Mapping[str, str], rescue: dict[str, RescueTechnician]
) -> list[str]:
    lines = [f"  - user: {row.user}"]
    email = emails.get(row.technician_id or "", "")
    if email and email != row.user:
        lines.append(f"    rescue_email: {email}")
    elif not email and row.technician_id:
        lines.append(
            f"    technician_id: {json.dumps(row.technician_id)}   # no Rescue technician with this node ID found"
        )
    elif not email:  # an empty technician_id would not validate
        lines.append("    # the settings row names no Rescue technician: add rescue_email or technician_id")
    live_rescue = rescue.get(row.technician_id or "")
    if row.sso_id and live_rescue is not None and live_rescue.sso_id != row.sso_id:
        lines.append(
            f"    # sso_id left out: Dynamics has {row.sso_id!r}, Rescue has {live_rescue.sso_id!r}; "
            "decide which is right and add `sso_id:`"
        )
    elif row.sso_id:
        lines.append(f"    sso_id: {scalar(row.sso_id)}")
    return lines


def technician_sources(model: Tenant) -> list[str]:
    """Every declared source of technicians, named as the tenant file names it."""
    sources = ["technicians"] if model.technicians else []
    for i, rule in enumerate(model.technician_rules):
        kind = "entra_group" if rule.entra_group is not None else "rescue_group"
        sources.append(f"technician_rules[{i}] ({kind})")
    return sources


KIND = TechnicianSettingsKind()
