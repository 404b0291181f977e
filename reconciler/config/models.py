"""Pydantic models of a tenant's desired state (the tenant files).

Every field carries a description: they become the JSON Schema (`reconcile schema`) and the
README's tenant file reference. Unknown keys are errors (`extra="forbid"`).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from reconciler.config.templates import PLACEHOLDERS, check_template
from reconciler.config.text import TRIMMED_PATTERN, excerpt
from reconciler.config.types import (
    Digits,
    GroupPath,
    Guid,
    HttpsUrl,
    OrgUrl,
    SecretRef,
    TenantName,
    Thumbprint,
    Upn,
    Version,
)
from reconciler.profile import default_profile, effective_profile
from reconciler.resources.rescue_permissions import GROUP_PERMISSIONS, permission_problem

DEFAULT_APP_ID = "1e2716f5-fee6-4370-a121-baea6d360668"
DEFAULT_ROLE = "LogMeIn Integration User"
DEFAULT_RESCUE_API = "https://secure.logmeinrescue.com/API"
DEFAULT_AUTHORITY_HOST = "https://login.microsoftonline.com"

# Lengths the services store (a longer value is applied in one system and refused by the other).
# Dataverse `systemuser` columns (Microsoft Learn table references as the sandbox's tables.py
# models them): firstname 256, internalemailaddress 100; businessunit.name 160,
# role.name 100. The LogMeIn solution's own columns are not public (DESIGN §1): the limits
# below are the sandbox's guesses. Rescue documents no limit for an SSO ID; 128 is stricter
# than the settings column (unverified, docs/sandbox.md).
MAX_NAME = 256
MAX_BUSINESS_UNIT = 160
MAX_ROLE = 100
MAX_SSO_ID = 128
MAX_TECHNICIAN_NAME = 128
MAX_PATH = 1024
MAX_SOLUTION_NAME = 65
# A Dynamics user is an Entra user: its UPN is at most 113 characters, 64 before the `@` and 48
# after (Microsoft Learn, "Microsoft Entra password policies and account restrictions",
# userPrincipalName; stricter than Dataverse's systemuser.domainname, 1024). An e-mail address is
# at most 254 characters (RFC 5321, 4.5.3.1: a 256-octet path less its angle brackets).
MAX_UPN = 113
MAX_EMAIL = 254


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=False)


class CertificateCredential(_Model):
    """An X.509 certificate registered on the app registration."""

    private_key: SecretRef = Field(description="The PEM private key (a secret reference).")
    thumbprint: Thumbprint = Field(description="SHA-1 thumbprint of the certificate, 40 hex digits.")
    public_certificate: SecretRef | None = Field(
        default=None,
        description="Optional PEM certificate chain, sent for subject-name/issuer authentication.",
    )


class Credential(_Model):
    """How the reconciler signs in to Entra ID: exactly one of the three."""

    client_secret: SecretRef | None = Field(default=None, description="A client secret (secret reference).")
    certificate: CertificateCredential | None = Field(default=None, description="A certificate credential.")
    federated_token_file: SecretRef | None = Field(
        default=None,
        description=(
            "Workload identity federation: where the federated token file is. `{file: PATH}` names the token "
            "file, `{env: NAME}` a variable holding the token file's path (e.g. AZURE_FEDERATED_TOKEN_FILE). "
            "The file is read on every sign-in, since CI rotates it."
        ),
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> Credential:
        given = [n for n in ("client_secret", "certificate", "federated_token_file") if getattr(self, n)]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of client_secret, certificate or federated_token_file"
                + (f" (found {', '.join(given)})" if given else "")
            )
        return self

    @property
    def kind(self) -> str:
        if self.client_secret is not None:
            return "client_secret"
        return "certificate" if self.certificate is not None else "federated_token_file"


class DynamicsConnection(_Model):
    """Where the Dynamics 365 org is and how to sign in to it."""

    org_url: OrgUrl = Field(description="The org URL, e.g. https://contoso.crm.dynamics.com (https only).")
    tenant_id: Guid = Field(description="Entra ID (Azure AD) tenant ID of the org.")
    client_id: Guid = Field(
        description="Application (client) ID of the app registration the reconciler uses."
    )
    credential: Credential = Field(description="The app registration's credential.")
    authority_host: HttpsUrl = Field(
        default=DEFAULT_AUTHORITY_HOST, description="Entra ID authority host (sovereign clouds differ)."
    )


class RescueReportsSignIn(_Model):
    """A Rescue administrator account that may generate session reports for the whole tree."""

    email: Upn = Field(description="The administrator's Rescue sign-in email.")
    password: SecretRef = Field(description="The administrator's Rescue password (secret reference).")


class RescueConnection(_Model):
    """Where the Rescue API is and the authcode (or Admin Center API token) to call it with."""

    api_url: HttpsUrl = Field(
        default=DEFAULT_RESCUE_API, description="Rescue API base URL (EU accounts differ)."
    )
    authcode: SecretRef = Field(description="Rescue authcode or API token (secret reference).")
    reports: RescueReportsSignIn | None = Field(
        default=None,
        description=(
            "Optional Rescue administrator sign-in for session reports (`reconcile health`). Reports need a "
            "cookie sign-in (login.aspx); without it, health shows a Dynamics-only view."
        ),
    )


class KeyVaultSignIn(_Model):
    """Where the fleet's identity signs in to read Key Vault secrets: the MSP's home directory.

    A vault accepts only tokens of its own directory (a token of a customer's directory is
    refused with 401 AKV10032), so the vault token is asked of this tenant with the same app
    registration and credential as `connection.dynamics` (one identity for the fleet). Usually
    set once in `_defaults.yaml`.
    """

    tenant_id: Guid = Field(
        description="Entra ID tenant ID of the directory the vaults belong to (the MSP's)."
    )


class Connection(_Model):
    """Connection settings. In sandbox mode (`--sandbox`) they are replaced by the sandbox's."""

    dynamics: DynamicsConnection
    rescue: RescueConnection
    keyvault: KeyVaultSignIn | None = Field(
        default=None,
        description=(
            "Sign-in for secrets in Azure Key Vault (`{keyvault: ...}` references); required when any "
            "reference names a vault."
        ),
    )


