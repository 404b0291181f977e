"""`reconcile export`: a live tenant -> a tenant file, for onboarding and for accepting drift.

The file has the layout and key order of the hand-written examples. Secrets are written as
references (``{env: <TENANT>_...}``), never values; the runtime auth code is never read. What
cannot be expressed without creating a plan change (a Failed session key, an SSO ID that
differs between Dynamics and Rescue, export settings no API can read) is left out with a
comment saying why, so that export -> plan is empty.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from reconciler import __version__
from reconciler.config.models import DEFAULT_APP_ID, DEFAULT_RESCUE_API, DEFAULT_ROLE, IntegrationOptions
from reconciler.engine.connection import TenantConnection
from reconciler.engine.live import DetailQuery, LiveQuery, read_details, read_directories
from reconciler.engine.session import TenantSession
from reconciler.errors import ProviderError
from reconciler.profile import SolutionProfile
from reconciler.providers.http import ClientSettings, RequestStats
from reconciler.resources import (
    ApplicationUser,
    Consent,
    IntegrationConfig,
    RescueTechnician,
    SecretHasher,
    SessionKey,
    Solution,
    TechnicianSettings,
)


def ref_text(ref: str) -> str:
    """`env:NAME` -> `{env: NAME}` (a reference in YAML flow style)."""
    kind, _, value = ref.partition(":")
    return "{" + f"{kind}: {value}" + "}"


def env_name(tenant: str, suffix: str) -> str:
    """The environment variable a secret of this tenant is referenced by."""
    return re.sub(r"[^A-Z0-9]", "_", tenant.upper()) + "_" + suffix


def _scalar(value: Any) -> str:
    """One YAML scalar (JSON is valid YAML and quotes exactly what needs quoting)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if (
        isinstance(value, str)
        and re.fullmatch(r"[A-Za-z][A-Za-z0-9 ._@/:-]*", value)
        and value
        not in (
            "true",
            "false",
            "null",
            "yes",
            "no",
            "on",
            "off",
        )
        and ": " not in value
        and not value.endswith(":")
    ):
        return value
    return json.dumps(value)


@dataclass
class ExportInput:
    """Everything the exporter needs from the connection (names only, no secret values)."""

    tenant: str
    org_url: str
    entra_tenant_id: str
    client_id: str
    credential_lines: list[str]
    rescue_api_url: str
    authcode_ref: str  # a reference as written in YAML, e.g. "{env: CONTOSO_RESCUE_AUTHCODE}"
    sso_password_ref: str
    profile_overrides: dict[str, Any] = field(default_factory=dict)
    credential_ref: str = ""  # e.g. "client secret {env: CONTOSO_DYNAMICS_CLIENT_SECRET}"


@dataclass
class ExportResult:
    text: str
    env_vars: list[str] = field(default_factory=list)
    requests: dict[str, Any] = field(default_factory=dict)


async def read_and_export(
    conn: TenantConnection, info: ExportInput, profile: SolutionProfile, settings: ClientSettings
) -> ExportResult:
    stats = RequestStats()
    hasher = SecretHasher()
    query = LiveQuery(
        solution_name=profile.solution.unique_name,
        integration=True,
        app_id=DEFAULT_APP_ID,
        session_key=True,
        consent_app_id=DEFAULT_APP_ID,
    )

    async with TenantSession(conn, settings, stats) as session:
        reading = await read_directories(session, profile, hasher, query)
        reading = await read_details(session, reading, DetailQuery(technicians=reading.mapped_technicians()))
    dynamics, rescue = reading.dynamics, reading.rescue
    rows = [r for r in dynamics.state.of_kind("technician") if isinstance(r, TechnicianSettings)]
    granted = next((r for r in reading.consent.of_kind("consent") if isinstance(r, Consent)), None)
    unknown = [u for u in dynamics.state.unknown + rescue.state.unknown]
    if unknown:
        raise ProviderError(
            "cannot export: some live state could not be read: "
            + "; ".join(f"{u.kind}: {u.reason}" for u in unknown[:5]),
            tenant=info.tenant,
        )
    lines = _header(info)
    live = dynamics.state
    solution = next((r for r in live.of_kind("solution") if isinstance(r, Solution)), None)
    if solution is not None and solution.version:
        lines += ["", "solution:"]
        if solution.unique_name != profile.solution.unique_name:
            lines.append(f"  unique_name: {_scalar(solution.unique_name)}")
        lines.append(f"  min_version: {_scalar(solution.version)}   # the version installed at export time")
        if not solution.managed:
            lines.append("  # the installed solution is UNMANAGED: plan will ask for a managed one")
    integ = next((r for r in live.of_kind("integration") if isinstance(r, IntegrationConfig)), None)
    if integ is not None:
        lines += _integration(integ, profile, info)
    app = next((r for r in live.of_kind("application_user") if isinstance(r, ApplicationUser)), None)
    if app is not None:
        lines += _application_user(app, dynamics.state.facts.get("root_business_unit"))
    key = next((r for r in live.of_kind("session_key") if isinstance(r, SessionKey)), None)
    if key is not None:
        if key.status == "Active":
            lines += ["", "session_key:", "  status: active"]
        else:
            lines += [
                "",
                f"# session_key is {key.status} now: not managed here (null also overrides _defaults.yaml).",
                "# Set `session_key: {status: active}` to have apply repair it.",
                "session_key: null",
            ]
    tree = rescue.tree
    by_id = {n.node_id: n for n in tree.nodes.values()} if tree else {}
    rescue_techs = {
        r.technician_id: r
        for r in rescue.state.of_kind("rescue_technician")
        if isinstance(r, RescueTechnician)
    }
    if rows:
        lines += ["", "technicians:"]
        owners: dict[str, str] = {}
        for row in sorted(rows, key=lambda r: (not _owns(r, by_id), r.user)):
            owner = owners.setdefault(row.technician_id or "", row.user)
            if row.technician_id and owner != row.user:
                lines.append(
                    f"  # - user: {row.user}   left out: its row points at Rescue technician "
                    f"{row.technician_id}, which {owner} is mapped to; fix one of the rows"
                )
                continue
            lines += _technician(row, by_id, rescue_techs)
    if tree is not None and tree.paths_by_id:
        lines += [
            "",
            "rescue_groups:",
            "  # Export settings (Post session details to URL) cannot be read by any API: after checking them in",
            "  # the Admin Center, add `export:` and `confirmed: YYYY-MM-DD` to each group.",
        ]
        for path in sorted(tree.paths_by_id.values(), key=str.casefold):
            lines.append(f"  - path: {_scalar(path)}")
    if granted is not None and granted.granted:
        lines += ["", "consent:", "  check: true"]
    if info.profile_overrides:
        lines += ["", "# Solution profile overrides, kept from the tenant file:", "profile:"]
        dumped = yaml.safe_dump(info.profile_overrides, sort_keys=False, default_flow_style=False)
        lines += [f"  {line}" for line in dumped.splitlines()]
    notes = list(live.notes) + list(rescue.state.notes)
    if notes:
        lines += ["", "# Unmanaged / noteworthy objects found at export:"]
        lines += [f"#   - {n}" for n in notes]
    env_vars = [r for r in (info.credential_ref, info.authcode_ref, info.sso_password_ref) if r]
    return ExportResult("\n".join(lines) + "\n", env_vars, stats.as_dict())


