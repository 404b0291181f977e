"""Semantic checks that look across items of a tenant, after each item is valid on its own.

Pydantic validates one value at a time; it cannot see that the same user is listed twice or
that two users pin the same Rescue technician. Those mistakes would make the plan fight
itself (two settings rows for one technician), so they are errors, each reported at the
second occurrence with "also at" the first. Technicians and groups are validated item by
item here, so the checks still run (on the valid items) when some other part of the tenant
is broken: every problem is reported in one run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from reconciler.config.models import RescueGroup, Technician, TechnicianRule
from reconciler.config.problems import dotted
from reconciler.config.text import excerpt
from reconciler.config.types import normalise_org_url
from reconciler.config.yamlpos import YamlPath
from reconciler.errors import Location, Problem

Locate = Callable[[YamlPath], Location]
_M = TypeVar("_M", bound=BaseModel)


def _valid_items(data: Mapping[str, Any], key: str, model: type[_M]) -> list[tuple[int, _M]]:
    items = data.get(key)
    if not isinstance(items, list):
        return []
    valid: list[tuple[int, _M]] = []
    for index, item in enumerate(items):
        try:
            valid.append((index, model.model_validate(item)))
        except ValidationError:
            continue  # reported by the full validation; the check runs on the rest
    return valid


def _duplicates(
    entries: Iterable[tuple[str, YamlPath, str]], locate: Locate, describe: Callable[[str], str]
) -> list[Problem]:
    """``entries`` are (normalised value, path, shown value); report each repeat at the repeat."""
    first: dict[str, YamlPath] = {}
    problems: list[Problem] = []
    for norm, path, shown in entries:
        if norm in first:
            problems.append(
                Problem(locate(path), dotted(path), f"{describe(shown)}; also at {locate(first[norm])}")
            )
        else:
            first[norm] = path
    return problems


def _technician_problems(techs: list[tuple[int, Technician]], locate: Locate) -> list[Problem]:
    base: YamlPath = ("technicians",)
    problems = _duplicates(
        ((t.user, (*base, i, "user"), t.user) for i, t in techs),
        locate,
        lambda v: f"user {excerpt(v)} is listed twice; list each Dynamics user once",
    )
    # A user listed twice is one mistake: the checks below look at each user's first entry only.
    firsts: dict[str, tuple[int, Technician]] = {}
    for i, t in techs:
        firsts.setdefault(t.user, (i, t))
    problems += _duplicates(
        (
            (t.technician_id, (*base, i, "technician_id"), t.technician_id)
            for i, t in firsts.values()
            if t.technician_id
        ),
        locate,
        lambda v: (
            f"technician ID {excerpt(v)} is pinned for two users; a Rescue technician maps to one Dynamics user"
        ),
    )
    problems += _duplicates(
        (
            (t.lookup_email, (*base, i, "rescue_email" if t.rescue_email else "user"), t.lookup_email)
            for i, t in firsts.values()
            if not t.technician_id
        ),
        locate,
        lambda v: (
            f"two users look up the same Rescue technician email {excerpt(v)}; a technician maps to one user"
        ),
    )
    problems += _duplicates(
        ((t.sso_id, (*base, i, "sso_id"), t.sso_id) for i, t in firsts.values() if t.sso_id),
        locate,
        lambda v: f"SSO ID {excerpt(v)} is given to two users; SSO IDs identify one technician each",
    )
    for i, tech in techs:
        if tech.rescue_email is not None and tech.technician_id is not None:
            path: YamlPath = (*base, i, "technician_id")
            problems.append(
                Problem(
                    locate(path),
                    dotted(path),
                    "rescue_email and technician_id are both set; pick one: technician_id pins the Rescue "
                    f"node, rescue_email looks it up (also at {locate((*base, i, 'rescue_email'))})",
                )
            )
    return problems


def _group_problems(
    groups: list[tuple[int, RescueGroup]],
    techs: list[tuple[int, Technician]],
    locate: Locate,
    *,
    all_groups_known: bool,
) -> list[Problem]:
    problems = _duplicates(
        ((g.path.casefold(), ("rescue_groups", i, "path"), g.path) for i, g in groups),
        locate,
        lambda v: (
            f"group path {excerpt(v)} is listed twice (paths compare without case); list each group once"
        ),
    )
    # A node is one group: two paths pinned to it would make both references name it.
    problems += _duplicates(
        ((g.node_id, ("rescue_groups", i, "node_id"), g.node_id) for i, g in groups if g.node_id),
        locate,
        lambda v: f"node_id {v} is pinned by two groups; a Rescue group has one path, pin it once",
    )
    if not all_groups_known:
        return problems  # an invalid group entry might be the one a technician refers to
    declared = {g.path.casefold() for _, g in groups}
    for i, tech in techs:
        if tech.create is not None and tech.create.group.casefold() not in declared:
            path: YamlPath = ("technicians", i, "create", "group")
            problems.append(
                Problem(
                    locate(path),
                    dotted(path),
                    f"group {excerpt(tech.create.group)} is not declared in rescue_groups; declare the group "
                    f"(add `- path: {tech.create.group}` under rescue_groups)",
                )
            )
    return problems


def _org_url_problems(data: Mapping[str, Any], locate: Locate) -> list[Problem]:
    """The configuration window must name the org the tenant connects to (or say it does not)."""
    integration, connection = data.get("integration"), data.get("connection")
    if not isinstance(integration, Mapping) or not isinstance(connection, Mapping):
        return []
    dynamics = connection.get("dynamics")
    written = integration.get("org_url")
    connected = dynamics.get("org_url") if isinstance(dynamics, Mapping) else None
    if integration.get("other_org_url") is True or not (
        isinstance(written, str) and isinstance(connected, str)
    ):
        return []
    try:
        same = normalise_org_url(written) == normalise_org_url(connected)
    except ValueError:
        return []  # an invalid URL is reported by the model validation
    if same:
        return []
    path: YamlPath = ("integration", "org_url")
    return [
        Problem(
            locate(path),
            dotted(path),
            f"{excerpt(written)} is not the org this tenant connects to ({excerpt(connected)} at "
            f"{locate(('connection', 'dynamics', 'org_url'))}); the integration would post sessions to "
            "another org. Write the same org, or set `other_org_url: true` if that is intended",
        )
    ]


def _rule_problems(rules: list[tuple[int, TechnicianRule]], locate: Locate) -> list[Problem]:
    """A source listed in two rules: its members would be mapped twice, perhaps differently."""
    return _duplicates(
        (
            (f"{r.source}:{r.source_value.casefold()}", ("technician_rules", i, r.source), r.source_value)
            for i, r in rules
        ),
        locate,
        lambda v: f"source {v!r} is used by two technician rules; give each source one rule",
    )


def semantic_problems(data: Mapping[str, Any], locate: Locate) -> list[Problem]:
    """Cross-item problems of one tenant's merged data; ``locate`` maps a path to its position."""
    techs = _valid_items(data, "technicians", Technician)
    groups = _valid_items(data, "rescue_groups", RescueGroup)
    raw_groups = data.get("rescue_groups")
    all_known = raw_groups is None or (isinstance(raw_groups, list) and len(groups) == len(raw_groups))
    rules = _valid_items(data, "technician_rules", TechnicianRule)
    return (
        _technician_problems(techs, locate)
        + _group_problems(groups, techs, locate, all_groups_known=all_known)
        + _org_url_problems(data, locate)
        + _rule_problems(rules, locate)
    )


__all__ = ["Locate", "semantic_problems"]
