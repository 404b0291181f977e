"""Drift issues: one GitHub issue per drifting tenant, kept in step with the drift.

The drift workflow runs ``reconcile drift`` for every tenant on a schedule. An issue per run
would bury admins, so each issue carries a hidden marker with a *fingerprint* of its drift,
``<!-- reconcile-drift:<tenant>:<fingerprint> -->``: an unchanged drift leaves the issue
alone, a changed one updates it, and a clean tenant closes it.

The fingerprint is a sha256 over what drifted: the sorted change ids with their field-level
items (or the desired content of a missing object). It leaves out what varies from run to run
without the drift changing: timestamps, request counts, ETags, and the wording of reasons.
Only actionable changes count (manual steps alone are not drift, as ``reconcile drift`` says).

Everything here is pure: the workflow fetches the open issues with ``gh`` and acts on the
decision; this module only decides.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from reconciler.errors import IncompleteError, InputError, ReconcileError
from reconciler.plan import Action, Change, Create, Plan, TenantPlan, Update, encode_resource, encode_value
from reconciler.render import render_markdown
from reconciler.render.common import finding_parts
from reconciler.render.escape import line_text, md_code, md_text

LABEL = "reconcile-drift"
MAX_BODY_CHARS = 60_000  # GitHub refuses issue bodies over 65,536 characters
_MARKER_RE = re.compile(r"<!-- reconcile-drift:(?P<tenant>[^:\s]+):(?P<fingerprint>[0-9a-f]*) -->")

IssueAction = Literal["create", "update", "close", "none"]


def _change_essence(change: Change) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": change.id, "op": change.op}
    if isinstance(change, Update):
        entry["items"] = sorted(
            (
                [item.path, "(sensitive)", "(sensitive)"]
                if item.sensitive
                else [item.path, encode_value(item.old), encode_value(item.new)]
            )
            for item in change.items
        )
    elif isinstance(change, Create):
        entry["desired"] = encode_resource(change.desired)["fields"]
    elif isinstance(change, Action):
        entry["name"] = change.name
    return entry


def drift_fingerprint(tenant: TenantPlan) -> str:
    """sha256 (hex) of the tenant's drift; ``""`` when it has none."""
    essences = sorted(
        (_change_essence(c) for c in tenant.actionable), key=lambda e: json.dumps(e, sort_keys=True)
    )
    essences += [{"finding": f} for f in sorted(tenant.findings)]
    if not essences:
        return ""
    text = json.dumps(essences, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _marker_name(tenant: str) -> str:
    """The tenant name as the marker holds it: nothing that could close the HTML comment."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", tenant).replace("--", "_-")


def marker(tenant: str, fingerprint: str) -> str:
    return f"<!-- reconcile-drift:{_marker_name(tenant)}:{fingerprint} -->"


def issue_title(tenant: str) -> str:
    return f"Drift in tenant {tenant}"


@dataclass(frozen=True)
class OpenIssue:
    """An open drift issue as ``gh issue list --json number,title,body`` lists it."""

    number: int
    title: str
    body: str

    def fingerprint_for(self, tenant: str) -> str | None:
        """The fingerprint this issue's marker records for ``tenant`` (None: not its issue)."""
        for match in _MARKER_RE.finditer(self.body):
            if match["tenant"] == _marker_name(tenant):
                return match["fingerprint"]
        return None


def parse_issues(data: Any) -> list[OpenIssue]:
    """The JSON list ``gh issue list --json number,title,body`` prints."""
    if not isinstance(data, list):
        raise InputError(
            "issues file: expected the JSON list printed by `gh issue list --json number,title,body`"
        )
    issues = []
    for index, item in enumerate(data):
        if not isinstance(item, Mapping) or not isinstance(item.get("number"), int):
            raise InputError(f"issues file: entry {index} has no issue number")
        issues.append(OpenIssue(item["number"], str(item.get("title") or ""), str(item.get("body") or "")))
    return issues


@dataclass(frozen=True)
class IssueDecision:
    """What the workflow should do with the tenant's drift issue."""

    action: IssueAction
    tenant: str
    title: str
    fingerprint: str
    number: int | None = None
    previous: str = ""
    duplicates: tuple[int, ...] = ()
    comment: str = ""


def tenant_plan(plan: Plan, tenant: str | None) -> TenantPlan:
    """The one tenant of a drift plan (``tenant`` may be omitted when there is only one)."""
    if tenant is None:
        if len(plan.tenants) != 1:
            names = ", ".join(t.tenant for t in plan.tenants) or "none"
            raise InputError(f"the plan holds {len(plan.tenants)} tenants ({names}); name one with --tenant")
        return plan.tenants[0]
    for candidate in plan.tenants:
        if candidate.tenant == tenant:
            return candidate
    raise InputError(f"tenant {tenant!r} is not in the plan")


def decide(tenant: TenantPlan, issues: list[OpenIssue]) -> IssueDecision:
    """Create, update, close or leave the tenant's issue. Refuses to judge an incomplete read.

    An errored or incomplete plan says nothing reliable about drift, so the issue is left as
    it is and the error is raised: the workflow run fails and shows why.
    """
    name = tenant.tenant
    if tenant.error:
        raise ReconcileError(f"{name}: the drift check failed ({tenant.error}); its issue is left as it is")
    if tenant.incomplete:
        raise IncompleteError(
            f"{name}: some live state could not be read; its drift issue is left as it is until a complete run"
        )
    fingerprint = drift_fingerprint(tenant)
    mine = sorted(
        ((issue, fp) for issue in issues if (fp := issue.fingerprint_for(name)) is not None),
        key=lambda pair: pair[0].number,
    )
    title = issue_title(name)
    duplicates = tuple(issue.number for issue, _ in mine[1:])
    if not mine:
        if not fingerprint:
            return IssueDecision("none", name, title, fingerprint)
        return IssueDecision("create", name, title, fingerprint)
    issue, previous = mine[0]
    if not fingerprint:
        return IssueDecision(
            "close",
            name,
            title,
            fingerprint,
            number=issue.number,
            previous=previous,
            duplicates=duplicates,
            comment=f"Tenant {name} matches its tenant files again: no drift. Closing.",
        )
    if fingerprint == previous:
        return IssueDecision(
            "none", name, title, fingerprint, number=issue.number, previous=previous, duplicates=duplicates
        )
    return IssueDecision(
        "update",
        name,
        title,
        fingerprint,
        number=issue.number,
        previous=previous,
        duplicates=duplicates,
        comment=(
            f"The drift of tenant {name} changed (fingerprint {previous[:12] or 'none'} -> "
            f"{fingerprint[:12]}); the description shows it as it is now."
        ),
    )


def issue_body(plan: Plan, tenant: TenantPlan, fingerprint: str, *, run_url: str = "") -> str:
    """The issue text: marker, the drift as markdown, and how to resolve it."""
    name = tenant.tenant
    resolve = [
        "",
        "#### How to resolve",
        "",
        f"- **Revert the drift** (make live state match the tenant files again): run the *apply* "
        f"workflow by hand for tenant {md_code(name)} (Actions → apply → Run workflow), or run "
        f"{md_code(f'reconcile apply --tenant {name}')} where the credentials are.",
        f"- **Accept the drift** (make the tenant files match live state): run "
        f"{md_code(f'reconcile export --tenant {name} --overwrite')}, review the change to "
        f"{md_code(f'tenants/{name}/')} and open a pull request with it.",
        "",
        "This issue is updated when the drift changes and closed when the tenant is clean again.",
    ]
    # Session-flow health: only a fix of the cause (or the attestation) clears it.
    if any(finding_parts(f)[0] == "health" for f in tenant.findings):
        resolve[-2:-2] = [
            "- **Health findings** (sessions of a confirmed group do not reach Dynamics): fix the likely "
            "cause shown, e.g. the group's export URL in the Rescue Admin Center, then check with "
            f"`reconcile health --tenant {name}`; or remove the group's `confirmed:` date if it no longer holds.",
        ]
    if run_url:
        resolve.append(f"Found by [this drift run]({run_url}).")
    resolve.append(f"<sub>drift fingerprint `{fingerprint[:16] or 'none'}`</sub>")
    tail = "\n".join(resolve) + "\n"
    single = Plan((tenant,), created_at=plan.created_at, tool_version=plan.tool_version)
    limit = MAX_BODY_CHARS - len(tail) - 200
    text = render_markdown(single, title=f"reconcile drift: {md_text(name)}", limit=limit)
    return f"{marker(name, fingerprint)}\n{text}{tail}"


def github_output(decision: IssueDecision) -> str:
    """``key=value`` lines for ``$GITHUB_OUTPUT`` (every value is one line)."""
    values = {
        "action": decision.action,
        "tenant": decision.tenant,
        "title": decision.title,
        "number": "" if decision.number is None else str(decision.number),
        "fingerprint": decision.fingerprint,
        "previous": decision.previous,
        "duplicates": " ".join(str(n) for n in decision.duplicates),
        "comment": decision.comment,
    }
    # A newline in a value would add an output of its choosing: every value is printable.
    return "".join(f"{key}={line_text(value)}\n" for key, value in values.items())
