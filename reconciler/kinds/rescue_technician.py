"""A Rescue technician node, keyed by node ID; the reconciler manages its SSO ID (and creates
the technicians the tenant files ask for)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from reconciler.config.models import Tenant
from reconciler.kinds.base import Comparison, DesiredContext, ExportContext, ResourceKind
from reconciler.kinds.needs import RescueCall, TenantNeeds
from reconciler.kinds.rescue_group import RescueGroup
from reconciler.profile import SolutionProfile
from reconciler.resources import Kind, Resource, register

# A Rescue technician the YAML asks to create has no node ID yet: it is keyed by this prefix
# and its e-mail until apply creates it and learns the ID.
NEW_TECHNICIAN_PREFIX = "new:"


def placeholder_email(technician_id: str) -> str | None:
    """The e-mail of a technician still to be created (``new:<email>``), else None."""
    if technician_id.startswith(NEW_TECHNICIAN_PREFIX):
        return technician_id.removeprefix(NEW_TECHNICIAN_PREFIX)
    return None


@register
@dataclass(frozen=True, slots=True)
class RescueTechnician(Resource):
    """A Rescue technician node, keyed by node ID; the reconciler manages only its SSO ID."""

    kind: ClassVar[Kind] = "rescue_technician"
    key_fields: ClassVar[tuple[str, ...]] = ("technician_id",)
    technician_id: str
    email: str | None = None
    sso_id: str | None = None
    # Desired-only, for a technician the YAML asks to create: where and under what name.
    create_group: str | None = field(default=None, compare=False)
    name: str | None = field(default=None, compare=False)
    # Desired-only: the technician rule that produced this mapping (None: listed explicitly).
    source: str | None = field(default=None, compare=False)


class RescueTechnicianKind(ResourceKind):
    type = RescueTechnician
    title = "Rescue technician"
    depends_on = ("rescue_group",)
    section = None  # declared by the technician mappings (``technicians``), exported with them
    not_compared: ClassVar[dict[str, str]] = {
        "create_group": "desired-only: where apply creates a technician the tenant files ask for",
        "name": "desired-only: the name apply creates a technician with",
        "source": "desired-only: the technician rule that produced the mapping (for messages)",
    }

    def desired(self, tenant: Tenant, context: DesiredContext) -> list[Resource]:
        """None here: a Rescue technician is a reference (an e-mail or a node ID) that
        ``diff/resolve.py:technician_nodes`` turns into a resource against the live hierarchy."""
        return []

    def planned_while_unknown(self, want: Resource) -> bool:
        """A technician to create (``new:<email>``) does not exist live: nothing to read first."""
        return isinstance(want, RescueTechnician) and want.technician_id.startswith(NEW_TECHNICIAN_PREFIX)

    def reads_details(self, want: Resource) -> bool:
        """Its SSO ID comes from getUser_v3 by node ID (the hierarchy does not carry it); a
        technician still to be created has no node to read."""
        return isinstance(want, RescueTechnician) and placeholder_email(want.technician_id) is None

    def create_deps(self, want: Resource, comparison: Comparison) -> tuple[str, ...]:
        """A technician created in a group this plan creates waits for the group."""
        if isinstance(want, RescueTechnician) and want.create_group:
            return comparison.pending(f"{RescueGroup.kind}:{want.create_group}")
        return ()

    def label(self, resource: Resource) -> str | None:
        """A node ID says nothing to a reader: the technician's e-mail does."""
        return resource.email if isinstance(resource, RescueTechnician) else None

    def needs(self, tenant: Tenant, profile: SolutionProfile, need: TenantNeeds) -> None:
        """A declared SSO ID is read (getUser_v3) and set (setUser_v2, read-modify-write) on the
        technician's node; a technician to create is made in its group (createUser, setUser_v2,
        and deleteNode of the nameless node a create that lost its e-mail leaves)."""
        for i, tech in enumerate(tenant.technicians):
            why = f"technicians[{i}] ({tech.user})"
            if tech.sso_id is not None:
                for method in ("getUser_v3", "setUser_v2"):
                    need.rescue_call(RescueCall(method, technician=tech.lookup_email), f"{why}: its SSO ID")
            if tech.create is not None:
                new = tech.lookup_email
                for method in ("createUser", "setUser_v2", "deleteNode"):
                    call = RescueCall(method, group=tech.create.group, new_technician=new)
                    need.rescue_call(call, f"{why}: create it in {tech.create.group} if missing")
        for i, rule in enumerate(tenant.technician_rules):
            if rule.sso_id is not None:
                why = f"technician_rules[{i}] ({rule.source} {rule.source_value}): its members' SSO IDs"
                for method in ("getUser_v3", "setUser_v2"):
                    need.rescue_call(RescueCall(method, group=rule.rescue_group or ""), why)

    def export(self, context: ExportContext) -> list[str]:
        """Exported in the technician mappings (``technician_settings.py``): [] here."""
        return []


KIND = RescueTechnicianKind()
