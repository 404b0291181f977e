"""The resource types shared by desired state (YAML) and live state (APIs).

Both sides are loaded into these same frozen types (STYLE 1), each with an explicit hashable
``key`` (STYLE 2); the diff matches on ``(kind, key)`` and then compares ``content()``.
Values are normalised on construction by the mappers on each side (lower-case GUIDs and UPNs,
URLs without trailing slash, sorted role sets), so equal means equal.

``None`` in a desired field means "not managed": the diff skips it.
"""

from reconciler.resources.base import (
    Kind,
    LiveMeta,
    Resource,
    SecretHasher,
    Sensitive,
    Unknown,
    Unmanaged,
)
from reconciler.resources.kinds import (
    NEW_TECHNICIAN_PREFIX,
    RESOURCE_TYPES,
    ApplicationUser,
    Consent,
    ExportSettings,
    IntegrationConfig,
    RescueGroup,
    RescueTechnician,
    SessionKey,
    Solution,
    TechnicianSettings,
    placeholder_email,
)
from reconciler.resources.registry import KINDS, resource_type
from reconciler.resources.state import LiveState

__all__ = [
    "KINDS",
    "NEW_TECHNICIAN_PREFIX",
    "RESOURCE_TYPES",
    "ApplicationUser",
    "Consent",
    "ExportSettings",
    "IntegrationConfig",
    "Kind",
    "LiveMeta",
    "LiveState",
    "RescueGroup",
    "RescueTechnician",
    "Resource",
    "SecretHasher",
    "Sensitive",
    "SessionKey",
    "Solution",
    "TechnicianSettings",
    "Unknown",
    "Unmanaged",
    "placeholder_email",
    "resource_type",
]