def _header(info: ExportInput) -> list[str]:
    lines = [
        "# yaml-language-server: $schema=../../schemas/tenant.schema.json",
        "#",
        f"# Exported from the live tenant by reconcile {__version__}. Review before committing.",
        "# Secrets are references: set these environment variables (never commit values):",
        "#   "
        + ", ".join(
            part
            for part in (
                info.credential_ref,
                f"authcode {info.authcode_ref}",
                f"SSO password {info.sso_password_ref}",
            )
            if part
        ),
        f"tenant: {info.tenant}",
        "",
        "connection:",
        "  dynamics:",
        f"    org_url: {info.org_url}",
        f"    tenant_id: {info.entra_tenant_id}",
        f"    client_id: {info.client_id}",
        "    credential:",
        *[f"      {line}" for line in info.credential_lines],
        "  rescue:",
    ]
    if info.rescue_api_url != DEFAULT_RESCUE_API:
        lines.append(f"    api_url: {info.rescue_api_url}")
    else:
        lines.append(f"    api_url: {info.rescue_api_url}   # the default")
    lines.append(f"    authcode: {info.authcode_ref}")
    return lines


def _integration(integ: IntegrationConfig, profile: SolutionProfile, info: ExportInput) -> list[str]:
    lines = ["", "integration:"]
    lines.append(f"  instance: {_scalar(integ.instance or 'production')}")
    default_endpoint = profile.integration.instance_endpoints.get(integ.instance or "")
    if integ.endpoint and integ.endpoint != default_endpoint:
        lines.append(f"  endpoint: {integ.endpoint}")
    else:
        lines.append(f"  # endpoint: {default_endpoint}   (defaulted from the instance)")
    lines.append(f"  company_id: {json.dumps(integ.company_id or '')}")
    lines.append(f"  sso_password: {info.sso_password_ref}")
    lines.append(f"  org_url: {integ.org_url or info.org_url}")
    lines.append(f"  office365_tenant_id: {integ.office365_tenant_id or info.entra_tenant_id}")
    lines.append("  options:")
    for name in IntegrationOptions.model_fields:
        value = getattr(integ, name)
        lines.append(f"    {name}: {_scalar(value)}" if value is not None else f"    # {name}: (not set)")
    return lines


def _application_user(app: ApplicationUser, root_bu: str | None) -> list[str]:
    lines = ["", "application_user:"]
    if app.app_id != DEFAULT_APP_ID:
        lines.append(f"  app_id: {app.app_id}")
    lines.append(f"  first_name: {_scalar(app.first_name or '')}")
    lines.append(f"  last_name: {_scalar(app.last_name or '')}")
    if app.email:
        lines.append(f"  email: {app.email}")
    if app.business_unit and app.business_unit != root_bu:
        lines.append(f"  business_unit: {_scalar(app.business_unit)}")
    roles = sorted(app.roles or ())
    lines.append("  roles: [" + ", ".join(_scalar(r) for r in roles) + "]")
    if DEFAULT_ROLE.casefold() not in {r.casefold() for r in roles}:
        lines.append(f"  # the role {DEFAULT_ROLE!r} is missing live; add it above to have apply grant it")
    return lines


def _owns(row: TechnicianSettings, nodes: dict[str, Any]) -> bool:
    """Whether the row's technician has the row's user as its email (the likely rightful owner)."""
    node = nodes.get(row.technician_id or "")
    return node is not None and getattr(node, "email", "") == row.user


def _technician(
    row: TechnicianSettings, nodes: dict[str, Any], rescue: dict[str, RescueTechnician]
) -> list[str]:
    lines = [f"  - user: {row.user}"]
    node = nodes.get(row.technician_id or "")
    email = getattr(node, "email", "") if node is not None else ""
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
        lines.append(f"    sso_id: {_scalar(row.sso_id)}")
    return lines
