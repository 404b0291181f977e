"""Desired state: a tenant model (plus the references resolved against live state) -> resources.

Pure: the caller passes in everything looked up elsewhere (the SSO password's digest, the
Rescue directory of technicians, the root business unit's name).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from reconciler.config.models import Tenant
from reconciler.profile import SolutionProfile
from reconciler.resources import (
    ApplicationUser,
    Consent,
    ExportSettings,
    IntegrationConfig,
    RescueGroup,
    RescueTechnician,
    Resource,
    Sensitive,
    SessionKey,
    Solution,
    TechnicianSettings,
    Unknown,
)
from reconciler.resources.kinds import NEW_TECHNICIAN_PREFIX


@dataclass(frozen=True)
class RescueDirectory:
    """What the Rescue hierarchy says about technicians (read once per tenant)."""

    by_email: Mapping[str, str]  # lower-case email -> node ID
    node_ids: frozenset[str]  # node IDs of technicians


@dataclass
class DesiredState:
    """``declared`` holds the ident of every object the tenant files list, resolved or not: a
    live object among them is never "unmanaged" (nor pruned) just because its reference failed."""

    resources: list[Resource] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    unknown: list[Unknown] = field(default_factory=list)
    declared: set[tuple[str, str]] = field(default_factory=set)


Locate = Callable[[tuple[str | int, ...]], str]


def build_desired(
    tenant: Tenant,
    profile: SolutionProfile,
    *,
    sso_password: Sensitive | None,
    directory: RescueDirectory | None,
    directory_error: str = "",
    root_business_unit: str | None = None,
    locate: Locate | None = None,
) -> DesiredState:
    """The tenant's desired resources; unresolvable references become located problems."""
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
        opts = integ.options
        out.append(
            IntegrationConfig(
                instance=integ.instance,
                endpoint=integ.endpoint or profile.integration.instance_endpoints.get(integ.instance),
                company_id=integ.company_id,
                sso_password=sso_password,
                org_url=integ.org_url,
                office365_tenant_id=integ.office365_tenant_id,
                require_active_technician_console=opts.require_active_technician_console,
                close_ticket_on_session_end=opts.close_ticket_on_session_end,
                reassign_case_on_session_start=opts.reassign_case_on_session_start,
                do_not_pass_custom_field_1=opts.do_not_pass_custom_field_1,
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
    _technicians(tenant, state, directory, directory_error, locate or _dotted)
    if tenant.consent is not None and tenant.consent.check:
        out.append(Consent(app_id=tenant.consent.app_id, granted=True))
    return state


def _dotted(path: tuple[str | int, ...]) -> str:
    return ".".join(str(part) for part in path)


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
        )
    return sorted(result.values(), key=lambda r: r.key.count("/"))


def _technicians(
    tenant: Tenant,
    state: DesiredState,
    directory: RescueDirectory | None,
    directory_error: str,
    locate: Locate,
) -> None:
    owners: dict[str, str] = {}
    rescue: dict[str, RescueTechnician] = {}
    for index, tech in enumerate(tenant.technicians):
        path: tuple[str | int, ...] = ("technicians", index)
        state.declared.add(("technician", tech.user))
        technician_id: str | None
        if tech.technician_id is not None:
            technician_id = tech.technician_id
            if directory is not None and technician_id not in directory.node_ids and tech.create is None:
                state.problems.append(
                    f"{locate((*path, 'technician_id'))}: technicians.{index}.technician_id: "
                    f"no Rescue technician has node ID {technician_id} (check the ID in the Rescue "
                    "Admin Center, or use rescue_email instead)"
                )
                continue
        elif directory is None:
            state.unknown.append(
                Unknown("technician", tech.user, f"Rescue hierarchy could not be read: {directory_error}")
            )
            continue
        else:
            technician_id = directory.by_email.get(tech.lookup_email)
            if technician_id is None:
                if tech.create is None:
                    state.problems.append(
                        f"{locate((*path, 'rescue_email' if tech.rescue_email else 'user'))}: "
                        f"technicians.{index}: no Rescue technician has email {tech.lookup_email!r} (fix the "
                        "email, pin technician_id, or add `create:` to create the technician in Rescue)"
                    )
                    continue
                technician_id = NEW_TECHNICIAN_PREFIX + tech.lookup_email
        owner = owners.get(technician_id)
        if owner is not None and owner != tech.user:
            state.problems.append(
                f"{locate(path)}: technicians.{index}: Rescue technician {technician_id} is already mapped "
                f"to {owner}; one technician can belong to one Dynamics user only"
            )
            continue
        owners[technician_id] = tech.user
        state.resources.append(
            TechnicianSettings(user=tech.user, technician_id=technician_id, sso_id=tech.sso_id)
        )
        if tech.sso_id is not None or technician_id.startswith(NEW_TECHNICIAN_PREFIX):
            rescue[technician_id] = RescueTechnician(
                technician_id=technician_id,
                email=tech.lookup_email if technician_id.startswith(NEW_TECHNICIAN_PREFIX) else None,
                sso_id=tech.sso_id,
                create_group=tech.create.group if tech.create else None,
                name=tech.create.name if tech.create else None,
            )
    state.resources.extend(rescue.values())
