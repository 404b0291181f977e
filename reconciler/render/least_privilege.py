"""What a tenant needs of the services, as an admin grants it: the least-privilege list.

Pure. The Dataverse privileges of ``TenantNeeds`` (``prv<Verb><Table>``) are grouped the way the
security role editor shows them, one row per table with its access level ("LogMeIn Settings
(lmi_logmeinsettings): Create, Read, Write, Append at Organization level"); the Graph
application permissions, the report sign-in and any other need follow, each with what needs
it. ``reconcile doctor --least-privilege`` prints it, ``doctor`` groups its missing privileges
with the same rows (one fix per row), and ``docs/onboarding.md`` holds the list of a tenant that
declares every kind (``tests/unit/test_onboarding_doc.py`` compares them).

Every field of ``TenantNeeds`` is shown: a field this module does not know (another service's
needs, added later) is listed under its own name rather than left out.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.kinds.needs import TenantNeeds
from reconciler.profile import SolutionProfile
from reconciler.profile.columns import TABLE_LABELS
from reconciler.render.escape import line_text, md_fence

# The verbs of a table privilege, in the security role editor's column order.
VERBS = ("Create", "Read", "Write", "Delete", "Append", "AppendTo", "Assign", "Share")
_VERB_LABELS = {"AppendTo": "Append To"}
# Access levels (RetrieveUserPrivileges' Depth) from the least to the widest, with the editor's
# names. The tool reads and writes every user's rows: it needs the widest, Organization.
DEPTHS = {
    "Basic": "User",
    "Local": "Business Unit",
    "Deep": "Parent: Child Business Units",
    "Global": "Organization",
}
NEEDED_DEPTH = "Global"
# The system tables the needs name, by the entity name in their privileges: the editor's
# display name and the logical name.
SYSTEM_TABLES = {
    "user": ("User", "systemuser"),
    "role": ("Security Role", "role"),
    "businessunit": ("Business Unit", "businessunit"),
    "asyncoperation": ("System Job", "asyncoperation"),
    "solution": ("Solution", "solution"),
    "importjob": ("Import Job", "importjob"),
    "entity": ("Entity", "entity"),
    "entitykey": ("Entity Key", "entitykey"),
}
# Privileges of no table: the editor's "Miscellaneous privileges", by display name.
MISCELLANEOUS = {"prvimportcustomization": "Import Customizations"}
# Headings of parts this module shows generically (other services' needs), by field name.
TITLES = {"rescue": "Rescue API calls (each with the least role of the authcode's account)"}
# Fields of TenantNeeds that are not something to grant, and why.
NOT_GRANTS = {
    "sections": "the solution tables the schema check verifies (covered by their Read privileges)",
    "entra_groups": "the Entra groups read (covered by the Graph permission to read group members)",
}


@dataclass(frozen=True)
class PrivilegeRow:
    """One row of the security role editor: a table (or a miscellaneous privilege) with the
    verbs needed at an access level, and what needs them."""

    label: str  # "LogMeIn Settings", "Import Customizations"
    name: str  # the logical name ("lmi_logmeinsettings"), or the privilege of a miscellaneous one
    verbs: tuple[str, ...]  # () for a miscellaneous privilege
    privileges: tuple[str, ...]  # the prv names the row holds
    why: tuple[str, ...]
    level: str = DEPTHS[NEEDED_DEPTH]

    @property
    def text(self) -> str:
        if not self.verbs:
            return f"{self.label} ({self.name}, a miscellaneous privilege) at {self.level} level"
        verbs = ", ".join(_VERB_LABELS.get(v, v) for v in self.verbs)
        return f"{self.label} ({self.name}): {verbs} at {self.level} level"


def split_privilege(name: str) -> tuple[str, str] | None:
    """``prvAppendTolmi_x`` -> ("AppendTo", "lmi_x"); None for a privilege of no table verb."""
    if not name.startswith("prv"):
        return None
    rest = name[3:]
    for verb in sorted(VERBS, key=len, reverse=True):  # AppendTo before Append
        if rest.startswith(verb) and len(rest) > len(verb):
            return verb, rest[len(verb) :]
    return None


def _table_labels(profile: SolutionProfile) -> dict[str, tuple[str, str]]:
    """Entity name in a privilege (casefolded) -> (display name, logical name)."""
    labels = dict(SYSTEM_TABLES)
    for section, names in TABLE_LABELS.items():
        table = getattr(profile, section).table
        labels[table.casefold()] = (names[0], table)
    return labels


def privilege_rows(
    privileges: Iterable[str], why: Mapping[str, Iterable[str]], profile: SolutionProfile
) -> list[PrivilegeRow]:
    """``privileges`` grouped by table (system tables, then the solution's, then miscellaneous
    ones, each by name), each row's verbs in the editor's order; ``why``: privilege -> reasons."""
    labels = _table_labels(profile)
    tables: dict[str, dict[str, str]] = {}  # entity (casefolded) -> verb -> privilege
    entity_names: dict[str, str] = {}
    others: list[str] = []
    for privilege in dict.fromkeys(privileges):
        split = split_privilege(privilege)
        if split is None or privilege.casefold() in MISCELLANEOUS:
            others.append(privilege)
            continue
        verb, entity = split
        tables.setdefault(entity.casefold(), {})[verb] = privilege
        entity_names.setdefault(entity.casefold(), entity)
    rows: list[PrivilegeRow] = []
    for entity, verbs in sorted(tables.items(), key=lambda item: (item[0] not in SYSTEM_TABLES, item[0])):
        label, logical = labels.get(entity, (entity_names[entity], entity_names[entity].lower()))
        held = tuple(verbs[v] for v in VERBS if v in verbs)
        reasons = tuple(dict.fromkeys(_unprefixed(r) for p in held for r in why.get(p, ())))
        rows.append(PrivilegeRow(label, logical, tuple(v for v in VERBS if v in verbs), held, reasons))
    for privilege in sorted(others, key=str.casefold):
        label = MISCELLANEOUS.get(privilege.casefold(), privilege)
        rows.append(PrivilegeRow(label, privilege, (), (privilege,), tuple(why.get(privilege, ()))))
    return rows


def _unprefixed(reason: str) -> str:
    """``table X: what needs it`` -> ``what needs it`` (the row names the table already)."""
    return reason.split(": ", 1)[1] if reason.startswith("table ") and ": " in reason else reason


# ---------------------------------------------------------------------------- the whole list


@dataclass(frozen=True)
class NeedSection:
    """One part of the list: a heading and its entries (what to grant, what needs it)."""

    key: str
    title: str
    entries: tuple[tuple[str, tuple[str, ...]], ...]


def need_sections(needs: TenantNeeds, profile: SolutionProfile) -> list[NeedSection]:
    """The least-privilege list, in parts; every field of ``TenantNeeds`` but ``NOT_GRANTS``."""
    rows = privilege_rows(needs.privileges, needs.privileges, profile)
    sections = [
        NeedSection(
            "dataverse",
            "Dataverse security role (the application user of the reconciler's app)",
            tuple((row.text, row.why) for row in rows),
        ),
        NeedSection(
            "graph",
            "Microsoft Graph application permissions (admin consent given)",
            tuple((name, tuple(why)) for name, why in sorted(needs.graph.items())),
        ),
    ]
    if needs.report_sign_in:
        sections.append(
            NeedSection(
                "report_sign_in",
                "Rescue report sign-in (connection.rescue.reports)",
                (
                    (
                        "an administrator's e-mail and password that signs in without SSO or MFA",
                        tuple(needs.report_sign_in),
                    ),
                ),
            )
        )
    known = {"privileges", "graph", "report_sign_in", *NOT_GRANTS}
    for field in dataclasses.fields(needs):
        if field.name in known:
            continue
        value = getattr(needs, field.name)
        if value:
            title = TITLES.get(field.name, field.name.replace("_", " "))
            sections.append(NeedSection(field.name, title, _generic(value)))
    return sections


def _generic(value: Any) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if isinstance(value, Mapping):
        return tuple(
            (_entry(k), tuple(str(w) for w in v) if isinstance(v, list | tuple) else (str(v),))
            for k, v in value.items()
        )
    if isinstance(value, list | tuple):
        return tuple((str(v), ()) for v in value)
    return ((str(value), ()),)


def _entry(key: Any) -> str:
    """A need's name: a record (e.g. a Rescue call and the role it needs) as its first field
    followed by its other non-empty fields, ``getHierarchy_v2 (role: Administrator)``."""
    if not dataclasses.is_dataclass(key) or isinstance(key, type):
        return str(key)
    values = [(f.name, getattr(key, f.name)) for f in dataclasses.fields(key)]
    rest = ", ".join(f"{name.replace('_', ' ')}: {v}" for name, v in values[1:] if v)
    return f"{values[0][1]} ({rest})" if rest else str(values[0][1])


def listing_lines(sections: list[NeedSection]) -> list[str]:
    """The list as lines of text (escaped: a reason may quote a tenant value)."""
    lines: list[str] = []
    for section in sections:
        lines.append(f"{section.title}:")
        if not section.entries:
            lines.append("  none")
        for entry, why in section.entries:
            lines.append(line_text(f"  {entry}"))
            if why:
                lines.append(line_text(f"    for: {'; '.join(why)}"))
    return lines


def render_text(tenant: str, sections: list[NeedSection]) -> str:
    lines = [line_text(f"tenant {tenant}: least privilege for the declared kinds")]
    lines += [f"  {line}" for line in listing_lines(sections)]
    return "\n".join(lines) + "\n"


def render_markdown(sections: list[NeedSection]) -> str:
    """The list as Markdown (the generated part of docs/onboarding.md): the text lines in a
    fenced block, so no value becomes markup."""
    return "\n".join(md_fence(listing_lines(sections), "text")) + "\n"


def as_json(tenant: str, sections: list[NeedSection]) -> dict[str, Any]:
    return {
        "tenant": tenant,
        **{s.key: [{"grant": entry, "for": list(why)} for entry, why in s.entries] for s in sections},
    }


def render_json(listing: list[dict[str, Any]]) -> str:
    return json.dumps({"tenants": listing}, indent=2, ensure_ascii=True) + "\n"
