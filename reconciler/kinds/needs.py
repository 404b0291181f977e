"""What a tenant's declared state needs from the services (Dataverse privileges, solution
tables, Graph permissions, Entra groups, the report sign-in, the Rescue calls and the role each
needs), each with why: the record every kind's ``needs`` hook fills (``base.py``) and
``engine/needs.py`` collects. Pure: no I/O.

Privilege names are ``prv<Verb><Entity>`` as Dataverse spells them (``systemuser`` is ``User``),
compared without case: real orgs spell custom tables by their schema name.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import get_args

from reconciler.profile.columns import Section

# The Graph application permission an Entra rule's member listing needs (least privileged).
GROUP_MEMBERS_PERMISSION = "GroupMember.Read.All"
# What lets it read those members' userPrincipalName: with GroupMember.Read.All alone Graph lists
# user members with limited information (ID only). User.Read.All is the least permission known to
# unlock them for an app (User.ReadBasic.All is unverified there; Directory.Read.All is broader).
MEMBER_PROPERTIES_PERMISSION = "User.Read.All"
# The consent check lists service principals.
SERVICE_PRINCIPALS_PERMISSION = "Application.Read.All"

# The roles of a Rescue account, least to most (docs/sandbox.md, "Rescue caller roles and node
# model"): a technician has no Administration Center (no API call the reconciler makes); an
# Administrator works in the technician groups assigned to them and below; a Master
# Administrator everywhere, and alone creates top-level groups and changes locked permissions.
TECHNICIAN, ADMINISTRATOR, MASTER_ADMINISTRATOR = "Technician", "Administrator", "Master Administrator"
RESCUE_ROLES = (TECHNICIAN, ADMINISTRATOR, MASTER_ADMINISTRATOR)


@dataclass(frozen=True, order=True)
class RescueCall:
    """One Rescue API method the declared state makes, the least role that may make it, and
    where: below a technician group path (``group``), on a technician by e-mail (``technician``),
    or neither (the whole organization, or a place only the live state decides). A call that
    creates (or names) a group or technician is made only when it is missing live: ``new_group``
    (its path) or ``new_technician`` (its e-mail)."""

    method: str
    role: str = ADMINISTRATOR
    group: str = ""
    technician: str = ""
    new_group: str = ""
    new_technician: str = ""


@dataclass
class TenantNeeds:
    """Every privilege, permission and read a tenant's declared state needs, each with why."""

    privileges: dict[str, list[str]] = field(default_factory=dict)  # prv name -> what needs it
    sections: list[str] = field(default_factory=list)  # solution profile tables read or written
    graph: dict[str, list[str]] = field(default_factory=dict)  # Graph permission -> what needs it
    entra_groups: dict[str, list[str]] = field(default_factory=dict)  # group ID -> rules reading it
    report_sign_in: list[str] = field(default_factory=list)  # what needs the Rescue report sign-in
    rescue: dict[RescueCall, list[str]] = field(default_factory=dict)  # Rescue call -> what makes it

    def privilege(self, name: str, why: str) -> None:
        add_reason(self.privileges, name, why)

    def table(self, verbs: Iterable[str], entity: str, why: str) -> None:
        for verb in verbs:
            self.privilege(f"prv{verb}{entity}", f"table {entity}: {why}")

    def section(self, name: Section) -> None:
        """A solution profile table the schema check verifies; kept in the profile's order
        (``Section``), whichever kind asks first."""
        if name not in self.sections:
            self.sections.append(name)
            self.sections.sort(key=get_args(Section).index)

    def graph_permission(self, name: str, why: str) -> None:
        add_reason(self.graph, name, why)

    def rescue_call(self, call: RescueCall | str, why: str) -> None:
        """A Rescue call the declared state makes (a method name: anywhere, by an Administrator)."""
        reasons = self.rescue.setdefault(RescueCall(call) if isinstance(call, str) else call, [])
        if why not in reasons:
            reasons.append(why)

    def why(self, privilege: str) -> str:
        """What needs ``privilege``, said once per table (one line for a doctor check)."""
        reasons = self.privileges[privilege]
        table = reasons[0].split(": ", 1)[0] if reasons[0].startswith("table ") else ""
        if table and all(r.startswith(f"{table}: ") for r in reasons):
            return f"{table}: " + ", ".join(r.split(": ", 1)[1] for r in reasons)
        return "; ".join(reasons)


def add_reason(found: dict[str, list[str]], name: str, why: str) -> None:
    reasons = found.setdefault(name, [])
    if why not in reasons:
        reasons.append(why)