class Solution(_Model):
    """The LogMeIn Rescue solution installed in Dynamics."""

    unique_name: str | None = Field(
        default=None,
        max_length=MAX_SOLUTION_NAME,
        description="Unique name of the solution; defaults to the solution profile's.",
    )
    min_version: Version = Field(description="Lowest acceptable installed version, a.b[.c[.d]].")
    package: str | None = Field(
        default=None,
        max_length=MAX_PATH,
        description=(
            "Path (relative to the tenant folder) of the managed solution zip to import when the solution is "
            "missing or older. Without it, a missing or old solution is a manual step. It must stay inside "
            "the tenant folder (links followed), be a regular `.zip` file and at most 95 MB (what Dataverse "
            "imports)."
        ),
    )


class IntegrationOptions(_Model):
    """The four options of the configuration window. An option left out is not managed."""

    require_active_technician_console: bool | None = Field(
        default=None, description="Require an active technician console to start a session."
    )
    close_ticket_on_session_end: bool | None = Field(
        default=None, description="Close the case when the session ends."
    )
    reassign_case_on_session_start: bool | None = Field(
        default=None, description="Reassign the case to the technician when the session starts."
    )
    do_not_pass_custom_field_1: bool | None = Field(
        default=None, description="Do not pass custom field 1 to Rescue."
    )


