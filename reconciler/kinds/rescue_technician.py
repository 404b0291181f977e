"""A Rescue technician node, keyed by node ID; the reconciler manages its SSO ID (and creates
the technicians the tenant files ask for)."""

from __future__ import annotations

from typing import ClassVar

from reconciler.config.models import Tenant
from reconciler.kinds.base import Comparison, DesiredContext, ExportContext, ResourceKind
from reconciler.resources import NEW_TECHNICIAN_PREFIX, RescueGroup, RescueTechnician, Resource


class RescueTechnicianKind(ResourceKind):
    type = RescueTechnician
    title = "Rescue technician"
    depends_on = ("rescue_group",)
    section = None  # declared by the technician mappings (``technicians``), exported with them
    compared = ("email", "sso_id")
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
