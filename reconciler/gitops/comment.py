"""The one pull-request comment: per-tenant plans (one matrix job each) merged into one text.

Each plan job uploads the JSON ``reconcile plan --out`` writes; the fan-in job downloads them
all and renders one markdown comment, summary first, which the workflow edits in place on
each push. A tenant whose job produced no plan is shown as failed rather than silently
missing, and boxes a reviewer ticked in the manual-step checklist stay ticked when the
comment is rewritten.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from reconciler.errors import InputError, printable
from reconciler.gitops.matrix import parse_matrix
from reconciler.plan import Plan, TenantPlan, read_plan_file
from reconciler.render import render_markdown
from reconciler.render.markdown import MARKER

MAX_COMMENT_CHARS = 60_000  # GitHub refuses comments over 65,536 characters
NO_PLAN = "no plan was produced: the plan job for this tenant failed (see its log in the workflow run)"
_CHECKBOX_RE = re.compile(r"^(?P<indent>\s*)- \[(?P<mark>[ xX])\] (?P<text>.*)$")


def load_plan_file(path: Path) -> Plan:
    """A saved plan, through the one strict reader (``reconciler/plan/reader.py``)."""
    return read_plan_file(path)


def plan_files(paths: Iterable[Path]) -> list[Path]:
    """The files named, and every ``*.json`` under the folders named (sorted).

    Anything named ``*.json`` in a folder is read, whatever it is: a FIFO or a device among the
    artifacts is refused by the reader (one line), not skipped as if it were not there."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.rglob("*.json") if not p.is_dir())
        elif path.exists() or path.is_symlink():
            found.append(path)
        else:
            raise InputError(f"{printable(str(path))}: no such file or folder")
    return found


def expected_tenants(matrix: str) -> list[str]:
    """Tenant names from a matrix as ``changed-tenants --format matrix`` prints it."""
    return [tenant for job in parse_matrix(matrix) for tenant in job.tenants]


def merge_plans(plans: Sequence[tuple[Path, Plan]], expected: Sequence[str] = ()) -> Plan:
    """One plan holding every tenant (sorted); expected tenants without a plan show as failed."""
    seen: dict[str, tuple[Path, TenantPlan]] = {}
    for path, plan in plans:
        for tenant in plan.tenants:
            if tenant.tenant in seen:
                raise InputError(
                    f"tenant {tenant.tenant} is in two plan files: {seen[tenant.tenant][0]} and {path}"
                )
            seen[tenant.tenant] = (path, tenant)
    tenants = [t for _, t in seen.values()]
    tenants += [
        TenantPlan(tenant=name, desired_digest="", error=NO_PLAN) for name in expected if name not in seen
    ]
    created = max((p.created_at for _, p in plans), default="")
    version = next((p.tool_version for _, p in plans if p.tool_version), "")
    return Plan(tuple(sorted(tenants, key=lambda t: t.tenant)), created_at=created, tool_version=version)


def read_saved_plans(sources: Sequence[Path]) -> Plan:
    """The saved plans named (files, or folders of ``*.json``) as one plan, each read strictly;
    ``InputError`` when no plan file is there (``manual --from-plan``, ``show``)."""
    files = plan_files(sources)
    if not files:
        raise InputError(f"no plan files (*.json) in {', '.join(printable(str(s)) for s in sources)}")
    return merge_plans([(f, load_plan_file(f)) for f in files])


def keep_ticks(body: str, previous: str) -> str:
    """Tick the checklist lines of ``body`` that a reviewer ticked in ``previous``."""
    ticked = {
        (m["indent"], m["text"])
        for line in previous.splitlines()
        if (m := _CHECKBOX_RE.match(line)) and m["mark"] in "xX"
    }
    out = []
    for line in body.splitlines(keepends=True):
        match = _CHECKBOX_RE.match(line.rstrip("\n"))
        if match and match["mark"] == " " and (match["indent"], match["text"]) in ticked:
            line = line.replace("- [ ] ", "- [x] ", 1)
        out.append(line)
    return "".join(out)


def comment_body(
    plan: Plan,
    *,
    title: str = "reconcile plan",
    run_url: str = "",
    previous: str = "",
    limit: int = MAX_COMMENT_CHARS,
) -> str:
    """The markdown comment: starts with the plan marker so the workflow finds and edits it."""
    tail = f"\n[Plans and logs of this run]({run_url})\n" if run_url else ""
    if not plan.tenants:
        text = f"{MARKER}\n### {title}\n\nNo tenant is affected by this change: nothing to plan.\n"
    else:
        text = render_markdown(plan, title=title, limit=limit - len(tail))
    return keep_ticks(text + tail, previous) if previous else text + tail
