"""A Rescue technician group, by path below the Technicians root."""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass, field
from typing import ClassVar

from reconciler.config.models import Tenant
from reconciler.config.types import MAX_GROUP_NAME
from reconciler.errors import UNSAFE_CHARACTERS
from reconciler.kinds.base import Comparison, DesiredContext, ExportContext, ResourceKind, copied_fields
from reconciler.kinds.needs import ADMINISTRATOR, MASTER_ADMINISTRATOR, RescueCall, TenantNeeds
from reconciler.kinds.yaml_text import scalar
from reconciler.plan import Create, FieldChange, Manual, UnknownChange, Update
from reconciler.profile import SolutionProfile
from reconciler.resources import Kind, Resource, register
from reconciler.resources.matching import PATH_SEPARATOR, declared_path_key, path_key
from reconciler.resources.rescue_permissions import UNDECLARED, canonical


@dataclass(frozen=True, slots=True)
class ExportSettings:
    """A group's Post-to-URL export settings (Admin Center only)."""

    url: str
    at_session_start: bool
    at_session_end: bool
    format: str


@register
@dataclass(frozen=True, slots=True)
class RescueGroup(Resource):
    """A technician group by path below the Technicians root.

    ``export`` is desired-only: no API reads it, so live groups carry ``None`` and the diff
    turns a declared export into a manual step (unless confirmed). ``permissions`` (setGroup_v2
    names, canonical order) is ``None`` when not declared (desired) or not read (live): a new
    group then gets Rescue's undocumented defaults, shown as such (``undeclared``)."""

    kind: ClassVar[Kind] = "rescue_group"
    key_fields: ClassVar[tuple[str, ...]] = ("path",)
    undeclared: ClassVar[dict[str, str]] = {"permissions": UNDECLARED}
    path: str
    permissions: tuple[str, ...] | None = None
    export: ExportSettings | None = field(default=None, compare=False)
    confirmed: str | None = field(default=None, compare=False)


class RescueGroupKind(ResourceKind):
    type = RescueGroup
    title = "Rescue group"
    section = "rescue_groups"
    not_compared: ClassVar[dict[str, str]] = {
        "export": "no Rescue API reads or writes it: a declared export is a manual step until confirmed",
        "confirmed": "desired-only: the date a person confirmed the export in the Admin Center",
    }
    manual_steps = True
    create_adopts_existing = True  # GroupWrites.create finds the path and answers "already exists"

    def desired(self, tenant: Tenant, context: DesiredContext) -> list[Resource]:
        """Declared groups plus their undeclared ancestors (which must exist for them to), parents
        first."""
        declared = {g.path.casefold(): g for g in tenant.rescue_groups}
        result: dict[str, Resource] = {}
        for group in tenant.rescue_groups:
            parts = group.path.split("/")
            for depth in range(1, len(parts)):
                ancestor = "/".join(parts[:depth])
                if ancestor.casefold() not in declared and ancestor.casefold() not in result:
                    result[ancestor.casefold()] = RescueGroup(path=ancestor)
            export = None
            if group.export is not None:
                e = group.export
                export = ExportSettings(
                    url=e.url,
                    at_session_start=e.at_session_start,
                    at_session_end=e.at_session_end,
                    format=e.format,
                )
            result[group.path.casefold()] = RescueGroup(
                **copied_fields(
                    group,
                    RescueGroup,
                    path=group.path,
                    export=export,
                    confirmed=group.confirmed.isoformat() if group.confirmed else None,
                    permissions=canonical(group.permissions) if group.permissions is not None else None,
                )
            )
        return sorted(result.values(), key=lambda r: r.key.count("/"))

    def reads_details(self, want: Resource) -> bool:
        """Whether comparing ``want`` needs its getGroup_v2 read: the hierarchy gives a group's
        path only, every compared field comes from getGroup_v2 (a new one too, with no edit)."""
        return isinstance(want, RescueGroup) and any(
            getattr(want, name) is not None for name in self.compared
        )

    def plan(
        self, want: Resource, have: Resource | None, deps: tuple[str, ...], comparison: Comparison
    ) -> None:
        """A missing group is created after its parent; declared permissions are set exactly
        (setGroup_v2 replaces the whole list); a declared export is a manual step while the group
        is new or the export not confirmed."""
        assert isinstance(want, RescueGroup)
        created = have is None
        if created:
            parent = want.path.rsplit("/", 1)[0] if "/" in want.path else ""
            parent_deps = comparison.pending(f"{self.name}:{parent}") if parent else ()
            comparison.add(Create(self.name, want.key, parent_deps, desired=want))
        elif isinstance(have, RescueGroup):
            if want.permissions is not None and have.permissions is None:
                comparison.add(UnknownChange(self.name, want.key, (), reason="its permissions were not read"))
            elif items := self.field_changes(want, have):
                comparison.add(Update(self.name, want.key, (), want, have, items))
        if want.export is not None and (created or want.confirmed is None):
            comparison.add(export_step(want, created=created))

    def needs(self, tenant: Tenant, profile: SolutionProfile, need: TenantNeeds) -> None:
        """A declared group (or an ancestor) may be missing: createGroup under its parent (a
        Master Administrator's alone under the Technicians root: an Administrator "can only
        create groups under Technician Groups to which they are assigned") and setGroup_v2 to name
        it; declared permissions are read (getGroup_v2) and set (setGroup_v2) in the group."""
        for i, group in enumerate(tenant.rescue_groups):
            why = f"rescue_groups[{i}] ({group.path})"
            parts = group.path.split(PATH_SEPARATOR)
            for depth in range(1, len(parts) + 1):
                parent, path = PATH_SEPARATOR.join(parts[: depth - 1]), PATH_SEPARATOR.join(parts[:depth])
                role = ADMINISTRATOR if parent else MASTER_ADMINISTRATOR
                create = f"{why}: create {path} if missing"
                need.rescue_call(RescueCall("createGroup", role, group=parent, new_group=path), create)
                need.rescue_call(RescueCall("setGroup_v2", group=parent, new_group=path), create)
            if group.permissions is not None:
                for method in ("getGroup_v2", "setGroup_v2"):
                    need.rescue_call(RescueCall(method, group=group.path), f"{why}: its permissions")

    def field_changes(self, want: Resource, have: Resource) -> tuple[FieldChange, ...]:
        """Permissions are shown as lists (as a saved plan holds them)."""
        return tuple(
            FieldChange(item.path, list(item.old), list(item.new)) if isinstance(item.new, tuple) else item
            for item in super().field_changes(want, have)
        )

    def export(self, context: ExportContext) -> list[str]:
        """One entry per live group, its path written in the form validate holds paths to (NFC,
        no invisible character, no surrounding space) and pinned by ``node_id`` where that path
        names several live groups, so the file validates and re-imports to the same groups. A
        group whose path cannot be declared (a '/' inside a name, a name that is empty, a dot
        or too long once written, a sibling the same but for case, spaces or form) is left out
        with a comment saying why: declaring it would name another group, or none."""
        if not context.group_names:
            return []
        lines = [
            "",
            "rescue_groups:",
            "  # Export settings (Post session details to URL) cannot be read by any API: after checking them in",
            "  # the Admin Center, add `export:` and `confirmed: YYYY-MM-DD` to each group.",
        ]
        names = context.group_names
        written = {node: "/".join(_written_name(n) for n in names[node]) for node in names}
        unwritable = {node: why for node in names if (why := _unwritable(names[node]))}
        by_key: dict[tuple[str, ...], list[str]] = {}
        for node in names:
            by_key.setdefault(path_key(names[node]), []).append(node)
        order = sorted(names, key=lambda n: (written[n].casefold(), len(n), n))
        declared: dict[tuple[str, ...], str] = {}  # path key -> the node declared under it
        for node in sorted(order, key=lambda n: (written[n] != "/".join(names[n]), order.index(n))):
            if node not in unwritable:
                declared.setdefault(declared_path_key(written[node]), node)
        for node in order:
            live_path = json.dumps("/".join(names[node]))
            key = declared_path_key(written[node]) if node not in unwritable else ()
            if node in unwritable or declared.get(key) != node:
                why = unwritable.get(node) or (
                    f"tenant files compare paths without case, spaces or Unicode form, so its path is "
                    f"node {declared[key]}'s, which is listed; rename one in the Rescue Admin Center"
                )
                lines.append(f"  # - path: {live_path}   (node {node}) left out: {why}")
                continue
            lines.append(f"  - path: {scalar(written[node])}")
            others = [n for n in by_key.get(key, ()) if n != node]
            if others:
                lines.append(
                    f"    node_id: {json.dumps(node)}   # the path also names node {', '.join(sorted(others))}"
                )
        return lines


