"""Resolution: the stage between reading live state and diffing.

Declared desired resources + the live directories they refer to -> resolved desired resources
+ located problems. Each resolver turns one kind of reference into IDs the writers need:

- ``technician_nodes``: a technician's Rescue e-mail (or pinned node ID) -> its Rescue node ID,
  which yields the settings row and the Rescue technician to manage;
- ``technician_rules``: each member of each technician rule (a Rescue group, an Entra ID group;
  expanded by ``diff/rules.py``) -> a settings row and Rescue technician like an explicit entry,
  carrying the rule that produced it (``source``);
- ``dynamics_users``: a technician's UPN -> the Dynamics ``systemuserid`` its row points at
  (carried on the resolved ``TechnicianSettings.user_id``, excluded from comparison).

A new source of technicians is one more resolver in ``RESOLVERS``.
Pure: the directories are read elsewhere (``engine/live.py``) and passed in.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

from reconciler.config.models import Tenant
from reconciler.config.text import excerpt
from reconciler.diff.desired import ANY_KEY, DesiredState, Locate
from reconciler.diff.rules import (
    DirectoryGroup,
    DirectoryTechnician,
    EntraGroup,
    RuleMapping,
    expand_rules,
    group_pins,
    pin_missed,
    pinned_group,
    rule_label,
)
from reconciler.kinds.rescue_technician import NEW_TECHNICIAN_PREFIX, RescueTechnician, placeholder_email
from reconciler.kinds.technician_settings import TechnicianSettings
from reconciler.resources import Unknown
from reconciler.resources.matching import Index, Match, declared_path_key, match, name_key


@dataclass(frozen=True)
class RescueDirectory:
    """What the Rescue hierarchy says about technicians and groups (read once per tenant).

    Every technician and group is kept, those sharing an e-mail or a path too: a reference that
    names several is ambiguous (``resources/matching.py``), never resolved to one of them.
    """

    technicians: tuple[DirectoryTechnician, ...] = ()
    groups: tuple[DirectoryGroup, ...] = ()
    # Some hierarchy records could not be read (named): a rule below a group may miss members.
    incomplete: str = ""

    @cached_property
    def node_ids(self) -> frozenset[str]:
        """Node IDs of technicians."""
        return frozenset(t.node_id for t in self.technicians)

    @cached_property
    def _emails(self) -> Index[str, DirectoryTechnician]:
        return Index(self.technicians, key=lambda t: name_key(t.email))

    @cached_property
    def _paths(self) -> Index[tuple[str, ...], DirectoryGroup]:
        return Index(self.groups, key=lambda g: g.key)

    def technician(self, email: str) -> Match[DirectoryTechnician]:
        """The technicians an e-mail names (compared in normal form)."""
        return self._emails.find(name_key(email))

    def group(self, path: str) -> Match[DirectoryGroup]:
        """The groups a declared path names (``Support/Tier 2``: also a group of that name)."""
        return self._paths.find(declared_path_key(path))

    def rule_groups(self) -> tuple[DirectoryGroup, ...] | None:
        """The groups technician rules may expand, or None when the tree is incomplete."""
        return None if self.incomplete else self.groups


@dataclass(frozen=True)
class DynamicsUser:
    """A Dynamics user (``systemuser``) a UPN may name."""

    id: str
    upn: str  # domainname as read
    disabled: bool = False

    def shown(self) -> str:
        return f"{self.id} ({excerpt(self.upn)}{', disabled' if self.disabled else ''})"


@dataclass(frozen=True)
class Directories:
    """The live directories references are resolved against.

    ``None`` means the directory could not be read (``rescue_error`` says why for Rescue): what
    depends on it stays unresolved, never guessed.
    """

    rescue: RescueDirectory | None = None
    rescue_error: str = ""
    # name_key(UPN) -> every Dynamics user with that domainname (disabled ones too).
    users: Mapping[str, Sequence[DynamicsUser]] | None = None
    # Entra group ID -> its transitive user members (or why they could not be read).
    entra_groups: Mapping[str, EntraGroup] = dataclasses.field(default_factory=dict)

    def user(self, upn: str) -> Match[DynamicsUser]:
        """The Dynamics users a UPN names (none when the users could not be read)."""
        return match(self.users.get(name_key(upn), ()) if self.users is not None else ())


Resolver = Callable[[Tenant, DesiredState, Directories, Locate], None]


def technician_nodes(tenant: Tenant, state: DesiredState, directories: Directories, locate: Locate) -> None:
    """Each declared technician -> its settings row and, when managed, its Rescue technician."""
    directory = directories.rescue
    pins = group_pins(tenant)
    owners: dict[str, str] = {}
    rescue: dict[str, RescueTechnician] = {}
    for index, tech in enumerate(tenant.technicians):
        path: tuple[str | int, ...] = ("technicians", index)
        state.declared.add(("technician", tech.user))
        technician_id: str | None
        if tech.technician_id is not None:
            technician_id = tech.technician_id
            if directory is not None and technician_id not in directory.node_ids and tech.create is None:
                state.problems.append(
                    f"{locate((*path, 'technician_id'))}: technicians.{index}.technician_id: "
                    f"no Rescue technician has node ID {technician_id} (check the ID in the Rescue "
                    "Admin Center, or use rescue_email instead)"
                )
                continue
        elif directory is None:
            state.unknown.append(
                Unknown(
                    "technician", tech.user, f"Rescue hierarchy could not be read: {directories.rescue_error}"
                )
            )
            continue
        else:
            found = directory.technician(tech.lookup_email)
            if found.ambiguous:
                state.unknown.append(Unknown("technician", tech.user, shared_email(tech.lookup_email, found)))
                continue
            technician_id = found.one.node_id if found.one is not None else None
            if technician_id is None and tech.create is not None:
                named = directory.group(tech.create.group)
                parent = pinned_group(named, tech.create.group, pins)
                missed = pin_missed(tech.create.group, pins, named) if parent.none else ""
                if parent.ambiguous or missed:
                    why = f": {missed}" if missed else f" names {ambiguous_groups(parent)}"
                    state.unknown.append(
                        Unknown(
                            "technician",
                            tech.user,
                            f"its create.group {excerpt(tech.create.group)}{why}; the technician is not created",
                        )
                    )
                    continue
            if technician_id is None:
                if tech.create is None:
                    state.problems.append(
                        f"{locate((*path, 'rescue_email' if tech.rescue_email else 'user'))}: "
                        f"technicians.{index}: no Rescue technician has email {tech.lookup_email!r} (fix the "
                        "email, pin technician_id, or add `create:` to create the technician in Rescue)"
                    )
                    continue
                technician_id = NEW_TECHNICIAN_PREFIX + tech.lookup_email
        owner = owners.get(technician_id)
        if owner is not None and owner != tech.user:
            state.problems.append(
                f"{locate(path)}: technicians.{index}: Rescue technician {technician_id} is already mapped "
                f"to {owner}; one technician can belong to one Dynamics user only"
            )
            continue
        owners[technician_id] = tech.user
        state.technician_paths[tech.user] = (*path, "user")
        state.resources.append(
            TechnicianSettings(user=tech.user, technician_id=technician_id, sso_id=tech.sso_id)
        )
        to_create = placeholder_email(technician_id) is not None
        if tech.sso_id is not None or to_create:
            rescue[technician_id] = RescueTechnician(
                technician_id=technician_id,
                email=tech.lookup_email if to_create else None,
                sso_id=tech.sso_id,
                create_group=tech.create.group if tech.create else None,
                name=tech.create.name if tech.create else None,
            )
    state.resources.extend(rescue.values())


def rule_users(tenant: Tenant, directories: Directories) -> list[str]:
    """The Dynamics users the technician rules' members map to (to look them up in one go)."""
    if not tenant.technician_rules:
        return []
    directory = directories.rescue
    expansion = expand_rules(
        tenant,
        rescue=directory.technicians if directory is not None else None,
        rescue_groups=directory.rule_groups() if directory is not None else None,
        entra=directories.entra_groups,
        locate=dotted_path,
    )
    return sorted({m.user for m in expansion.mappings})


