"""The configuration window's singleton row (the integration settings)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, ClassVar

from reconciler.config.models import IntegrationOptions, Tenant
from reconciler.kinds.base import DesiredContext, ExportContext, ResourceKind
from reconciler.kinds.needs import TenantNeeds
from reconciler.kinds.yaml_text import scalar
from reconciler.profile import SolutionProfile
from reconciler.resources import Kind, Resource, Sensitive, register


@register
@dataclass(frozen=True, slots=True)
class IntegrationConfig(Resource):
    """The configuration window's singleton row."""

    kind: ClassVar[Kind] = "integration"
    key_fields: ClassVar[tuple[str, ...]] = ("name",)
    name: str = "configuration"
    instance: str | None = None
    endpoint: str | None = None
    company_id: str | None = None
    sso_password: Sensitive | None = None
    org_url: str | None = None
    office365_tenant_id: str | None = None
    require_active_technician_console: bool | None = None
    close_ticket_on_session_end: bool | None = None
    reassign_case_on_session_start: bool | None = None
    do_not_pass_custom_field_1: bool | None = None


class IntegrationKind(ResourceKind):
    type = IntegrationConfig
    title = "integration settings"
    depends_on = ("solution",)
    section = "integration"
    not_compared: ClassVar[dict[str, str]] = {}

    def desired(self, tenant: Tenant, context: DesiredContext) -> list[Resource]:
        integ = tenant.integration
        if integ is None:
            return []
        profile = context.profile
        return [
            IntegrationConfig(
                instance=integ.instance,
                endpoint=integ.endpoint or profile.integration.instance_endpoints.get(integ.instance),
                company_id=integ.company_id,
                sso_password=context.sso_password,
                org_url=integ.org_url,
                office365_tenant_id=integ.office365_tenant_id,
                **integration_options(integ.options),
            )
        ]

    def needs(self, tenant: Tenant, profile: SolutionProfile, need: TenantNeeds) -> None:
        if tenant.integration is None:
            return
        need.section("integration")
        need.table(["Read", "Create", "Write"], profile.integration.table, "integration")

    def export(self, context: ExportContext) -> list[str]:
        integ = next((r for r in context.live.of_kind(self.name) if isinstance(r, IntegrationConfig)), None)
        if integ is None:
            return []
        lines = ["", "integration:"]
        lines.append(f"  instance: {scalar(integ.instance or 'production')}")
        default_endpoint = context.profile.integration.instance_endpoints.get(integ.instance or "")
        if integ.endpoint and integ.endpoint != default_endpoint:
            lines.append(f"  endpoint: {integ.endpoint}")
        else:
            lines.append(f"  # endpoint: {default_endpoint}   (defaulted from the instance)")
        lines.append(f"  company_id: {json.dumps(integ.company_id or '')}")
        lines.append(f"  sso_password: {context.sso_password_ref}")
        lines.append(f"  org_url: {integ.org_url or context.org_url}")
        lines.append(f"  office365_tenant_id: {integ.office365_tenant_id or context.entra_tenant_id}")
        lines.append("  options:")
        for name in IntegrationOptions.model_fields:
            value = getattr(integ, name)
            lines.append(f"    {name}: {scalar(value)}" if value is not None else f"    # {name}: (not set)")
        return lines


def integration_options(options: IntegrationOptions) -> dict[str, Any]:
    """The configuration window's options by name: ``IntegrationConfig`` uses the same names, so
    a new option is declared in the tenant model and the resource type, nothing here."""
    return {name: getattr(options, name) for name in IntegrationOptions.model_fields}


KIND = IntegrationKind()
