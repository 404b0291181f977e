"""Desired state: a tenant model -> the resources it declares, each kind's module building its
own (``ResourceKind.desired``).

Pure: the caller passes in what is looked up elsewhere (the SSO password's digest, the root
business unit's name). References to live objects are resolved next, in ``diff/resolve.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from reconciler.config.models import Tenant
from reconciler.kinds import ANY_KEY, REGISTRY, DesiredContext
from reconciler.profile import SolutionProfile
from reconciler.resources import Resource, Sensitive, Unknown


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


__all__ = ["ANY_KEY", "DesiredState", "Locate", "build_desired"]


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
    context = DesiredContext(
        profile=profile, sso_password=sso_password, root_business_unit=root_business_unit
    )
    for kind in REGISTRY:
        state.resources.extend(kind.desired(tenant, context))
    return state
