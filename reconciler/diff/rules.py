"""Technicians by rule: expand each rule's members (read elsewhere) into mappings.

Pure. A rule's source is a Rescue group path (its members come from the hierarchy already read)
or an Entra ID group (its transitive user members, read from Microsoft Graph). Each member gives
one mapping: the Dynamics user, the Rescue technician (node ID, or the e-mail to find it by) and
the SSO ID, from the rule's templates. What cannot be decided is never guessed:

- a source that could not be read makes the rule *unknown* (the caller marks its whole derived
  set unknown and keeps every live settings row out of "unmanaged" and prune), and so does a
  Rescue group path that names several live groups (``resources/matching.py``: every one named),
  and an Entra group with a member Graph showed with limited information (no userPrincipalName:
  the app may not read users), the missing permission named; a member is never matched by an
  empty UPN;
- a Rescue rule's members are the technicians inside the one group node it names, by node, never
  by a path prefix (a sibling literally named ``Support/Tier 2`` is not inside ``Support``);
- an explicit ``technicians`` entry wins over a rule for the same user or the same Rescue
  technician (``claimed``); the member is dropped, silently, since the YAML says so;
- two rules mapping one user (or one technician) differently is a located problem, and neither
  mapping is used.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field

from reconciler.config.models import TechnicianRule, Tenant
from reconciler.config.templates import expand, member_values
from reconciler.config.text import excerpt
from reconciler.kinds.needs import MEMBER_PROPERTIES_PERMISSION
from reconciler.resources.matching import Index, Match, name_key, path_key, show_path

YamlPath = tuple[str | int, ...]


@dataclass(frozen=True)
class DirectoryGroup:
    """A Rescue technician group as the hierarchy lists it: its path as names (root first), never
    joined with ``/`` (a name may hold one)."""

    node_id: str
    names: tuple[str, ...]

    @property
    def key(self) -> tuple[str, ...]:
        return path_key(self.names)

    def shown(self) -> str:
        return f"node {self.node_id} {show_path(self.names)}"


@dataclass(frozen=True)
class DirectoryTechnician:
    """A Rescue technician as the hierarchy lists it: ``groups`` are the node IDs of the groups
    it is in, outermost first (empty when it is in none)."""

    node_id: str
    email: str
    groups: tuple[str, ...] = ()

    def shown(self) -> str:
        return f"node {self.node_id} ({excerpt(self.email)})"


@dataclass(frozen=True)
class EntraUser:
    """A user member of an Entra ID group (``mail`` may be empty)."""

    id: str
    upn: str
    mail: str = ""


@dataclass(frozen=True)
class EntraGroup:
    """An Entra group's transitive user members, or why they could not be read (``members=None``).
    ``limited``: the IDs of user members Graph listed with limited information (only ``id`` and
    ``@odata.type``, their UPN null), which are not in ``members``."""

    members: tuple[EntraUser, ...] | None
    error: str = ""
    limited: tuple[str, ...] = ()


def limited_reason(group: EntraGroup) -> str:
    """Why a group with members shown with limited information cannot be expanded ('' when none
    is): every such member named (at most 5, then how many more), and the permission."""
    if not group.limited:
        return ""
    shown = ", ".join(excerpt(member) for member in group.limited[:5])
    more = f" and {len(group.limited) - 5} more" if len(group.limited) > 5 else ""
    return (
        f"{len(group.limited)} member(s) came with limited information (ID only, no "
        f"userPrincipalName: {shown}{more}): grant the reconciler's app registration the Graph "
        f"application permission {MEMBER_PROPERTIES_PERMISSION}"
    )


@dataclass(frozen=True)
class RuleMapping:
    """One member of one rule, mapped. ``technician_id`` for Rescue members; ``rescue_email``
    (to look the technician up by) for Entra members."""

    rule: int
    member: str
    user: str
    sso_id: str | None
    technician_id: str | None = None
    rescue_email: str | None = None

    @property
    def path(self) -> YamlPath:
        return ("technician_rules", self.rule)


@dataclass
class Expansion:
    mappings: list[RuleMapping] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    unknown: list[tuple[int, str]] = field(default_factory=list)  # (rule index, reason)
    # Every user some rule maps, even one left out by a conflict: its live row is never
    # "unmanaged" nor pruned while the tenant files are being fixed.
    covered: set[str] = field(default_factory=set)


def rule_label(rule: TechnicianRule, index: int) -> str:
    """How the plan names a rule: ``technician_rules[0] rescue_group "Support/Tier 2"`` (the
    value JSON-quoted: a newline or quote in a group path cannot break a rendered line)."""
    return f"technician_rules[{index}] {rule.source} {json.dumps(rule.source_value, ensure_ascii=False)}"


def group_pins(tenant: Tenant) -> dict[str, str]:
    """The ``rescue_groups[].node_id`` pins: casefolded declared path -> node ID (paths compare
    without case, as validate compares them)."""
    return {g.path.casefold(): g.node_id for g in tenant.rescue_groups if g.node_id}


def pinned_group(found: Match[DirectoryGroup], path: str, pins: Mapping[str, str]) -> Match[DirectoryGroup]:
    """The groups ``path`` names once its pin chose: every reference to a pinned path (a group's
    parent, a technician's ``create.group``, a rule) means the pinned node. A pin chooses among
    the candidates, never adds one: a pin that is none of them leaves none (``pin_missed``)."""
    pin = pins.get(path.casefold())
    return found if pin is None else found.pinned(pin, _node_id)


def pin_missed(path: str, pins: Mapping[str, str], found: Match[DirectoryGroup]) -> str:
    """Why a pinned path names no group: its pin is not one the path names ('' if not pinned)."""
    pin = pins.get(path.casefold())
    if pin is None:
        return ""
    named = found.named(DirectoryGroup.shown) if found.candidates else "none"
    return (
        f"the path {excerpt(path)} is pinned to node_id {pin} in rescue_groups, which is not a group "
        f"it names (the groups it names: {named})"
    )


def _node_id(group: DirectoryGroup) -> str:
    return group.node_id


def _members(
    rule: TechnicianRule,
    rescue: Iterable[DirectoryTechnician],
    entra: EntraGroup | None,
    group_id: str,
) -> Iterable[tuple[str, str, dict[str, str]]]:
    """(member shown, e-mail, template values) of each member the rule does not exclude: for a
    Rescue rule, the technicians inside the group node ``group_id`` (by node, never by a path
    prefix: a sibling literally named ``Support/Tier 2`` is not inside ``Support``)."""
    excluded = {name_key(e) for e in rule.exclude}
    if rule.rescue_group is not None:
        for tech in sorted(rescue, key=lambda t: (t.email, t.node_id)):
            if group_id in tech.groups and name_key(tech.email) not in excluded:
                values = member_values(email=tech.email, upn=tech.email, extra={"node_id": tech.node_id})
                yield tech.email, tech.email, values
        return
    for user in sorted(entra.members or () if entra else (), key=lambda u: (u.upn, u.id)):
        upn, mail = user.upn.lower(), user.mail.lower()
        if name_key(upn) in excluded or (mail and name_key(mail) in excluded):
            continue
        yield upn, mail or upn, member_values(email=mail or upn, upn=upn, extra={"id": user.id})


def expand_rules(
    tenant: Tenant,
    *,
    rescue: Iterable[DirectoryTechnician] | None,
    rescue_groups: Iterable[DirectoryGroup] | None,
    entra: Mapping[str, EntraGroup],
    claimed_users: Collection[str] = (),
    claimed_technicians: Collection[str] = (),
    locate: Callable[[YamlPath], str],
) -> Expansion:
    """Every rule's mappings. ``rescue``/``rescue_groups`` are ``None`` when the hierarchy could
    not be read (in full); ``entra`` maps a group ID to what was read; ``claimed_*`` are the users
    and node IDs explicit entries already map. A rule whose path names several live groups is
    unknown, every group named: its members are never guessed."""
    out = Expansion()
    technicians = list(rescue or ())
    groups = Index(rescue_groups or (), key=lambda g: g.key)
    pins = group_pins(tenant)
    # By the user's normal form (``name_key``): two members whose UPNs differ only in form map
    # one Dynamics user, and are one mapping or a conflict, never two settings rows.
    by_user: dict[str, RuleMapping] = {}
    claimed = {name_key(u) for u in claimed_users}
    by_node: dict[str, RuleMapping] = {}
    conflicted: set[str] = set()  # users and node IDs two rules disagree on: neither mapping is used
    for index, rule in enumerate(tenant.technician_rules):
        where = f"{locate(('technician_rules', index, rule.source))}: technician_rules.{index}"
        group = entra.get(rule.entra_group) if rule.entra_group is not None else None
        group_id = ""
        if rule.rescue_group is not None:
            if rescue_groups is None:
                out.unknown.append((index, "the Rescue hierarchy could not be read (in full)"))
                continue
            named = groups.find(path_key((rule.rescue_group,)))
            found = pinned_group(named, rule.rescue_group, pins)
            if found.none and pin_missed(rule.rescue_group, pins, named):
                out.unknown.append((index, pin_missed(rule.rescue_group, pins, named)))
                continue
            if found.ambiguous:
                out.unknown.append(
                    (
                        index,
                        f"the path names {len(found.candidates)} Rescue groups: "
                        f"{found.named(DirectoryGroup.shown)} (rename one in the Rescue Admin Center, "
                        "pin node_id in rescue_groups, or list its technicians in technicians with technician_id)",
                    )
                )
                continue
            if found.one is None:
                out.problems.append(
                    f"{where}: no Rescue technician group has path {excerpt(rule.rescue_group)} "
                    "(paths start below the Technicians root, e.g. Support/Tier 1)"
                )
                continue
            group_id = found.one.node_id
        elif group is None or group.members is None:
            reason = group.error if group is not None else "not read"
            out.unknown.append((index, f"Entra group {rule.entra_group} could not be read: {reason}"))
            continue
        elif group.limited:
            # Part of the group is no group: its rows are neither created nor pruned.
            out.unknown.append((index, f"Entra group {rule.entra_group}: {limited_reason(group)}"))
            continue
        for member, _, values in _members(rule, technicians, group, group_id):
            mapping = RuleMapping(
                rule=index,
                member=member,
                user=expand(rule.user_template, values).strip().lower(),
                sso_id=expand(rule.sso_id, values) if rule.sso_id is not None else None,
                technician_id=values.get("node_id"),
                rescue_email=(
                    expand(rule.rescue_email_template, values).strip().lower()
                    if rule.entra_group is not None
                    else None
                ),
            )
            out.covered.add(mapping.user)
            if name_key(mapping.user) in claimed or mapping.technician_id in claimed_technicians:
                continue
            problem = _conflict(mapping, by_user, by_node, tenant, locate)
            if problem:
                out.problems.append(f"{where}: {problem}")
                conflicted.update(filter(None, (name_key(mapping.user), mapping.technician_id)))
                continue
            if name_key(mapping.user) in by_user:
                continue  # the same mapping from another rule: one is enough
            by_user[name_key(mapping.user)] = mapping
            if mapping.technician_id is not None:
                by_node[mapping.technician_id] = mapping
            out.mappings.append(mapping)
    out.mappings = [m for m in out.mappings if not {name_key(m.user), m.technician_id} & conflicted]
    return out


def _conflict(
    mapping: RuleMapping,
    by_user: Mapping[str, RuleMapping],
    by_node: Mapping[str, RuleMapping],
    tenant: Tenant,
    locate: Callable[[YamlPath], str],
) -> str:
    """Why ``mapping`` contradicts an earlier rule's mapping ('' when it does not)."""
    earlier = by_user.get(name_key(mapping.user))
    if earlier is not None:
        same = (earlier.sso_id, earlier.technician_id, earlier.rescue_email) == (
            mapping.sso_id,
            mapping.technician_id,
            mapping.rescue_email,
        )
        if same:
            return ""
        return (
            f"member {earlier.member} maps user {mapping.user!r} differently from "
            f"{rule_label(tenant.technician_rules[earlier.rule], earlier.rule)} (also at "
            f"{locate(earlier.path)}); exclude the member from one rule or list the user in technicians"
        )
    other = by_node.get(mapping.technician_id or "")
    if other is not None:
        return (
            f"member {mapping.member} maps Rescue technician {mapping.technician_id} to {mapping.user!r}, "
            f"but {rule_label(tenant.technician_rules[other.rule], other.rule)} maps it to {other.user!r} "
            f"(also at {locate(other.path)}); a technician belongs to one Dynamics user"
        )
    return ""
