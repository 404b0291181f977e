"""Read a tenant's Rescue live state: the hierarchy (one call), groups by path, and the SSO ID of
each technician the tenant files map (one getUser_v3 each: the API has no bulk read of SSO IDs),
run concurrently under the client's bound."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from reconciler.diff import RescueDirectory
from reconciler.errors import AuthError, ProviderError
from reconciler.providers.rescue.client import RescueClient
from reconciler.providers.rescue.groups import group_from_read, groups_from_tree
from reconciler.providers.rescue.mapping import RescueTree, build_tree
from reconciler.providers.rescue.orphans import orphan_findings
from reconciler.providers.rescue.technicians import technician_from_user
from reconciler.resources import Kind, LiveState, Unknown

log = logging.getLogger(__name__)


@dataclass
class RescueLive:
    state: LiveState = field(default_factory=LiveState)
    tree: RescueTree | None = None
    directory: RescueDirectory | None = None
    error: str = ""
    # One per hierarchy record that could not be read: the plan shows each, declared or not.
    odd_nodes: list[Unknown] = field(default_factory=list)
    # Casefolded declared group path -> the node ID of the one live group it names.
    group_ids: dict[str, str] = field(default_factory=dict)


class RescueReader:
    def __init__(self, client: RescueClient) -> None:
        self.client = client

    async def read_tree(
        self, group_paths: Iterable[str] = (), pins: Mapping[str, str] | None = None
    ) -> RescueLive:
        """The hierarchy; ``group_paths`` are the declared groups, keyed as declared when one live
        group is what a path names, Unknown when several are (every one named; ``pins``,
        casefolded path -> node ID, choose), and unknown (not created) when absent while some
        record of the reply could not be read: that record may be them."""
        group_paths = list(group_paths)
        live = RescueLive()
        try:
            hierarchy = await self.client.get_hierarchy()
        except AuthError:
            raise
        except ProviderError as exc:
            live.error = exc.message
            reason = f"Rescue hierarchy could not be read: {exc.message}"
            live.state.unknown.append(Unknown("rescue_group", "*", reason))
            live.state.unknown.append(Unknown("rescue_technician", "*", reason))
            return live
        tree = build_tree(hierarchy.blocks, hierarchy.odd)
        live.tree = tree
        live.directory = tree.directory()
        groups = groups_from_tree(tree, group_paths, pins)
        for group in groups.groups:
            live.state.add(group)
        live.state.unknown.extend(groups.unknown)
        live.state.notes.extend(groups.notes)
        live.group_ids = groups.ids
        live.state.listed.add("rescue_group")
        if tree.odd:
            self._odd_records(live, tree, group_paths)
        if tree.duplicate_emails:
            live.state.notes.append(
                "several Rescue technicians share an email (none is chosen: a mapping by it is unknown): "
                + ", ".join(sorted(set(tree.duplicate_emails))[:10])
            )
        live.state.findings.extend(orphan_findings(tree))  # nameless nodes of unfinished creates
        return live

    @staticmethod
    def _odd_records(live: RescueLive, tree: RescueTree, group_paths: Iterable[str]) -> None:
        """Each record the reply could not frame stays unknown, by node ID; a declared group that
        was not found may be one of them, so it is unknown too, never created twice."""
        names = tree.odd_labels()
        for record in tree.odd:
            log.warning("rescue: %s could not be read: %s", record.label, record.reason)
            reason = f"{record.label}: its hierarchy record could not be read ({record.reason})"
            unknown = Unknown("rescue_technician", record.node_id or f"record #{record.position}", reason)
            live.odd_nodes.append(unknown)
            if record.node_id:
                live.state.unknown.append(unknown)
        for path in dict.fromkeys(group_paths):
            if tree.group_match(path).none:
                reason = f"not found, and the hierarchy records of {names} could not be read (it may be one)"
                live.state.unknown.append(Unknown("rescue_group", path, reason))
        live.state.notes.append(
            f"Rescue hierarchy records that could not be read (line breaks in a name or description?): "
            f"{names}; technician rules below a Rescue group stay unknown, and no group or technician is "
            "created while one of them may be it"
        )

    async def read_details(self, live: RescueLive, wanted: Mapping[Kind, Iterable[str]]) -> None:
        """The details step: the SSO IDs of the wanted technicians, then getGroup_v2 of the
        wanted groups (after, not beside: a failure of one never leaves the other running)."""
        await self.read_technicians(live, wanted.get("rescue_technician", ()))
        await self.read_group_permissions(live, wanted.get("rescue_group", ()))

    async def read_group_permissions(self, live: RescueLive, paths: Iterable[str]) -> None:
        """getGroup_v2 of each group whose permissions the tenant declares (one call each: the
        hierarchy does not carry them); a failed read makes that group Unknown."""
        if live.tree is None:
            return
        # Only the groups one live group answers to (read_tree): an ambiguous path is Unknown already.
        found = {path: node for path in dict.fromkeys(paths) if (node := live.group_ids.get(path.casefold()))}
        results = await asyncio.gather(
            *(self.client.get_group(node) for node in found.values()), return_exceptions=True
        )
        for path, result in zip(found, results, strict=True):
            if isinstance(result, ProviderError):
                reason = f"its permissions could not be read: {result.message}"
                live.state.unknown.append(Unknown("rescue_group", path, reason))
            elif isinstance(result, BaseException):
                raise result
            else:
                live.state.add(group_from_read(path, result))

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
