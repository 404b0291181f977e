"""Commands the GitOps workflows call, so their logic is tested here, not in YAML shell.

    reconcile changed-tenants [PATH] --base REF [--head REF] [--format lines|json|matrix]
    reconcile gitops comment-body PLAN... [--expect-matrix JSON] [--previous FILE] [--out FILE]
    reconcile gitops plan-matrix PLAN...            tenants whose saved plans have changes
    reconcile gitops drift-fingerprint PLAN [--tenant T]
    reconcile gitops drift-issue PLAN --issues FILE --body-out FILE [--tenant T]
    reconcile gitops secret-names --tenant T        the secret names a tenant references
    reconcile gitops secret-env --tenant T          those secrets -> $GITHUB_ENV
    reconcile gitops validate-files FILE...         the pre-commit hook

See docs/gitops.md for the workflows around them. Errors are ``ReconcileError``s, so the one
exit-code table of ``reconciler.cli`` applies.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import click

from reconciler import gitops as ops
from reconciler.atomicfile import append_atomic, write_atomic
from reconciler.cli.allow_hosts import allow_host_option, allowed_hosts
from reconciler.cli.common import shard_option
from reconciler.cli.validate_cmd import validate
from reconciler.config import load_tenants
from reconciler.config.shard import Shard, in_shard
from reconciler.errors import InputError, printable
from reconciler.plan.reader import read_json_file

GITHUB_MAX_JOBS = ops.GITHUB_MAX_JOBS


def _write(path: Path, text: str) -> None:
    write_atomic(path, text)


def _read_text(path: Path, what: str) -> str:
    try:
        return path.read_text("utf-8")
    except OSError as exc:
        raise InputError(f"{what} {path} cannot be read: {exc.strerror or exc}") from None


def _echo_changes(result: ops.TenantChanges, fmt: str, max_jobs: int) -> None:
    if fmt == "json":
        click.echo(
            json.dumps(
                {
                    "tenants": list(result.tenants),
                    "deleted": list(result.deleted),
                    "all": result.everything,
                    "reasons": list(result.reasons),
                },
                indent=2,
            )
        )
        return
    for reason in result.reasons:
        click.echo(f"all tenants: {reason}", err=True)
    if result.deleted:
        click.echo(f"deleted (not planned): {', '.join(map(printable, result.deleted))}", err=True)
    if fmt == "matrix":
        click.echo(ops.matrix_json(ops.matrix_jobs(result.tenants, max_jobs)))
    else:
        for name in result.tenants:
            click.echo(name)


@click.command("changed-tenants")
@click.argument("path", required=False, type=click.Path(path_type=Path), default=Path("tenants"))
@click.option("--base", metavar="REF", help="Compare with this commit (a PR's base, a push's 'before').")
@click.option("--head", metavar="REF", default="HEAD", show_default=True, help="The changed commit.")
@click.option("--all", "every", is_flag=True, help="Every tenant at --head (the drift schedule).")
@click.option(
    "--only", multiple=True, metavar="NAME", help="Only this tenant, which must exist (repeatable)."
)
@click.option(
    "--all-when",
    multiple=True,
    metavar="GLOB",
    help="A repository path glob whose change means every tenant (adds to: "
    + ", ".join(ops.DEFAULT_ALL_WHEN)
    + ").",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["lines", "json", "matrix"]),
    default="lines",
    show_default=True,
    help="lines: one name a line; json: tenants, deleted, reasons; matrix: a GitHub matrix.",
)
@shard_option
@click.option(
    "--max-jobs",
    type=click.IntRange(1, GITHUB_MAX_JOBS),
    default=GITHUB_MAX_JOBS,
    show_default=True,
    help="Beyond this many tenants, the matrix has one job per shard of tenants instead of per tenant.",
)
def changed_tenants(
    path: Path,
    base: str | None,
    head: str,
    every: bool,
    only: tuple[str, ...],
    all_when: tuple[str, ...],
    fmt: str,
    shard: Shard | None,
    max_jobs: int,
) -> None:
    """Tenants whose files changed between --base and --head (PATH: the tenants folder).

    Every tenant when tenants/_defaults.yaml, a tenants/_* folder or the solution profile
    changed; tenants deleted by the change are listed apart (stderr, or "deleted" in json)
    and never planned. With --shard, only the tenants of that shard.
    """
    result = ops.changed_tenants(
        path, base=base, head=head, every=every, only=only, all_when=(*ops.DEFAULT_ALL_WHEN, *all_when)
    )
    if shard is not None:
        result = replace(
            result,
            tenants=tuple(in_shard(result.tenants, shard)),
            deleted=tuple(in_shard(result.deleted, shard)),
        )
    _echo_changes(result, fmt, max_jobs)


@click.group("gitops")
def gitops() -> None:
    """Helpers for the GitOps workflows (plan comments, apply matrices, drift issues)."""


plan_paths = click.argument("plans", nargs=-1, required=True, type=click.Path(path_type=Path))


@gitops.command("comment-body")
@plan_paths
@click.option("--title", default="reconcile plan", show_default=True, help="Heading of the comment.")
@click.option(
    "--expect-matrix",
    default="",
    metavar="JSON",
    help="The plan matrix; a tenant in it without a plan file is shown as failed.",
)
@click.option("--run-url", default="", metavar="URL", help="Link to the workflow run.")
@click.option(
    "--previous",
    type=click.Path(path_type=Path, dir_okay=False),
    help="The comment as it is now: checklist boxes ticked there stay ticked.",
)
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), help="Write here instead of stdout.")
def comment_body(
    plans: tuple[Path, ...],
    title: str,
    expect_matrix: str,
    run_url: str,
    previous: Path | None,
    out: Path | None,
) -> None:
    """Merge per-tenant plan JSON files (or folders of them) into one markdown PR comment."""
    loaded = [(p, ops.load_plan_file(p)) for p in ops.plan_files(plans)]
    merged = ops.merge_plans(loaded, ops.expected_tenants(expect_matrix))
    before = _read_text(previous, "previous comment") if previous is not None and previous.exists() else ""
    text = ops.comment_body(merged, title=title, run_url=run_url, previous=before)
    if out is None:
        click.echo(text, nl=False)
    else:
        _write(out, text)


@gitops.command("plan-matrix")
@plan_paths
@click.option(
    "--expect-matrix",
    default="",
    metavar="JSON",
    help="The matrix the plans were made with: keep its jobs (and their artifacts), minus the tenants "
    "without changes.",
)
@click.option(
    "--max-jobs",
    type=click.IntRange(1, GITHUB_MAX_JOBS),
    default=GITHUB_MAX_JOBS,
    show_default=True,
    help="Beyond this many tenants to apply, the matrix has one job per shard of tenants instead of per tenant.",
)
def plan_matrix(plans: tuple[Path, ...], expect_matrix: str, max_jobs: int) -> None:
    """A GitHub matrix of the tenants whose saved plans have changes to apply ([] for none).

    A tenant whose plan failed or is incomplete is left out; the others of its job stay."""
    loaded = [(p, ops.load_plan_file(p)) for p in ops.plan_files(plans)]
    # A tenant whose plan failed (error) or is incomplete (Unknown) is not applied; its shard's
    # other tenants are (the plan job keeps the shard's plan file whatever its exit code).
    changed = [
        t.tenant
        for t in ops.merge_plans(loaded).tenants
        if t.has_changes and not t.error and not t.incomplete
    ]
    if expect_matrix.strip():
        jobs = ops.keep_tenants(ops.parse_matrix(expect_matrix), set(changed))
    else:
        jobs = ops.matrix_jobs(changed, max_jobs)
    click.echo(ops.matrix_json(jobs))


@gitops.command("drift-fingerprint")
@click.argument("plan", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--tenant", metavar="NAME", help="Only this tenant's fingerprint.")
def drift_fingerprint(plan: Path, tenant: str | None) -> None:
    """sha256 of a tenant's drift in a plan JSON (`reconcile plan --out`, `drift --format json`).

    Prints the fingerprint (an empty line when there is no drift) for --tenant or a one-tenant
    plan, else "TENANT FINGERPRINT" lines ("-" for no drift).
    """
    loaded = ops.load_plan_file(plan)
    if tenant is not None or len(loaded.tenants) == 1:
        click.echo(ops.drift_fingerprint(ops.tenant_plan(loaded, tenant)))
        return
    for entry in loaded.tenants:
        click.echo(f"{entry.tenant} {ops.drift_fingerprint(entry) or '-'}")


@gitops.command("drift-issue")
@click.argument("plan", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--tenant", metavar="NAME", help="The tenant (may be omitted for a one-tenant plan).")
@click.option(
    "--issues",
    "issues_file",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Open drift issues: `gh issue list --label reconcile-drift --json number,title,body`.",
)
@click.option(
    "--body-out",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Where to write the issue text.",
)
@click.option("--run-url", default="", metavar="URL", help="Link to the workflow run.")
def drift_issue(plan: Path, tenant: str | None, issues_file: Path, body_out: Path, run_url: str) -> None:
    """Decide what to do with the tenant's drift issue; prints key=value lines for $GITHUB_OUTPUT.

    action is create, update (the drift changed), close (clean again) or none (no drift and
    no issue, or the same drift as the issue records). An incomplete or failed drift run
    leaves the issue alone and exits non-zero.
    """
    loaded = ops.load_plan_file(plan)
    entry = ops.tenant_plan(loaded, tenant)
    # `gh issue list` output is read as hostile as a plan file: regular file, size and depth caps.
    found = read_json_file(issues_file, "an issues file")
    issues = ops.parse_issues([] if found is None else found)
    decision = ops.decide(entry, issues)
    _write(body_out, ops.issue_body(loaded, entry, decision.fingerprint, run_url=run_url))
    click.echo(ops.github_output(decision), nl=False)


@gitops.command("secret-names")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--tenant", "tenants", multiple=True, required=True, metavar="NAME", help="Repeatable.")
@allow_host_option
def secret_names(paths: tuple[Path, ...], tenants: tuple[str, ...]) -> None:
    """Print name_1=NAME ... lines ($GITHUB_OUTPUT): the secrets the tenants reference, no values.

    The next step asks GitHub for exactly these secrets, one per slot; each is checked to be the
    tenant's own (its name starts with the tenant's, or it is shared in _defaults.yaml). A tenant
    whose secret prefix overlaps another tenant's under the same folder (fabrikam,
    fabrikam-rescue) is refused, selected or not: no name would have one owner.
    """
    loaded = load_tenants(list(paths) or [Path("tenants")], only=list(tenants), allow_hosts=allowed_hosts())
    click.echo(ops.names_output(ops.secret_names(loaded)), nl=False)


@gitops.command("secret-env")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--tenant", "tenants", multiple=True, required=True, metavar="NAME", help="Repeatable.")
@click.option(
    "--github-env",
    envvar="GITHUB_ENV",
    show_envvar=True,
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="The file the variables are appended to: in a workflow step, GitHub's $GITHUB_ENV.",
)
@allow_host_option
def secret_env(paths: tuple[Path, ...], tenants: tuple[str, ...], github_env: Path) -> None:
    """Append the secrets the tenants reference ({env: NAME}) to $GITHUB_ENV, and no others.

    The values come from RECONCILE_SECRET_1 ... RECONCILE_SECRET_6, in the order `gitops
    secret-names` printed. Values are never printed; names missing from the secrets and the
    environment are errors.
    """
    loaded = load_tenants(list(paths) or [Path("tenants")], only=list(tenants), allow_hosts=allowed_hosts())
    found = ops.secret_env(loaded, ops.slot_values(os.environ), os.environ)
    append_atomic(github_env, found.text)
    click.echo(f"secrets for the next steps: {', '.join(found.names) or 'none'}", err=True)
    if found.already_set:
        click.echo(f"already set in the environment: {', '.join(found.already_set)}", err=True)
    for ref in found.files:
        click.echo(f"note: this job must provide the secret file {printable(ref)}", err=True)


@gitops.command("validate-files")
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@allow_host_option
@click.pass_context
def validate_files(ctx: click.Context, files: tuple[Path, ...]) -> None:
    """`reconcile validate` for the tenants the given files belong to (the pre-commit hook)."""
    folders = ops.tenant_paths_for_files(files)
    if not folders:
        click.echo("no tenant files among the files given", err=True)
        return
    ctx.invoke(validate, paths=tuple(folders), tenants=(), resolve_secrets=False)