def technician_rules(tenant: Tenant, state: DesiredState, directories: Directories, locate: Locate) -> None:
    """Each member of each technician rule -> a settings row (and Rescue technician), unless an
    explicit entry already maps that user or technician; an unreadable source is Unknown."""
    if not tenant.technician_rules:
        return
    directory = directories.rescue
    settings = [r for r in state.resources if isinstance(r, TechnicianSettings)]
    expansion = expand_rules(
        tenant,
        rescue=directory.technicians if directory is not None else None,
        rescue_groups=directory.rule_groups() if directory is not None else None,
        entra=directories.entra_groups,
        claimed_users={user for kind, user in state.declared if kind == "technician"},
        claimed_technicians={r.technician_id for r in settings if r.technician_id},
        locate=locate,
    )
    state.problems.extend(expansion.problems)
    state.declared.update(("technician", user) for user in expansion.covered)
    for index, reason in expansion.unknown:
        rule = tenant.technician_rules[index]
        state.unknown.append(
            Unknown(
                "technician",
                f"technician_rules[{index}]",
                f"{rule_label(rule, index)}: {reason}; nothing it maps is created, changed or pruned",
            )
        )
        state.declared.add(("technician", ANY_KEY))
    owners = {r.technician_id: r.user for r in settings if r.technician_id}
    nodes: list[tuple[RuleMapping, str]] = []
    for mapping in expansion.mappings:
        where = _member_at(tenant, mapping, locate)
        node = mapping.technician_id
        if node is None:
            if directory is None:
                reason = f"Rescue hierarchy could not be read: {directories.rescue_error}"
                state.unknown.append(Unknown("technician", mapping.user, reason))
                continue
            email = mapping.rescue_email or ""
            found = directory.technician(email)
            if found.ambiguous:
                state.unknown.append(Unknown("technician", mapping.user, shared_email(email, found)))
                continue
            if found.one is None:
                state.problems.append(
                    f"{where}: no Rescue technician has email {excerpt(email)} (set the rule's "
                    "rescue_email template, or exclude the member)"
                )
                continue
            node = found.one.node_id
        owner = owners.get(node)
        if owner is not None and owner != mapping.user:
            state.problems.append(
                f"{where}: Rescue technician {node} is already mapped to {owner}; one technician can "
                "belong to one Dynamics user only"
            )
            continue
        nodes.append((mapping, node))
    # Two members (of Entra rules: their e-mails are looked up only now) reaching one technician:
    # neither is the one, whatever the order of the members.
    users_by_node: dict[str, set[str]] = {}
    for mapping, node in nodes:
        users_by_node.setdefault(node, set()).add(mapping.user)
    for mapping, node in nodes:
        rule = tenant.technician_rules[mapping.rule]
        label = rule_label(rule, mapping.rule)
        if len(users_by_node[node]) > 1:
            others = ", ".join(excerpt(u) for u in sorted(users_by_node[node] - {mapping.user}))
            state.problems.append(
                f"{_member_at(tenant, mapping, locate)}: maps Rescue technician {node} to "
                f"{excerpt(mapping.user)}, and so do the rules' members of {others}; a technician "
                "belongs to one Dynamics user (exclude all but one, or list the user in technicians)"
            )
            continue
        state.technician_paths[mapping.user] = (*mapping.path, rule.source)
        state.resources.append(
            TechnicianSettings(user=mapping.user, technician_id=node, sso_id=mapping.sso_id, source=label)
        )
        if mapping.sso_id is not None:
            state.resources.append(RescueTechnician(technician_id=node, sso_id=mapping.sso_id, source=label))


