"""Session-flow health as text, markdown or JSON. Every shown value is data, never markup: it
goes through ``render/escape.py`` (text: control and bidi characters escaped; markdown: plain
words as they are, anything else a code span it cannot close, ``|`` escaped in table cells)."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Sequence
from dataclasses import asdict
from typing import Any

from reconciler.plan.health import GroupHealth, TechnicianSessions, TenantHealth
from reconciler.render.escape import PROSE_CHARS, md_text, prose_lines, value_text
from reconciler.render.fleet import names_head, shared_blocks, shared_note_lines, shared_notes, tally_line

JSON_FORMAT_VERSION = 1
VERDICT_WORDS = {
    "healthy": "healthy",
    "recovered": "sessions arrive again",
    "idle": "no sessions in the window",
    "degraded": "some sessions do not arrive",
    "failing": "no session arrives",
    "not_visible": "not visible (Dynamics-only view)",
    "unknown": "UNKNOWN (a read failed)",
}


def _plain(value: object) -> str:
    return value_text(value, PROSE_CHARS)


def _cell(value: object) -> str:
    return md_text(value, table=True)


def ratio(group: GroupHealth) -> str:
    if group.verdict == "unknown" and group.sessions is None:
        return "not evaluated"
    if group.sessions is None and group.in_dynamics is not None:
        if not group.in_dynamics:
            return "NONE in Dynamics (sessions in Rescue not visible)"
        return f"{group.in_dynamics} in Dynamics (sessions in Rescue not visible)"
    if group.sessions is None:
        return "sessions in Rescue not visible"
    if group.sessions == 0:
        return "no sessions"
    return f"{group.delivered} of {group.sessions} sessions arrived"


def evidence_line(group: GroupHealth) -> str | None:
    """What the evidence says about the group's manual export step."""
    if group.evidence == "observed_working":
        return f"observed working (last session {group.last_delivered})"
    if group.evidence == "confirmed_not_arriving":
        return f"confirmed {group.confirmed}, but sessions do not arrive"
    return None


def unread_lines(group: GroupHealth) -> list[str]:
    """Why the group is Unknown: each read its verdict or cause depends on that failed."""
    return [f"cause not checked: {u.text}" for u in group.unread]


def technician_line(tech: TechnicianSessions, shown: Callable[[object], str]) -> str:
    """One technician of the Dynamics-only view, each value through ``shown`` (its escaping)."""
    last = shown(tech.last) if tech.last else "none"
    return f"{shown(tech.name)} ({shown(tech.technician_id)}): {tech.sessions} in Dynamics, last {last}"


def _tenant_head(t: TenantHealth) -> str:
    return f"{t.tenant}: {VERDICT_WORDS[t.verdict]} ({t.since} .. {t.until})"


def _status(t: TenantHealth) -> str:
    """The tenant's word in a head and the tally: a prerequisite that stops every session comes
    first, whatever the groups' own verdicts say (no session in the window, not visible)."""
    if t.blockers:
        return f"BLOCKED ({len(t.blockers)} prerequisite(s) stop every session)"
    return VERDICT_WORDS[t.verdict]


def _verdict_head(t: TenantHealth) -> str:
    said = _status(t)
    if t.blockers:
        said += f", {VERDICT_WORDS[t.verdict]}"
    return f"{said} ({t.since} .. {t.until})"


def _tenant_body(t: TenantHealth, shared_notes: Collection[str]) -> tuple[str, ...]:
    """A tenant's lines below its head (values escaped), without the notes other tenants share."""
    lines: list[str] = []
    if t.error:
        first, *more = prose_lines(t.error)
        lines += [f"  error: {first}", *more]
    if t.dynamics_sessions is not None and t.error is None:
        last = t.last_dynamics_session or "none"
        lines.append(f"  LogMeIn Session rows in Dynamics: {t.dynamics_sessions} (last {last})")
    for cause in t.blockers:
        lines.append(f"  blocks every session: {_plain(cause.text)}")
    for g in t.groups:
        delivery = "" if g.verdict == "idle" else f", {ratio(g)}"
        lines.append(f"  group {_plain(g.path)}: {VERDICT_WORDS[g.verdict]}{delivery}")
        if g.last_delivered:
            lines.append(f"    last delivered session: {g.last_delivered}")
        for tech in g.technicians:
            lines.append(f"    technician {technician_line(tech, _plain)}")
        for cause in g.causes:
            if cause not in t.blockers:
                label = "since" if cause.code == "recovered" else "likely cause"
                lines.append(f"    {label}: {_plain(cause.text)}")
        lines.extend(f"    {_plain(line)}" for line in unread_lines(g))
        if (line := evidence_line(g)) is not None:
            lines.append(f"    manual step: {_plain(line)}")
    lines.extend(f"  note: {_plain(note)}" for note in t.notes if note not in shared_notes)
    return tuple(lines)