class Integration(_Model):
    """The Rescue solution's configuration window (one row per org)."""

    instance: Literal["production", "beta"] = Field(
        description="Rescue instance; pre-fills the endpoint (see the solution profile)."
    )
    endpoint: HttpsUrl | None = Field(default=None, description="Endpoint override; defaults per instance.")
    company_id: Digits = Field(description="Rescue company ID (digits).")
    sso_password: SecretRef = Field(description="Rescue company SSO password (secret reference).")
    org_url: OrgUrl = Field(
        description=(
            "Dynamics org URL as entered in the configuration window; must be the org the tenant connects "
            "to (connection.dynamics.org_url) unless `other_org_url` is true."
        )
    )
    other_org_url: bool = Field(
        default=False,
        description=(
            "Set to true only when `org_url` deliberately names another org than the one the tenant "
            "connects to; otherwise a different org is an error."
        ),
    )
    office365_tenant_id: Guid = Field(description="Office 365 tenant ID.")
    options: IntegrationOptions = Field(default_factory=IntegrationOptions, description="The four options.")


class ApplicationUser(_Model):
    """The non-interactive application user the integration signs in as."""

    app_id: Guid = Field(default=DEFAULT_APP_ID, description="Application ID of the LogMeIn integration app.")
    first_name: str = Field(default="LogMeIn", min_length=1, max_length=MAX_NAME, description="First name.")
    last_name: str = Field(default="Integration", min_length=1, max_length=MAX_NAME, description="Last name.")
    email: Upn = Field(max_length=100, description="Primary email (internalemailaddress, 100 characters).")
    business_unit: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_BUSINESS_UNIT,
        description="Business unit name; default the root business unit.",
    )
    roles: list[Annotated[str, Field(min_length=1, max_length=MAX_ROLE)]] = Field(
        default_factory=lambda: [DEFAULT_ROLE], description="Security role names."
    )

    @field_validator("roles")
    @classmethod
    def _roles_unique(cls, roles: list[str]) -> list[str]:
        seen: set[str] = set()
        for role in roles:
            if role.casefold() in seen:
                raise ValueError(f"role {excerpt(role)} is listed twice")
            seen.add(role.casefold())
        return roles


class SessionKey(_Model):
    """The "Session Key" alternate key of the LogMeIn Session table."""

    status: Literal["active"] = Field(default="active", description="Desired index status.")
    wait_seconds: int = Field(
        default=600, ge=10, le=7200, description="How long apply waits for reactivation."
    )


class RescueTechnicianCreate(_Model):
    """Create the Rescue technician when it does not exist."""

    group: GroupPath = Field(description="Technician group path to create it in.")
    name: str = Field(
        min_length=1, max_length=MAX_TECHNICIAN_NAME, description="Display name of the technician."
    )


class Technician(_Model):
    """A Dynamics user mapped to a Rescue technician (the LogMeIn settings row)."""

    user: Upn = Field(
        max_length=MAX_UPN,
        description=f"The Dynamics user (UPN / domain name, at most {MAX_UPN} characters).",
    )
    rescue_email: Annotated[Upn, Field(max_length=MAX_EMAIL)] | None = Field(
        default=None,
        description=(
            "Rescue technician email used to find its node ID; defaults to `user` "
            f"(at most {MAX_EMAIL} characters)."
        ),
    )
    technician_id: Digits | None = Field(
        default=None, description="Pin the Rescue technician node ID instead of looking it up by email."
    )
    sso_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_SSO_ID,
        pattern=TRIMMED_PATTERN,
        description=(
            "SSO ID; kept equal in the settings row and in Rescue. Printable text without leading or "
            f"trailing spaces, at most {MAX_SSO_ID} characters."
        ),
    )
    create: RescueTechnicianCreate | None = Field(
        default=None, description="Create the Rescue technician in this group when it does not exist."
    )
    dynamics_user_id: Guid | None = Field(
        default=None,
        description=(
            "Pin the Dynamics user (systemuserid) when several Dynamics users have the UPN `user` (the plan "
            "names them); it must be one of them."
        ),
    )

    @property
    def lookup_email(self) -> str:
        return self.rescue_email or self.user


