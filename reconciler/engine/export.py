"""`reconcile export`: a live tenant -> a tenant file, for onboarding and for accepting drift.

The file has the layout and key order of the hand-written examples. Secrets are written as
references (``{env: <TENANT>_...}``), never values; the runtime auth code is never read. What
cannot be expressed without creating a plan change (a Failed session key, an SSO ID that
differs between Dynamics and Rescue, export settings no API can read) is left out with a
comment saying why, so that export -> plan is empty.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from reconciler import __version__
from reconciler.config.models import DEFAULT_APP_ID, DEFAULT_RESCUE_API, Tenant
from reconciler.engine.connection import TenantConnection
from reconciler.engine.live import LiveQuery, read_details, read_directories
from reconciler.engine.session import TenantSession
from reconciler.errors import ProviderError
from reconciler.kinds import REGISTRY, ExportContext
from reconciler.profile import SolutionProfile
from reconciler.providers.http import ClientSettings, RequestStats
from reconciler.resources import LiveState, SecretHasher


def ref_text(ref: str) -> str:
    """`env:NAME` -> `{env: NAME}` (a reference in YAML flow style); a Key Vault handle
    `keyvault:https://V/secrets/NAME[/VERSION]` -> `{keyvault: {vault: https://V, secret: NAME}}`."""
    kind, _, value = ref.partition(":")
    if kind == "keyvault":
        vault, _, path = value.partition("/secrets/")
        name, _, version = path.partition("/")
        fields = f"vault: {vault}, secret: {name}" + (f", version: {version}" if version else "")
        return "{keyvault: {" + fields + "}}"
    return "{" + f"{kind}: {value}" + "}"


def env_name(tenant: str, suffix: str) -> str:
    """The environment variable a secret of this tenant is referenced by."""
    return re.sub(r"[^A-Z0-9]", "_", tenant.upper()) + "_" + suffix


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
    # The tenant JSON Schema relative to the written file, when the repository has one (None: it
    # has none, and the header says how to write it instead of pointing at a missing file).
    schema_path: str | None = None


@dataclass
class ExportResult:
    text: str
    env_vars: list[str] = field(default_factory=list)
    requests: dict[str, Any] = field(default_factory=dict)


async def read_and_export(
    conn: TenantConnection, info: ExportInput, profile: SolutionProfile, settings: ClientSettings
) -> ExportResult:
    """Read the tenant, then each kind writes its part of the file (``ResourceKind.export``), in
    the tenant file's order of sections."""
    stats = RequestStats()
    query = LiveQuery(
        solution_name=profile.solution.unique_name,
        integration=True,
        app_id=DEFAULT_APP_ID,
        session_key=True,
        consent_app_id=DEFAULT_APP_ID,
    )
    async with TenantSession(conn, settings, stats) as session:
        reading = await read_directories(session, profile, SecretHasher(), query)
        reading = await read_details(session, reading, reading.export_details())
    dynamics, rescue = reading.dynamics, reading.rescue
    unknown = dynamics.state.unknown + rescue.state.unknown
    if unknown:
        raise ProviderError(
            "cannot export: some live state could not be read: "
            + "; ".join(f"{u.kind}: {u.reason}" for u in unknown[:5]),
            tenant=info.tenant,
        )
    live = LiveState()
    for part in (dynamics.state, rescue.state, reading.consent):
        live.merge(part)
    tree = rescue.tree
    context = ExportContext(
        live=live,
        profile=profile,
        node_emails={n.node_id: n.email or "" for n in tree.nodes.values()} if tree else {},
        group_names=dict(tree.group_names) if tree else {},
        root_business_unit=dynamics.state.facts.get("root_business_unit"),
        org_url=info.org_url,
        entra_tenant_id=info.entra_tenant_id,
        sso_password_ref=info.sso_password_ref,
    )
    lines = _header(info)
    for kind in sorted((k for k in REGISTRY if k.section), key=lambda k: _SECTIONS.index(k.section or "")):
        lines += kind.export(context)
    if info.profile_overrides:
        lines += ["", "# Solution profile overrides, kept from the tenant file:", "profile:"]
        dumped = yaml.safe_dump(info.profile_overrides, sort_keys=False, default_flow_style=False)
        lines += [f"  {line}" for line in dumped.splitlines()]
    notes = list(dynamics.state.notes) + list(rescue.state.notes)
    if notes:
        lines += ["", "# Unmanaged / noteworthy objects found at export:"]
        lines += [f"#   - {n}" for n in notes]
    env_vars = [r for r in (info.credential_ref, info.authcode_ref, info.sso_password_ref) if r]
    return ExportResult("\n".join(lines) + "\n", env_vars, stats.as_dict())


# The tenant file's sections in the order the model declares them (and the examples are written).
_SECTIONS = tuple(Tenant.model_fields)


def _header(info: ExportInput) -> list[str]:
    if info.schema_path is not None:
        schema = [f"# yaml-language-server: $schema={info.schema_path}"]
    else:
        schema = [
            "# Editor checks: `reconcile schema --schema-only --out schemas/tenant.schema.json` at the",
            "# repository root writes the tenant schema; then start this file with",
            "# `# yaml-language-server: $schema=<path to it>`.",
        ]
    lines = [
        *schema,
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
