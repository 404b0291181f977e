"""Desired state: a tenant model -> the resources it declares.

Pure: the caller passes in what is looked up elsewhere (the SSO password's digest, the root
business unit's name). References to live objects are resolved next, in ``diff/resolve.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from reconciler.config.models import IntegrationOptions, Tenant
from reconciler.profile import SolutionProfile
from reconciler.resources import (
    ApplicationUser,
    Consent,
    ExportSettings,
    IntegrationConfig,
    RescueGroup,
    Resource,
    Sensitive,
    SessionKey,
    Solution,
    Unknown,
)
from reconciler.resources.rescue_permissions import canonical


@dataclass
class DesiredState:
    """``declared`` holds the ident of every object the tenant files list, resolved or not: a
    live object among them is never "unmanaged" (nor pruned) just because its reference failed."""

    resources: list[Resource] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    unknown: list[Unknown] = field(default_factory=list)
    declared: set[tuple[str, str]] = field(default_factory=set)
    # Where each technician mapping was declared (user -> YAML path), for located problems.
    technician_paths: dict[str, tuple[str | int, ...]] = field(default_factory=dict)


# In ``DesiredState.declared``: every object of that kind may be declared (a technician rule's
# source could not be read), so none is reported unmanaged or pruned.
ANY_KEY = "*"


Locate = Callable[[tuple[str | int, ...]], str]


def build_desired(
    tenant: Tenant,
    profile: SolutionProfile,
    *,
    sso_password: Sensitive | None,
    root_business_unit: str | None = None,
) -> DesiredState:
    """The tenant's declared resources; the technicians, which are references to live objects,
    are added by the resolution stage (``diff/resolve.py``)."""
    state = DesiredState()
    out = state.resources
    if tenant.solution is not None:
        out.append(
            Solution(
                unique_name=tenant.solution.unique_name or profile.solution.unique_name,
                version=tenant.solution.min_version,
                managed=True,
                package=tenant.solution.package,
            )
        )
    if tenant.integration is not None:
        integ = tenant.integration
        out.append(
            IntegrationConfig(
                instance=integ.instance,
                endpoint=integ.endpoint or profile.integration.instance_endpoints.get(integ.instance),
                company_id=integ.company_id,
                sso_password=sso_password,
                org_url=integ.org_url,
                office365_tenant_id=integ.office365_tenant_id,
                **integration_options(integ.options),
            )
        )
    if tenant.application_user is not None:
        app = tenant.application_user
        out.append(
            ApplicationUser(
                app_id=app.app_id,
                first_name=app.first_name,
                last_name=app.last_name,
                email=app.email,
                business_unit=app.business_unit or root_business_unit,
                roles=frozenset(app.roles),
            )
        )
    if tenant.session_key is not None:
        out.append(
            SessionKey(
                table=profile.session.table,
                key_name=profile.session.key_logical_name,
                status="Active",
            )
        )
    out.extend(_groups(tenant))
    if tenant.consent is not None and tenant.consent.check:
        out.append(Consent(app_id=tenant.consent.app_id, granted=True))
    return state


def integration_options(options: IntegrationOptions) -> dict[str, Any]:
    """The configuration window's options by name: ``IntegrationConfig`` uses the same names, so
    a new option is declared in the tenant model and the resource type, nothing here."""
    return {name: getattr(options, name) for name in IntegrationOptions.model_fields}


def _groups(tenant: Tenant) -> list[Resource]:
    """Declared groups plus their undeclared ancestors (which must exist for them to)."""
    declared = {g.path.casefold(): g for g in tenant.rescue_groups}
    result: dict[str, Resource] = {}
    for group in tenant.rescue_groups:
        parts = group.path.split("/")
        for depth in range(1, len(parts)):
            ancestor = "/".join(parts[:depth])
            if ancestor.casefold() not in declared and ancestor.casefold() not in result:
                result[ancestor.casefold()] = RescueGroup(path=ancestor)
        export = None
        if group.export is not None:
            e = group.export
            export = ExportSettings(
                url=e.url,
                at_session_start=e.at_session_start,
                at_session_end=e.at_session_end,
                format=e.format,
            )
        result[group.path.casefold()] = RescueGroup(
            path=group.path,
            export=export,
            confirmed=group.confirmed.isoformat() if group.confirmed else None,
            permissions=canonical(group.permissions) if group.permissions is not None else None,
        )
    return sorted(result.values(), key=lambda r: r.key.count("/"))
