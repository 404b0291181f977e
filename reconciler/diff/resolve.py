"""Resolution: the stage between reading live state and diffing.

Declared desired resources + the live directories they refer to -> resolved desired resources
+ located problems. Each resolver turns one kind of reference into IDs the writers need:

- ``technician_nodes``: a technician's Rescue e-mail (or pinned node ID) -> its Rescue node ID,
  which yields the settings row and the Rescue technician to manage;
- ``dynamics_users``: a technician's UPN -> the Dynamics ``systemuserid`` its row points at
  (carried on the resolved ``TechnicianSettings.user_id``, excluded from comparison).

A new source of technicians (e.g. derived from a group) is one more resolver in ``RESOLVERS``.
Pure: the directories are read elsewhere (``engine/live.py``) and passed in.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from reconciler.config.models import Tenant
from reconciler.diff.desired import DesiredState, Locate
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


@dataclass(frozen=True)
class Directories:
    """The live directories references are resolved against.

    ``None`` means the directory could not be read (``rescue_error`` says why for Rescue): what
    depends on it stays unresolved, never guessed.
    """

    rescue: RescueDirectory | None = None
    rescue_error: str = ""
    user_ids: Mapping[str, str] | None = None  # lower-case UPN -> systemuserid


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


def dynamics_users(tenant: Tenant, state: DesiredState, directories: Directories, locate: Locate) -> None:
    """Each settings row -> its user's systemuserid; a UPN with no Dynamics user is a problem."""
    user_ids = directories.user_ids
    if user_ids is None:
        return  # the users could not be read: the settings rows are unknown in live state
    index = {t.user: i for i, t in enumerate(tenant.technicians)}
    for upn in sorted(u for u in index if u not in user_ids):
        i = index[upn]
        state.problems.append(
            f"{locate(('technicians', i, 'user'))}: technicians.{i}.user: no Dynamics user "
            f"with UPN {upn!r} (check the spelling, or that the user exists and is licensed)"
        )
    state.resources = [
        dataclasses.replace(r, user_id=user_ids[r.user]) if isinstance(r, TechnicianSettings) else r
        for r in state.resources
        if not (isinstance(r, TechnicianSettings) and r.user not in user_ids)
    ]


# In order: technicians must exist before their users are looked up.
RESOLVERS: tuple[Resolver, ...] = (technician_nodes, dynamics_users)


def resolve(
    tenant: Tenant, state: DesiredState, directories: Directories, locate: Locate | None = None
) -> DesiredState:
    """``state`` (the declared resources) with every reference resolved or reported."""
    for resolver in RESOLVERS:
        resolver(tenant, state, directories, locate or dotted_path)
    return state


def dotted_path(path: tuple[str | int, ...]) -> str:
    return ".".join(str(part) for part in path)