def _member_at(tenant: Tenant, mapping: RuleMapping, locate: Locate) -> str:
    rule = tenant.technician_rules[mapping.rule]
    return f"{locate((*mapping.path, rule.source))}: technician_rules.{mapping.rule}: member {mapping.member}"


def shared_email(email: str, found: Match[DirectoryTechnician]) -> str:
    """Why a technician whose e-mail names several Rescue technicians is Unknown."""
    return (
        f"{len(found.candidates)} Rescue technicians have the e-mail {excerpt(email)} (compared "
        f"without case, spaces or invisible characters): {found.named(DirectoryTechnician.shown)}; "
        "nothing is written for it: pin technician_id in a technicians entry, or fix the e-mails "
        "in the Rescue Admin Center"
    )


def ambiguous_groups(found: Match[DirectoryGroup]) -> str:
    return (
        f"{len(found.candidates)} Rescue groups: {found.named(DirectoryGroup.shown)} (rename one in the "
        "Rescue Admin Center, or pin node_id in rescue_groups)"
    )


def dynamics_users(tenant: Tenant, state: DesiredState, directories: Directories, locate: Locate) -> None:
    """Each settings row -> its user's systemuserid. A UPN with no Dynamics user is a problem
    located where the mapping was declared (its entry, or the rule that produced it); one that
    names several users (a disabled one among them: Dataverse keeps the domainname of a disabled
    user) or only a disabled user is Unknown, every user named: no row is written for it."""
    if directories.users is None:
        return  # the users could not be read: the settings rows are unknown in live state
    pins = {t.user: t.dynamics_user_id for t in tenant.technicians if t.dynamics_user_id}
    user_ids: dict[str, str] = {}
    left_out: set[str | None] = set()  # Rescue node IDs of mappings whose user is not decided
    rows = [r for r in state.resources if isinstance(r, TechnicianSettings)]
    for row in sorted(rows, key=lambda r: r.user):
        path = state.technician_paths.get(row.user, ("technicians",))
        found = directories.user(row.user)
        pin = pins.get(row.user)
        if pin is not None and found.candidates:
            if found.pinned(pin, _user_id).none:
                state.problems.append(
                    f"{locate((*path[:-1], 'dynamics_user_id'))}: {dotted_path(path[:-1])}.dynamics_user_id: "
                    f"no Dynamics user with UPN {excerpt(row.user)} has the ID {pin} (the users with it: "
                    f"{found.named(DynamicsUser.shown)})"
                )
                left_out.add(row.technician_id)
                continue
            found = found.pinned(pin, _user_id)
        if found.one is None and not found.ambiguous:
            shown = f"{dotted_path(path[:-1])}: member {row.user}" if row.source else dotted_path(path)
            state.problems.append(
                f"{locate(path)}: {shown}: no Dynamics user with UPN {row.user!r} "
                "(check the spelling, or that the user exists and is licensed)"
            )
            continue
        reason = _undecided(row.user, found)
        if reason:
            state.unknown.append(Unknown("technician", row.user, reason))
            left_out.add(row.technician_id)
        elif found.one is not None:
            user_ids[row.user] = found.one.id
    state.resources = [
        dataclasses.replace(r, user_id=user_ids[r.user]) if isinstance(r, TechnicianSettings) else r
        for r in state.resources
        if not (isinstance(r, TechnicianSettings) and r.user not in user_ids)
        # The Rescue side of a mapping whose Dynamics user is not decided is not written either.
        and not (isinstance(r, RescueTechnician) and r.technician_id in left_out)
    ]


