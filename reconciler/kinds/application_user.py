"""The integration's application user and its security roles."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from reconciler.config.models import DEFAULT_APP_ID, DEFAULT_ROLE, Tenant
from reconciler.kinds.base import Comparison, DesiredContext, ExportContext, ResourceKind, field_changes
from reconciler.kinds.needs import TenantNeeds
from reconciler.kinds.yaml_text import scalar
from reconciler.plan import FieldChange, Update
from reconciler.profile import SolutionProfile
from reconciler.resources import Kind, Resource, Unmanaged, register


@register
@dataclass(frozen=True, slots=True)
class ApplicationUser(Resource):
    """The integration's application user and its security roles (names, case-folded)."""

    kind: ClassVar[Kind] = "application_user"
    key_fields: ClassVar[tuple[str, ...]] = ("app_id",)
    app_id: str
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    business_unit: str | None = None
    roles: frozenset[str] | None = None


class ApplicationUserKind(ResourceKind):
    type = ApplicationUser
    title = "application user"
    depends_on = ("solution",)
    section = "application_user"
    not_compared: ClassVar[dict[str, str]] = {}

    def desired(self, tenant: Tenant, context: DesiredContext) -> list[Resource]:
        app = tenant.application_user
        if app is None:
            return []
        return [
            ApplicationUser(
                app_id=app.app_id,
                first_name=app.first_name,
                last_name=app.last_name,
                email=app.email,
                business_unit=app.business_unit or context.root_business_unit,
                roles=frozenset(app.roles),
            )
        ]

    def plan(
        self, want: Resource, have: Resource | None, deps: tuple[str, ...], comparison: Comparison
    ) -> None:
        """Roles are a set compared case-insensitively: declared roles are added; a role only the
        live user has is reported unmanaged, and removed only with ``prune.application_user_roles``."""
        if not isinstance(want, ApplicationUser) or not isinstance(have, ApplicationUser):
            super().plan(want, have, deps, comparison)
            return
        scalars = tuple(name for name in self.compared if name != "roles")
        items = field_changes(want, have, scalars) + _roles(want, have, comparison)
        if items:
            comparison.add(Update(self.name, want.key, deps, want, have, items))

    def needs(self, tenant: Tenant, profile: SolutionProfile, need: TenantNeeds) -> None:
        if tenant.application_user is None:
            return
        need.table(["Read", "Create", "Write", "Append"], "User", "application_user")
        need.table(["Read", "AppendTo"], "Role", "application_user (its roles)")
        need.table(["Read"], "BusinessUnit", "application_user")

    def export(self, context: ExportContext) -> list[str]:
        app = next((r for r in context.live.of_kind(self.name) if isinstance(r, ApplicationUser)), None)
        if app is None:
            return []
        lines = ["", "application_user:"]
        if app.app_id != DEFAULT_APP_ID:
            lines.append(f"  app_id: {app.app_id}")
        lines.append(f"  first_name: {scalar(app.first_name or '')}")
        lines.append(f"  last_name: {scalar(app.last_name or '')}")
        if app.email:
            lines.append(f"  email: {app.email}")
        if app.business_unit and app.business_unit != context.root_business_unit:
            lines.append(f"  business_unit: {scalar(app.business_unit)}")
        roles = sorted(app.roles or ())
        lines.append("  roles: [" + ", ".join(scalar(r) for r in roles) + "]")
        if DEFAULT_ROLE.casefold() not in {r.casefold() for r in roles}:
            lines.append(
                f"  # the role {DEFAULT_ROLE!r} is missing live; add it above to have apply grant it"
            )
        return lines


def _roles(want: ApplicationUser, have: ApplicationUser, comparison: Comparison) -> tuple[FieldChange, ...]:
    prune = comparison.prune.application_user_roles
    wanted = {r.casefold(): r for r in want.roles or ()}
    present = {r.casefold(): r for r in have.roles or ()}
    if not prune:
        for role in sorted(present[r] for r in present if r not in wanted):
            comparison.add_unmanaged(
                Unmanaged(want.kind, want.key, f"extra security role {role!r} (not declared)")
            )
    target = set(wanted) | (set() if prune else set(present))
    if target == set(present):
        return ()
    new = sorted(wanted.get(r) or present[r] for r in target)
    return (FieldChange("roles", sorted(present.values()), new),)


KIND = ApplicationUserKind()
