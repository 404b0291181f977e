"""Apply summary: per tenant what was done, what failed (why), what was skipped (on what), and
the manual steps left, as text or JSON.

Failures that share a cause read as one line each, not one line per row: when another change
touched the planned objects (two applies at once, or an edit in an admin console), every row
fails with the same 412 ETag mismatch, and what an admin needs is "another change touched
these objects: plan again", with the objects grouped by kind.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections import defaultdict
from collections.abc import Iterator, Sequence

from reconciler.kinds import kind_title
from reconciler.plan import ApplyResult, TenantApplyResult
from reconciler.plan.checklist import group_steps
from reconciler.plan.result import Outcome
from reconciler.render.collapse import shared_error_lines, shared_errors
from reconciler.render.common import requests_line
from reconciler.render.escape import PROSE_CHARS, line_text, prose_lines, value_text
from reconciler.render.fleet import manual_lines, tally_line, tenants_phrase

# The words the writers use for a 412 on a planned object (Dataverse batch and single requests,
# Rescue's read-before-write check).
_CONCURRENT = re.compile(r"ETag mismatch|changed since (the plan|it was read)")
_LISTED = 8  # object keys shown per kind before "and N more"


def render_apply_text(result: ApplyResult, *, verbose: bool = True) -> str:
    """What was done, failed and skipped per tenant; what many tenants share said once (an error, a
    manual step). Without ``verbose``, tenants with nothing done, failed or skipped share one line
    and request counts are left out; the last line counts tenants by outcome."""
    totals = result.totals()
    unknown = f", {totals['unknown']} unknown (still running)" if totals["unknown"] else ""
    lines = [
        f"Apply: {totals['done']} done, {totals['failed']} failed, {totals['skipped']} skipped{unknown}.",
        "",
    ]
    shared = shared_errors((t.tenant, t.error) for t in result.tenants)
    quiet = []
    for tenant in result.tenants:
        if tenant.error in shared:
            continue
        if not verbose and not tenant.error and not tenant.outcomes:
            quiet.append(tenant.tenant)
            continue
        head = f"Tenant {value_text(tenant.tenant)}: "
        if tenant.error:
            first, *more = prose_lines(tenant.error)
            lines += [head + f"failed: {first}", *more]
        else:
            lines.append(
                head
                + f"{tenant.count('done')} done, {tenant.count('failed')} failed, {tenant.count('skipped')} skipped"
                + (f", {tenant.count('unknown')} unknown" if tenant.count("unknown") else "")
            )
        lines += _outcome_lines(tenant.outcomes)
        if tenant.requests and verbose:
            lines.append(f"  requests: {requests_line(tenant.requests)}")
        lines.append("")
    if quiet:
        lines += [f"Nothing to do in {tenants_phrase(quiet)}", ""]
    lines.extend(shared_error_lines(shared))
    lines.extend(manual_lines(group_steps((t.tenant, t.manual) for t in result.tenants), "Manual steps left"))
    lines.append(tally_line([_status(t) for t in result.tenants]))
    return "\n".join(line_text(line) for line in lines) + "\n"


def _status(tenant: TenantApplyResult) -> str:
    if tenant.error:
        return "failed"
    if tenant.count("failed") or tenant.count("skipped"):
        return "partly applied"
    if tenant.count("unknown"):
        return "unknown (still running)"
    return "applied" if tenant.count("done") else "nothing to do"


def _by_kind(outcomes: Sequence[Outcome]) -> list[str]:
    """``technician settings (120): a@x.com, b@x.com, ... and 112 more``, one line per kind."""
    keys: dict[str, list[str]] = defaultdict(list)
    for outcome in outcomes:
        kind, _, key = outcome.change_id.partition(":")
        keys[kind].append(key)
    lines = []
    for kind, listed in keys.items():
        shown = ", ".join(value_text(k) for k in listed[:_LISTED])
        more = f" and {len(listed) - _LISTED} more" if len(listed) > _LISTED else ""
        lines.append(f"          {value_text(kind_title(kind))} ({len(listed)}): {shown}{more}")
    return lines


def _outcome_lines(outcomes: Sequence[Outcome]) -> list[str]:
    """Done rows one by one; failures and skips one line per cause with their objects by kind."""
    lines = [f"  ok      {value_text(o.change_id)}" + (f": {value_text(o.message)}" if o.message else "")
             for o in outcomes if o.status == "done"]  # fmt: skip
    concurrent = [o for o in outcomes if o.status == "failed" and _CONCURRENT.search(o.message)]
    if concurrent:
        lines.append(
            f"  FAILED  another change touched {len(concurrent)} of the objects this apply planned after the "
            "plan was made (ETag mismatch): they were left as they are. Plan again, review, and apply the new plan."
        )
        lines += _by_kind(concurrent)
    by_cause: dict[tuple[str, str], list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        if outcome.status != "done" and outcome not in concurrent:
            # Skips that wait on a failed change share one cause, whatever they waited on.
            cause = (
                "depends on a change that did not succeed"
                if outcome.message.startswith("depends on ")
                else outcome.message
            )
            by_cause[(outcome.status, cause)].append(outcome)
    for (status, cause), group in by_cause.items():
        mark = {"failed": "FAILED", "unknown": "UNKNOWN"}.get(status, status)
        if len(group) == 1:
            only = group[0]
            lines.append(
                f"  {mark:7} {value_text(only.change_id)}"
                + (f": {value_text(only.message, PROSE_CHARS)}" if only.message else "")
            )
        else:
            lines.append(f"  {mark:7} {len(group)} changes: {value_text(cause, PROSE_CHARS)}")
            lines += _by_kind(group)
    return lines


def render_apply_json(result: ApplyResult) -> str:
    return "".join(apply_json_chunks(result))


def apply_json_chunks(result: ApplyResult) -> Iterator[str]:
    """``render_apply_json``'s text one tenant at a time, for a caller that writes as it goes.

    The same bytes as ``json.dumps(whole, indent=2)``, without holding the whole document: at
    100 tenants x 1,000 changes that document (a dict per outcome, then the encoder's list of
    pieces) was the run's peak memory, 100 MB above everything else.
    """
    head = {
        "format_version": 1,
        "totals": result.totals(),
        "complete": result.complete,
        "tenants": [],
    }
    text = json.dumps(head, indent=2)
    if not result.tenants:
        yield text + "\n"
        return
    # "tenants" is the last key, so the text ends with its empty list: open it there instead.
    empty = '"tenants": []\n}'
    yield text[: -len(empty)] + '"tenants": [\n'
    for index, tenant in enumerate(result.tenants):
        entry = {
            "tenant": tenant.tenant,
            "error": tenant.error,
            "outcomes": [dataclasses.asdict(o) for o in tenant.outcomes],
            "manual": [{"id": m.id, "title": m.title, "steps": list(m.steps)} for m in tenant.manual],
            "requests": dict(tenant.requests),
        }
        separator = ",\n" if index < len(result.tenants) - 1 else "\n"
        # Two levels deeper than the top (JSON text has no raw newline inside a string).
        yield "\n".join("    " + line for line in json.dumps(entry, indent=2).split("\n")) + separator
    yield "  ]\n}\n"