def _user_id(user: DynamicsUser) -> str:
    return user.id


def _undecided(upn: str, found: Match[DynamicsUser]) -> str:
    """Why no settings row may be written for ``upn``'s users ('' when one enabled user)."""
    if found.ambiguous:
        return (
            f"{len(found.candidates)} Dynamics users have the UPN {excerpt(upn)}: "
            f"{found.named(DynamicsUser.shown)}; nothing is written for it: pin the one meant "
            "with dynamics_user_id in a technicians entry, or fix the users in Dynamics"
        )
    if found.one is not None and found.one.disabled:
        return (
            f"its Dynamics user {found.one.shown()} is disabled; no settings row is written for a "
            "disabled user: enable the user in Dynamics, or remove the mapping"
        )
    return ""


# In order: technicians must exist before their users are looked up.
# Explicit entries before rules: they win for the users and technicians they map.
RESOLVERS: tuple[Resolver, ...] = (technician_nodes, technician_rules, dynamics_users)


def resolve(
    tenant: Tenant, state: DesiredState, directories: Directories, locate: Locate | None = None
) -> DesiredState:
    """``state`` (the declared resources) with every reference resolved or reported."""
    for resolver in RESOLVERS:
        resolver(tenant, state, directories, locate or dotted_path)
    return state


def dotted_path(path: tuple[str | int, ...]) -> str:
    return ".".join(str(part) for part in path)
