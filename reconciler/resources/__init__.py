"""What every resource type shares: desired state (YAML) and live state (APIs) load into the
same types. Each type lives in its kind module (``reconciler/kinds/<kind>.py``) and registers
itself in ``registry.py``, where the layers below the kind modules look it up by name.

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
from reconciler.resources.registry import KindsNotLoaded, kinds, register, resource_type, resource_types
from reconciler.resources.state import LiveState

__all__ = [
    "Kind",
    "KindsNotLoaded",
    "LiveMeta",
    "LiveState",
    "Resource",
    "SecretHasher",
    "Sensitive",
    "Unknown",
    "Unmanaged",
    "kinds",
    "register",
    "resource_type",
    "resource_types",
]
