"""What a tenant's declared state needs from the services, derived in one place.

``doctor`` checks every need listed here (each Dataverse privilege, each Graph permission by a
real read of what needs it), and the schema check takes the solution tables it verifies from
here, so the preflight and the run cannot disagree about what a tenant uses. Each source of
needs is one function of ``SOURCES``: the reads every run makes whatever is declared, every
kind's own needs (each kind module's ``needs`` hook: the solution, the configuration row, the
technicians listed and by rule, the application user, the Session Key repair, the consent
check), and session-flow health (its prerequisites, which doctor checks on every tenant; the
report sign-in when one is given). A new kind states its needs in its own module; the record
they fill is ``kinds/needs.py``.
"""

from __future__ import annotations

from collections.abc import Callable

from reconciler.config import Tenant
from reconciler.kinds import REGISTRY
from reconciler.kinds.needs import (
    GROUP_MEMBERS_PERMISSION,
    MEMBER_PROPERTIES_PERMISSION,
    SERVICE_PRINCIPALS_PERMISSION,
    TenantNeeds,
)
from reconciler.profile import SolutionProfile

__all__ = [
    "GROUP_MEMBERS_PERMISSION",
    "MEMBER_PROPERTIES_PERMISSION",
    "SERVICE_PRINCIPALS_PERMISSION",
    "SOURCES",
    "TenantNeeds",
    "tenant_needs",
]


Source = Callable[[Tenant, SolutionProfile, TenantNeeds], None]


def _every_run(model: Tenant, profile: SolutionProfile, need: TenantNeeds) -> None:
    """What every plan reads, whatever the tenant declares (engine/live.py, the Dynamics reader)."""
    need.privilege("prvReadEntity", "table metadata (the schema check before every plan)")
    need.table(["Read"], "BusinessUnit", "every plan reads the business units")
    settings = profile.technician_settings.table
    need.table(["Read"], settings, "every plan lists the settings rows (undeclared ones are reported)")
    # Stricter than the sandbox: the listing expands each row's user.
    need.table(["Read"], "User", "the settings rows' users (listed with them)")
    need.rescue_call("getHierarchy_v2", "every plan reads the Rescue hierarchy")


def _kinds(model: Tenant, profile: SolutionProfile, need: TenantNeeds) -> None:
    """What each declared kind needs: its kind module says (``ResourceKind.needs``)."""
    for kind in REGISTRY:
        kind.needs(model, profile, need)


def _health(model: Tenant, profile: SolutionProfile, need: TenantNeeds) -> None:
    """`reconcile health` reads the integration's prerequisites and the LogMeIn Session rows
    whatever else is declared (engine/health.py), and doctor checks those prerequisites on
    every tenant, so that it never calls ready a tenant health finds blocked; a report sign-in
    (connection.rescue.reports) adds the session report."""
    why = "the integration's prerequisites (doctor, reconcile health)"
    need.table(["Read"], profile.session.table, "reconcile health: the LogMeIn Session rows")
    need.table(["Read"], "User", f"{why}: the application user")
    need.table(["Read"], "Role", f"{why}: its roles")
    need.privilege("prvReadEntity", f"{why}: the Session Key status")
    need.table(["Read"], "AsyncOperation", f"{why}: the Session Key's index job")
    if model.connection.rescue.reports is not None:
        need.report_sign_in.append("reconcile health (connection.rescue.reports): the session report")


SOURCES: tuple[Source, ...] = (_every_run, _kinds, _health)


def tenant_needs(model: Tenant, profile: SolutionProfile) -> TenantNeeds:
    need = TenantNeeds()
    for source in SOURCES:
        source(model, profile, need)
    return need