def _written_name(name: str) -> str:
    """A live group name as a tenant file may write it (what validate accepts)."""
    return unicodedata.normalize("NFC", UNSAFE_CHARACTERS.sub("", name)).strip()


def _unwritable(names: tuple[str, ...]) -> str:
    """Why a group of these names (root first) cannot be declared by path ('' when it can)."""
    for name in names:
        written = _written_name(name)
        shown = json.dumps(name)
        if PATH_SEPARATOR in name:
            return f"the name {shown} holds a '/', which a path reads as two groups"
        if written in ("", ".", ".."):
            return f"the name {shown} is empty or a dot once invisible characters and spaces are left out"
        if len(written) > MAX_GROUP_NAME:
            return f"the name {shown} is longer than {MAX_GROUP_NAME} characters"
    return ""


def export_step(group: RescueGroup, *, created: bool) -> Manual:
    """The Admin Center steps for a group's Post-to-URL export (no Rescue API exists for it)."""
    export = group.export
    assert export is not None
    when = [
        w
        for w, on in (
            ("at session start", export.at_session_start),
            ("at session end", export.at_session_end),
        )
        if on
    ]
    fmt = "XML" if export.format == "xml" else "HTTP form post"
    reason = (
        "the group is created by this plan; its export settings can only be set by hand"
        if created
        else "the Rescue API cannot read or write export settings; not yet confirmed in the tenant file"
    )
    steps = (
        "Sign in to the LogMeIn Rescue Admin Center as a Master Administrator.",
        f"In the Organization Tree, select the technician group '{group.path}' and open the Settings tab.",
        "Under 'Exporting session data', enable 'Post session details to URL'.",
        f"Set the URL to {export.url}",
        f"Post {' and '.join(when) if when else 'at neither session start nor end'}, as {fmt}.",
        "Click Save Changes (use 'Apply to all subgroups' only if every subgroup should post too).",
        f"Record it in the tenant file: under the group '{group.path}', add `confirmed: YYYY-MM-DD` (today's date).",
    )
    return Manual(
        group.kind,
        group.key,
        (f"{group.kind}:{group.key}",) if created else (),
        title=f"Set 'Post session details to URL' for Rescue group {group.path}",
        reason=reason,
        steps=steps,
    )


KIND = RescueGroupKind()
