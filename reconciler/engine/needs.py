"""What a tenant's declared state needs from the services, derived in one place.

``doctor`` checks every need listed here (each Dataverse privilege, each Graph permission by a
real read of what needs it), and the schema check takes the solution tables it verifies from
here, so the preflight and the run cannot disagree about what a tenant uses. Each source of
needs is one function of ``SOURCES``: the reads every run makes whatever is declared, the
solution, the configuration row, technicians (listed, and by rule of either source: a rule
creates settings rows and may set SSO IDs like a listed technician, and an Entra rule reads its
group's members in Graph), the application user, the Session Key repair, the consent check and
session-flow health (opted into by a report sign-in, which doctor checks too). A new source of
technicians or a new kind is one more function there.

Privilege names are ``prv<Verb><Entity>`` as Dataverse spells them (``systemuser`` is ``User``),
compared without case: real orgs spell custom tables by their schema name. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from reconciler.config import Tenant
from reconciler.profile import SolutionProfile

# The Graph application permission an Entra rule's member listing needs (least privileged).
GROUP_MEMBERS_PERMISSION = "GroupMember.Read.All"
# The consent check lists service principals.
SERVICE_PRINCIPALS_PERMISSION = "Application.Read.All"


@dataclass
class TenantNeeds:
    """Every privilege, permission and read a tenant's declared state needs, each with why."""

    privileges: dict[str, list[str]] = field(default_factory=dict)  # prv name -> what needs it
    sections: list[str] = field(default_factory=list)  # solution profile tables read or written
    graph: dict[str, list[str]] = field(default_factory=dict)  # Graph permission -> what needs it
    entra_groups: dict[str, list[str]] = field(default_factory=dict)  # group ID -> rules reading it
    report_sign_in: list[str] = field(default_factory=list)  # what needs the Rescue report sign-in

    def privilege(self, name: str, why: str) -> None:
        _add(self.privileges, name, why)

    def table(self, verbs: Iterable[str], entity: str, why: str) -> None:
        for verb in verbs:
            self.privilege(f"prv{verb}{entity}", f"table {entity}: {why}")

    def section(self, name: str) -> None:
        if name not in self.sections:
            self.sections.append(name)

    def graph_permission(self, name: str, why: str) -> None:
        _add(self.graph, name, why)

    def why(self, privilege: str) -> str:
        """What needs ``privilege``, said once per table (one line for a doctor check)."""
        reasons = self.privileges[privilege]
        table = reasons[0].split(": ", 1)[0] if reasons[0].startswith("table ") else ""
        if table and all(r.startswith(f"{table}: ") for r in reasons):
            return f"{table}: " + ", ".join(r.split(": ", 1)[1] for r in reasons)
        return "; ".join(reasons)


def _add(found: dict[str, list[str]], name: str, why: str) -> None:
    reasons = found.setdefault(name, [])
    if why not in reasons:
        reasons.append(why)


Source = Callable[[Tenant, SolutionProfile, TenantNeeds], None]


def _every_run(model: Tenant, profile: SolutionProfile, need: TenantNeeds) -> None:
    """What every plan reads, whatever the tenant declares (engine/live.py, the Dynamics reader)."""
    need.privilege("prvReadEntity", "table metadata (the schema check before every plan)")
    need.table(["Read"], "BusinessUnit", "every plan reads the business units")
    settings = profile.technician_settings.table
    need.table(["Read"], settings, "every plan lists the settings rows (undeclared ones are reported)")
    # Stricter than the sandbox: the listing expands each row's user.
    need.table(["Read"], "User", "the settings rows' users (listed with them)")


def _solution(model: Tenant, profile: SolutionProfile, need: TenantNeeds) -> None:
    if model.solution is None:
        return
    need.table(["Read"], "Solution", "solution")
    if model.solution.package:
        need.privilege("prvImportCustomization", "solution import (solution.package)")
        need.table(["Read"], "AsyncOperation", "solution import (its job)")
        need.table(["Read"], "ImportJob", "solution import (its result)")


def _integration(model: Tenant, profile: SolutionProfile, need: TenantNeeds) -> None:
    if model.integration is None:
        return
    need.section("integration")
    need.table(["Read", "Create", "Write"], profile.integration.table, "integration")


def technician_sources(model: Tenant) -> list[str]:
    """Every declared source of technicians, named as the tenant file names it."""
    sources = ["technicians"] if model.technicians else []
    for i, rule in enumerate(model.technician_rules):
        kind = "entra_group" if rule.entra_group is not None else "rescue_group"
        sources.append(f"technician_rules[{i}] ({kind})")
    return sources


def _technicians(model: Tenant, profile: SolutionProfile, need: TenantNeeds) -> None:
    """Listed technicians and rules alike write settings rows that point at their users."""
    settings = profile.technician_settings.table
    for why in technician_sources(model):
        need.section("technician_settings")
        need.table(["Read", "AppendTo"], "User", why)  # the UPN's systemuserid; the row's lookup
        need.table(["Read", "Create", "Write", "Append"], settings, why)
    if model.prune.technicians:
        need.table(["Delete"], settings, "prune.technicians")
    for i, rule in enumerate(model.technician_rules):
        if rule.entra_group is not None:
            why = f"technician_rules[{i}] (entra_group {rule.entra_group})"
            need.graph_permission(GROUP_MEMBERS_PERMISSION, why)
            _add(need.entra_groups, rule.entra_group.lower(), f"technician_rules[{i}]")


def _application_user(model: Tenant, profile: SolutionProfile, need: TenantNeeds) -> None:
    if model.application_user is None:
        return
    need.table(["Read", "Create", "Write", "Append"], "User", "application_user")
    need.table(["Read", "AppendTo"], "Role", "application_user (its roles)")
    need.table(["Read"], "BusinessUnit", "application_user")


def _session_key(model: Tenant, profile: SolutionProfile, need: TenantNeeds) -> None:
    if model.session_key is None:
        return
    need.section("session")
    need.privilege("prvCreateEntityKey", "session_key (reactivate the Session Key)")
    need.table(["Read", "Delete"], "AsyncOperation", "session_key (the failed index job is deleted first)")


def _consent(model: Tenant, profile: SolutionProfile, need: TenantNeeds) -> None:
    if model.consent is not None and model.consent.check:
        need.graph_permission(SERVICE_PRINCIPALS_PERMISSION, "consent (the LogMeIn app's service principal)")


def _health(model: Tenant, profile: SolutionProfile, need: TenantNeeds) -> None:
    """A report sign-in opts the tenant into `reconcile health`, which reads the integration's
    prerequisites and the LogMeIn Session rows whatever else is declared (engine/health.py)."""
    if model.connection.rescue.reports is None:
        return
    why = "reconcile health (connection.rescue.reports)"
    need.report_sign_in.append(f"{why}: the session report")
    need.table(["Read"], profile.session.table, why)
    need.table(["Read"], "User", f"{why}: the application user")
    need.table(["Read"], "Role", f"{why}: its roles")
    need.privilege("prvReadEntity", f"{why}: the Session Key status")
    need.table(["Read"], "AsyncOperation", f"{why}: the Session Key's index job")


SOURCES: tuple[Source, ...] = (
    _every_run,
    _solution,
    _integration,
    _technicians,
    _application_user,
    _session_key,
    _consent,
    _health,
)


def tenant_needs(model: Tenant, profile: SolutionProfile) -> TenantNeeds:
    need = TenantNeeds()
    for source in SOURCES:
        source(model, profile, need)
    return need
