"""A Rescue technician node, keyed by node ID; the reconciler manages its SSO ID (and creates
the technicians the tenant files ask for)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from reconciler.config.models import Tenant
from reconciler.kinds.base import Comparison, DesiredContext, ExportContext, ResourceKind
from reconciler.kinds.rescue_group import RescueGroup
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

    def export(self, context: ExportContext) -> list[str]:
        """Exported in the technician mappings (``technician_settings.py``): [] here."""
        return []


KIND = RescueTechnicianKind()
