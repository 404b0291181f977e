"""What a Dynamics kind module reads with and into: the live record every part fills, what the
read was asked for, and the contract of a kind's read part (``ReadPart``).

The reader (``reader.py``) runs the parts its table lists, concurrently; a kind's part lives in
the kind's own module beside its writes, so the reader names no kind.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import ClassVar, Protocol

from reconciler.diff.resolve import DynamicsUser
from reconciler.profile import SolutionProfile
from reconciler.providers.dynamics.client import DataverseClient
from reconciler.resources import Kind, LiveState, SecretHasher


@dataclass
class DynamicsLive:
    """Live state plus the lookups apply needs (UPN -> systemuserid, BU ids, roles by BU)."""

    state: LiveState = field(default_factory=LiveState)
    # name_key(UPN) -> every Dynamics user with that domainname, disabled ones too: one UPN
    # naming several users is ambiguous (diff/resolve.py), never "the last one listed".
    users_by_upn: dict[str, tuple[DynamicsUser, ...]] = field(default_factory=dict)
    users_read: bool = False
    missing_users: list[str] = field(default_factory=list)
    root_business_unit: tuple[str, str] | None = None  # (id, name)
    business_units: dict[str, str] = field(default_factory=dict)  # id -> name


@dataclass(frozen=True)
class DynamicsQuery:
    """What the Dynamics read is asked for (``None``, ``False`` or empty: not wanted)."""

    solution_name: str | None = None
    integration: bool = False
    app_id: str | None = None
    session_key: bool = False
    users: Collection[str] = ()  # UPNs whose systemuserid is wanted


@dataclass(frozen=True)
class ReadContext:
    client: DataverseClient
    profile: SolutionProfile
    hasher: SecretHasher


class ReadPart(Protocol):
    """One kind's read: whether the query wants it, and the read that fills ``live`` (a
    ``ProviderError`` it raises makes its kind ``Unknown``; the other parts go on)."""

    kind: ClassVar[Kind]

    @staticmethod
    def wanted(query: DynamicsQuery) -> bool: ...

    @staticmethod
    async def read(context: ReadContext, live: DynamicsLive, query: DynamicsQuery) -> None: ...