def render_health_text(tenants: Sequence[TenantHealth], *, verbose: bool = True) -> str:
    """Tenants whose verdict and lines are identical are said once, with their names collapsed; a
    note many tenants share is said once at the end. Without ``verbose``, healthy tenants with
    nothing more to say have no section. The last line counts tenants by verdict."""
    notes = shared_notes((t.tenant, t.notes) for t in tenants)
    blocks = []
    hidden = 0
    for t in tenants:
        body = _tenant_body(t, notes)
        if not verbose and t.verdict == "healthy" and not body:
            hidden += 1
            continue
        blocks.append((t.tenant, (_plain(_verdict_head(t)), *body)))
    lines: list[str] = []
    for block, names in shared_blocks(blocks):
        lines += [f"{names_head(names)}: {block[0]}", *block[1:], ""]
    lines.extend(shared_note_lines(notes))
    losing = sum(1 for t in tenants for g in t.groups if g.verdict in ("degraded", "failing"))
    tally = tally_line(["blocked" if t.blockers else VERDICT_WORDS[t.verdict] for t in tenants], hidden)
    lines.append(f"{tally} Groups losing sessions: {losing}.")
    return "\n".join(lines).rstrip() + "\n"


def render_health_markdown(tenants: Sequence[TenantHealth]) -> str:
    out = ["### Session flow: do Rescue sessions reach Dynamics?", ""]
    for t in tenants:
        out.append(
            f"**{md_text(t.tenant)}**: {VERDICT_WORDS[t.verdict]} ({md_text(t.since)} to {md_text(t.until)})"
        )
        out.append("")
        if t.error:
            out.append(f"- :x: {md_text(t.error)}")
        for cause in t.blockers:
            out.append(f"- :x: blocks every session: {md_text(cause.text)}")
        if t.groups:
            out += [
                "",
                "| group | verdict | delivery | last delivered | likely cause |",
                "|---|---|---|---|---|",
            ]
            for g in t.groups:
                causes = "; ".join(
                    [_cell(c.text) for c in g.causes if c not in t.blockers]
                    + [_cell(u) for u in unread_lines(g)]
                )
                if (line := evidence_line(g)) is not None:
                    causes = "; ".join(p for p in (causes, f"manual step: {_cell(line)}") if p)
                last = _cell(g.last_delivered) if g.last_delivered else ""
                out.append(
                    f"| {_cell(g.path)} | {VERDICT_WORDS[g.verdict]} | {ratio(g)} | {last} | {causes} |"
                )
            out.append("")
            for g in t.groups:
                for tech in g.technicians:
                    out.append(f"- {md_text(g.path)}: technician {technician_line(tech, md_text)}")
        for note in t.notes:
            out.append(f"- note: {md_text(note)}")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def health_json(tenants: Sequence[TenantHealth]) -> dict[str, Any]:
    def tenant(t: TenantHealth) -> dict[str, Any]:
        data = asdict(t)
        data["requests"] = dict(t.requests)
        for g, raw in zip(t.groups, data["groups"], strict=True):
            raw["ratio"] = g.ratio
        return data

    return {"format_version": JSON_FORMAT_VERSION, "tenants": [tenant(t) for t in tenants]}


def render_health_json(tenants: Sequence[TenantHealth]) -> str:
    return json.dumps(health_json(tenants), indent=2, sort_keys=True) + "\n"
