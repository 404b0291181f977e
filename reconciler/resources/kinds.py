"""The resource types of DESIGN §1, one frozen dataclass each (their names: ``Kind``, ``resources/base.py``).

What the pure side does with each type (its registry entry, comparison, export, manual steps)
is its kind module, ``reconciler/kinds/<kind>.py``. The types stay here, below the plan layer,
because a saved plan is decoded into them (``plan/serialize.py``) and the providers build them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from reconciler.resources.base import Kind, Resource, Sensitive
from reconciler.resources.rescue_permissions import UNDECLARED


@dataclass(frozen=True, slots=True)
class Solution(Resource):
    """Desired: installed, managed, version at least ``version``. Live: what is installed."""

    kind: ClassVar[Kind] = "solution"
    key_fields: ClassVar[tuple[str, ...]] = ("unique_name",)
    unique_name: str
    version: str | None = None
    managed: bool | None = None
    package: str | None = field(default=None, compare=False)


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


@dataclass(frozen=True, slots=True)
class TechnicianSettings(Resource):
    """A user's LogMeIn settings row (Dynamics). The runtime auth code is never part of it."""

    kind: ClassVar[Kind] = "technician"
    key_fields: ClassVar[tuple[str, ...]] = ("user",)
    user: str
    technician_id: str | None = None
    sso_id: str | None = None
    # The user's systemuserid: resolved from ``user`` (desired) or read with the row (live).
    user_id: str | None = field(default=None, compare=False)
    # Desired-only: the technician rule that produced this mapping (None: listed explicitly).
    source: str | None = field(default=None, compare=False)


# A Rescue technician the YAML asks to create has no node ID yet: it is keyed by this prefix
# and its e-mail until apply creates it and learns the ID.
NEW_TECHNICIAN_PREFIX = "new:"


def placeholder_email(technician_id: str) -> str | None:
    """The e-mail of a technician still to be created (``new:<email>``), else None."""
    if technician_id.startswith(NEW_TECHNICIAN_PREFIX):
        return technician_id.removeprefix(NEW_TECHNICIAN_PREFIX)
    return None


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


@dataclass(frozen=True, slots=True)
class SessionKey(Resource):
    """The Session Key alternate key; status is Pending, InProgress, Active or Failed."""

    kind: ClassVar[Kind] = "session_key"
    key_fields: ClassVar[tuple[str, ...]] = ("table", "key_name")
    table: str
    key_name: str
    status: str | None = None


@dataclass(frozen=True, slots=True)
class ExportSettings:
    """A group's Post-to-URL export settings (Admin Center only)."""

    url: str
    at_session_start: bool
    at_session_end: bool
    format: str


@dataclass(frozen=True, slots=True)
class RescueGroup(Resource):
    """A technician group by path below the Technicians root.

    ``export`` is desired-only: no API reads it, so live groups carry ``None`` and the diff
    turns a declared export into a manual step (unless confirmed). ``permissions`` (setGroup_v2
    names, canonical order) is ``None`` when not declared (desired) or not read (live): a new
    group then gets Rescue's undocumented defaults, shown as such (``undeclared``)."""

    kind: ClassVar[Kind] = "rescue_group"
    key_fields: ClassVar[tuple[str, ...]] = ("path",)
    undeclared: ClassVar[dict[str, str]] = {"permissions": UNDECLARED}
    path: str
    permissions: tuple[str, ...] | None = None
    export: ExportSettings | None = field(default=None, compare=False)
    confirmed: str | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Consent(Resource):
    """Admin consent for the LogMeIn app: its service principal exists in the tenant."""

    kind: ClassVar[Kind] = "consent"
    key_fields: ClassVar[tuple[str, ...]] = ("app_id",)
    app_id: str
    granted: bool | None = None


# Every resource type, in display and apply order (the order of ``reconciler.kinds.REGISTRY``,
# which refuses to import when the two differ): the table the layers below the kind modules use.
RESOURCE_TYPES: tuple[type[Resource], ...] = (
    Solution,
    IntegrationConfig,
    ApplicationUser,
    SessionKey,
    RescueGroup,
    RescueTechnician,
    TechnicianSettings,
    Consent,
)