class TechnicianRule(_Model):
    """Technicians by rule: every member of one source, each mapped like an explicit entry.

    Give exactly one source. `rescue_group` takes every Rescue technician below that group path
    (nested groups included); `entra_group` takes every user who is a member, directly or through
    nested groups, of that Entra ID group (Microsoft Graph `transitiveMembers`; the app registration
    needs the Graph application permissions GroupMember.Read.All and User.Read.All: without the
    second Graph shows members by ID only and the rule is unknown). Each member becomes a settings row
    of the Dynamics user named by `user` (a template) and, with `sso_id`, the same SSO ID in Rescue.
    Templates use `{email}`, `{upn}` (for Rescue: the e-mail), `{local}` (before the @), `{domain}`
    (after the @), `{node_id}` (Rescue only) and `{id}` (Entra object ID, Entra only); `{{` and `}}`
    are literal braces. Precedence: an explicit `technicians` entry wins over any rule for the same
    Dynamics user or the same Rescue technician; two rules giving one user different values is an
    error. When a source cannot be read, everything it would map is unknown: nothing created,
    changed or pruned.
    """

    rescue_group: GroupPath | None = Field(
        default=None, description="Every Rescue technician below this group path, e.g. Support."
    )
    entra_group: Guid | None = Field(
        default=None, description="Every user member (transitive) of this Entra ID group (object ID)."
    )
    user: str | None = Field(
        default=None,
        min_length=1,
        description="Template of the Dynamics user's UPN; default `{email}` (Rescue) or `{upn}` (Entra).",
    )
    rescue_email: str | None = Field(
        default=None,
        min_length=1,
        description="Entra only: template of the Rescue technician's e-mail it is found by; default `{email}`.",
    )
    sso_id: str | None = Field(
        default=None,
        min_length=1,
        description="Template of the SSO ID, e.g. `{local}`; left out, SSO IDs are not managed.",
    )
    exclude: list[Upn] = Field(
        default_factory=list, description="E-mails or UPNs of members to leave out (not managed)."
    )

    @field_validator("user", "rescue_email", "sso_id")
    @classmethod
    def _template_syntax(cls, value: str | None) -> str | None:
        return None if value is None else check_template(value)

    @model_validator(mode="after")
    def _one_source(self) -> TechnicianRule:
        given = [n for n in PLACEHOLDERS if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one source: rescue_group or entra_group"
                + (f" (found {', '.join(given)})" if given else "")
            )
        if self.rescue_group is not None and self.rescue_email is not None:
            raise ValueError("rescue_email is for entra_group rules (a Rescue member is its own technician)")
        for name in ("user", "rescue_email", "sso_id"):
            template = getattr(self, name)
            if template is not None:
                try:
                    check_template(template, PLACEHOLDERS[self.source])
                except ValueError as exc:
                    raise ValueError(f"{name}: {exc} for a {self.source} rule") from None
        return self

    @property
    def source(self) -> str:
        """``rescue_group`` or ``entra_group``."""
        return "rescue_group" if self.rescue_group is not None else "entra_group"

    @property
    def source_value(self) -> str:
        return self.rescue_group or self.entra_group or ""

    @property
    def user_template(self) -> str:
        return self.user or ("{email}" if self.source == "rescue_group" else "{upn}")

    @property
    def rescue_email_template(self) -> str:
        return self.rescue_email or "{email}"


class ExportSettings(_Model):
    """A technician group's "Export session data -> Post session details to URL" settings."""

    url: HttpsUrl = Field(
        default_factory=lambda: default_profile().rescue.export_url,
        description="URL session details are posted to.",
    )
    at_session_start: bool = Field(default=False, description="Post at session start.")
    at_session_end: bool = Field(default=True, description="Post at session end.")
    format: Literal["form", "xml"] = Field(default="form", description="HTTP form post or XML.")


def _known_permission(name: str) -> str:
    problem = permission_problem(name)
    if problem is not None:
        raise ValueError(f"{excerpt(name)} {problem}" if problem.startswith("is ") else problem)
    return name


RescuePermission = Annotated[
    str, AfterValidator(_known_permission), Field(json_schema_extra={"enum": list(GROUP_PERMISSIONS)})
]


