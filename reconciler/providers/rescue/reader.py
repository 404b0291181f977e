"""Read a tenant's Rescue live state: the hierarchy (one call), groups by path, and the SSO ID of
each technician the tenant files map (one getUser_v3 each: the API has no bulk read of SSO IDs),
run concurrently under the client's bound."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from reconciler.diff import RescueDirectory
from reconciler.errors import AuthError, ProviderError
from reconciler.providers.rescue.client import RescueClient
from reconciler.providers.rescue.mapping import (
    RescueTree,
    build_tree,
    groups_from_tree,
    technician_from_user,
)
from reconciler.resources import LiveState, Unknown

log = logging.getLogger(__name__)


@dataclass
class RescueLive:
    state: LiveState = field(default_factory=LiveState)
    tree: RescueTree | None = None
    directory: RescueDirectory | None = None
    error: str = ""


class RescueReader:
    def __init__(self, client: RescueClient) -> None:
        self.client = client

    async def read_tree(self) -> RescueLive:
        live = RescueLive()
        try:
            blocks = await self.client.get_hierarchy()
        except AuthError:
            raise
        except ProviderError as exc:
            live.error = exc.message
            reason = f"Rescue hierarchy could not be read: {exc.message}"
            live.state.unknown.append(Unknown("rescue_group", "*", reason))
            live.state.unknown.append(Unknown("rescue_technician", "*", reason))
            return live
        tree = build_tree(blocks)
        live.tree = tree
        live.directory = tree.directory()
        for group in groups_from_tree(tree):
            live.state.add(group)
        live.state.listed.add("rescue_group")
        if tree.duplicate_emails:
            live.state.notes.append(
                "several Rescue technicians share an email (the first is used): "
                + ", ".join(sorted(set(tree.duplicate_emails))[:10])
            )
        return live

    async def read_technicians(self, live: RescueLive, technician_ids: Iterable[str]) -> None:
        """SSO IDs of the given technicians; a failed read makes that one Unknown."""
        ids = sorted(set(technician_ids))
        results = await asyncio.gather(
            *(self.client.get_user(node=node_id) for node_id in ids), return_exceptions=True
        )
        for node_id, result in zip(ids, results, strict=True):
            if isinstance(result, ProviderError):
                live.state.unknown.append(Unknown("rescue_technician", node_id, result.message))
            elif isinstance(result, BaseException):
                raise result
            else:
                live.state.add(technician_from_user(result))
        live.state.listed.add("rescue_technician")
