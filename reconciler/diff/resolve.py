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
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from reconciler.config.models import Tenant
from reconciler.diff.desired import ANY_KEY, DesiredState, Locate
from reconciler.diff.rules import DirectoryTechnician, EntraGroup, expand_rules, rule_label
from reconciler.resources import (
    NEW_TECHNICIAN_PREFIX,
    RescueTechnician,
    TechnicianSettings,
    Unknown,
    placeholder_email,
)


@dataclass(frozen=True)
class RescueDirectory:
    """What the Rescue hierarchy says about technicians (read once per tenant)."""

    by_email: Mapping[str, str]  # lower-case email -> node ID
    node_ids: frozenset[str]  # node IDs of technicians
    technicians: tuple[DirectoryTechnician, ...] = ()  # with their group paths (for rules)
    groups: frozenset[str] = frozenset()  # casefolded group paths
    # Some hierarchy records could not be read (named): a rule below a group may miss members.
    incomplete: str = ""

    def rule_groups(self) -> frozenset[str] | None:
        """The group paths technician rules may expand, or None when the tree is incomplete."""
        return None if self.incomplete else self.groups


@dataclass(frozen=True)
class Directories:
    """The live directories references are resolved against.

    ``None`` means the directory could not be read (``rescue_error`` says why for Rescue): what
    depends on it stays unresolved, never guessed.
    """

    rescue: RescueDirectory | None = None
    rescue_error: str = ""
    user_ids: Mapping[str, str] | None = None  # lower-case UPN -> systemuserid
    # Entra group ID -> its transitive user members (or why they could not be read).
    entra_groups: Mapping[str, EntraGroup] = dataclasses.field(default_factory=dict)


Resolver = Callable[[Tenant, DesiredState, Directories, Locate], None]


def technician_nodes(tenant: Tenant, state: DesiredState, directories: Directories, locate: Locate) -> None:
    """Each declared technician -> its settings row and, when managed, its Rescue technician."""
    directory = directories.rescue
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
            technician_id = directory.by_email.get(tech.lookup_email)
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
    for mapping in expansion.mappings:
        rule = tenant.technician_rules[mapping.rule]
        label = rule_label(rule, mapping.rule)
        where = f"{locate((*mapping.path, rule.source))}: technician_rules.{mapping.rule}: member {mapping.member}"
        state.declared.add(("technician", mapping.user))
        node = mapping.technician_id
        if node is None:
            if directory is None:
                reason = f"Rescue hierarchy could not be read: {directories.rescue_error}"
                state.unknown.append(Unknown("technician", mapping.user, reason))
                continue
            node = directory.by_email.get(mapping.rescue_email or "")
            if node is None:
                state.problems.append(
                    f"{where}: no Rescue technician has email {mapping.rescue_email!r} (set the rule's "
                    "rescue_email template, or exclude the member)"
                )
                continue
        owner = owners.get(node)
        if owner is not None and owner != mapping.user:
            state.problems.append(
                f"{where}: Rescue technician {node} is already mapped to {owner}; one technician can "
                "belong to one Dynamics user only"
            )
            continue
        owners[node] = mapping.user
        state.technician_paths[mapping.user] = (*mapping.path, rule.source)
        state.resources.append(
            TechnicianSettings(user=mapping.user, technician_id=node, sso_id=mapping.sso_id, source=label)
        )
        if mapping.sso_id is not None:
            state.resources.append(RescueTechnician(technician_id=node, sso_id=mapping.sso_id, source=label))


def dynamics_users(tenant: Tenant, state: DesiredState, directories: Directories, locate: Locate) -> None:
    """Each settings row -> its user's systemuserid; a UPN with no Dynamics user is a problem
    located where the mapping was declared (its entry, or the rule that produced it)."""
    user_ids = directories.user_ids
    if user_ids is None:
        return  # the users could not be read: the settings rows are unknown in live state
    rows = [r for r in state.resources if isinstance(r, TechnicianSettings)]
    for row in sorted((r for r in rows if r.user not in user_ids), key=lambda r: r.user):
        path = state.technician_paths.get(row.user, ("technicians",))
        shown = f"{dotted_path(path[:-1])}: member {row.user}" if row.source else dotted_path(path)
        state.problems.append(
            f"{locate(path)}: {shown}: no Dynamics user with UPN {row.user!r} "
            "(check the spelling, or that the user exists and is licensed)"
        )
    state.resources = [
        dataclasses.replace(r, user_id=user_ids[r.user]) if isinstance(r, TechnicianSettings) else r
        for r in state.resources
        if not (isinstance(r, TechnicianSettings) and r.user not in user_ids)
    ]


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