class RescueGroup(_Model):
    """A Rescue technician group, by path below the Technicians root."""

    path: GroupPath = Field(description="Group path, e.g. Support/Tier 1.")
    node_id: Digits | None = Field(
        default=None,
        description=(
            "Pin the Rescue group node ID when the path names several live groups (the plan names them: a "
            "group literally named `Support/Tier 2`, or names that differ only in case, spaces or Unicode "
            "form); it must be one of them."
        ),
    )
    export: ExportSettings | None = Field(
        default=None, description="Export settings (Admin Center only: planned as a manual step)."
    )
    confirmed: dt.date | None = Field(
        default=None, description="Date the export settings were checked by hand (YYYY-MM-DD)."
    )
    permissions: list[RescuePermission] | None = Field(
        default=None,
        description=(
            "The group's permissions, exactly (setGroup_v2 names, e.g. RemoteControl, SendFile); "
            "omitted: a new group gets Rescue's undocumented defaults and existing groups are left as they are."
        ),
    )

    @field_validator("permissions")
    @classmethod
    def _permissions_unique(cls, permissions: list[str] | None) -> list[str] | None:
        repeated = sorted({p for p in permissions or [] if (permissions or []).count(p) > 1})
        if repeated:
            raise ValueError(f"permission {excerpt(repeated[0])} is listed twice")
        return permissions


class Consent(_Model):
    """Check that admin consent was granted to the LogMeIn app in Entra ID. `reconcile doctor`
    checks it whether or not this section is present (the integration cannot work without it);
    `check: false` opts the tenant out of doctor's check and plan's manual step."""

    check: bool = Field(
        default=True,
        description=(
            "Verify the service principal exists (plan: a manual step when it does not). "
            "`false` opts out: doctor then skips its consent check, which it makes by default."
        ),
    )
    app_id: Guid = Field(default=DEFAULT_APP_ID, description="Application ID of the LogMeIn app.")


class Prune(_Model):
    """Opt-in deletion of live objects the tenant files do not declare (default: report only)."""

    technicians: bool = Field(default=False, description="Delete settings rows of users not listed.")
    application_user_roles: bool = Field(default=False, description="Remove roles not listed.")


class Safety(_Model):
    """Safety rails: large changes need --force."""

    max_change_fraction: float = Field(
        default=0.3, gt=0, le=1, description="Largest share of a kind's objects changed without --force."
    )
    min_objects: int = Field(
        default=10, ge=1, description="The fraction applies to kinds with at least this many."
    )


class Tenant(_Model):
    """One tenant's desired state."""

    tenant: TenantName = Field(description="Tenant name (folder-safe, unique).")
    connection: Connection
    solution: Solution | None = Field(default=None, description="The installed solution.")
    integration: Integration | None = Field(default=None, description="The configuration window.")
    application_user: ApplicationUser | None = Field(default=None, description="The application user.")
    session_key: SessionKey | None = Field(default=None, description="The Session Key alternate key.")
    technicians: list[Technician] = Field(default_factory=list, description="Technician mappings.")
    technician_rules: list[TechnicianRule] = Field(
        default_factory=list,
        description="Technicians by rule (a Rescue group or an Entra ID group); explicit entries win.",
    )
    rescue_groups: list[RescueGroup] = Field(default_factory=list, description="Rescue technician groups.")
    consent: Consent | None = Field(
        default=None,
        description="Admin consent check (plan checks it when present; doctor always, unless `check: false`).",
    )
    prune: Prune = Field(default_factory=Prune, description="Opt-in pruning per kind.")
    safety: Safety = Field(default_factory=Safety, description="Safety rails.")
    profile: dict[str, Any] = Field(
        default_factory=dict, description="Overrides of the solution profile (see `reconcile profile show`)."
    )

    @field_validator("profile")
    @classmethod
    def _profile_valid(cls, value: dict[str, Any]) -> dict[str, Any]:
        try:
            effective_profile(value)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
            )
            raise ValueError(f"invalid solution profile override: {problems}") from None
        return value
