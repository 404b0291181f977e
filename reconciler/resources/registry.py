"""The registry of kinds: the one list of what the reconciler manages.

Everything that needs "every kind" (display and apply order, titles, plan decoding, what
waits for the solution) reads it here; nothing else lists the kinds.
"""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.resources.base import Kind, Resource
from reconciler.resources.kinds import (
    ApplicationUser,
    Consent,
    IntegrationConfig,
    RescueGroup,
    RescueTechnician,
    SessionKey,
    Solution,
    TechnicianSettings,
)


@dataclass(frozen=True)
class KindInfo:
    """One kind: its resource type, how it is titled, and which kinds must be applied first."""

    type: type[Resource]
    title: str
    depends_on: tuple[Kind, ...] = ()

    @property
    def name(self) -> Kind:
        return self.type.kind


# In display and apply order: every kind comes after the kinds it depends on.
REGISTRY: tuple[KindInfo, ...] = (
    KindInfo(Solution, "solution"),
    KindInfo(IntegrationConfig, "integration settings", depends_on=("solution",)),
    KindInfo(ApplicationUser, "application user", depends_on=("solution",)),
    KindInfo(SessionKey, "session key", depends_on=("solution",)),
    KindInfo(RescueGroup, "Rescue group"),
    KindInfo(RescueTechnician, "Rescue technician", depends_on=("rescue_group",)),
    KindInfo(TechnicianSettings, "technician settings", depends_on=("solution", "rescue_technician")),
    KindInfo(Consent, "admin consent"),
)

KINDS: tuple[Kind, ...] = tuple(info.name for info in REGISTRY)
KIND_INFO: dict[str, KindInfo] = {info.name: info for info in REGISTRY}


def kind_title(kind: str) -> str:
    """How a kind reads in plans and reports (the kind itself when unknown)."""
    info = KIND_INFO.get(kind)
    return info.title if info is not None else kind


def resource_type(kind: str) -> type[Resource] | None:
    """The resource type of ``kind`` (None when no such kind exists)."""
    info = KIND_INFO.get(kind)
    return info.type if info is not None else None
