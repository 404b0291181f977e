"""The reusable workflows, their callers, the pre-commit hook and the CLI agree; actionlint and
zizmor pass on every workflow and on the documented callers.

actionlint (with shellcheck on the ``run:`` scripts) is the same check ``make actionlint`` runs;
the callers in ``docs/examples/`` are also linted in a scratch repository where their ``uses:``
points at this repository's reusable workflows, so actionlint checks their inputs against the
real ones. The other tests read the workflows as data, so a reviewer's rules (pinned actions,
least permissions, no secret in GitHub, one apply per tenant at a time, reconcile installed
only from the called workflow's own commit) cannot quietly erode.
"""

from __future__ import annotations

import base64
import http.server
import json
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import click
import pytest
import yaml

from reconciler.cli import cli
from reconciler.gitops.matrix import GITHUB_MAX_JOBS
from reconciler.render.markdown import MARKER

from .conftest import REPO

WORKFLOWS = REPO / ".github" / "workflows"
EXAMPLES = REPO / "docs" / "examples"
REUSABLE = ("plan.yml", "apply.yml", "drift.yml")
NAMES = ("ci.yml", *REUSABLE)
CALLERS = {name: EXAMPLES / f"caller-{name}" for name in REUSABLE}
ALLOWED_ACTIONS = {
    "actions/checkout",
    "actions/setup-python",
    "actions/upload-artifact",
    "actions/download-artifact",
}
# Jobs that sign in to the live services with the fleet identity (and so need the OIDC token
# with the Entra ID audience), and the environment whose subject their app trusts.
LIVE_JOBS = {
    ("plan.yml", "plan"): "reconcile-plan",
    ("apply.yml", "plan"): "reconcile-plan",
    ("apply.yml", "apply"): "production",
    ("drift.yml", "drift"): "reconcile-plan",
}
# The job of each reusable workflow that learns the workflow's own commit from its OIDC token.
TOOL_JOB = "tool"
# `uses: ORG/rescue-dynamics-reconciler/.github/workflows/NAME@vX.Y.Z # zizmor: ignore[...] why`:
# a release tag, which the federated credentials can require (a commit could be a fork's).
CALLER_USES = re.compile(
    r"uses: ORG/rescue-dynamics-reconciler/\.github/workflows/([a-z]+\.yml)@(v\d+\.\d+\.\d+)"
    r" # zizmor: ignore\[unpinned-uses\] the federated credentials trust this tag ref only.*"
)


def load(path: Path | str) -> dict[Any, Any]:
    data = yaml.safe_load((WORKFLOWS / path if isinstance(path, str) else path).read_text("utf-8"))
    assert isinstance(data, dict)
    return data


def tool(name: str) -> str:
    """A dev-extra binary: next to this interpreter (the venv), else on PATH."""
    here = Path(sys.executable).parent / name
    found = str(here) if here.exists() else shutil.which(name)
    assert found, f"{name} is not installed: run `pip install -e '.[dev]'` (make venv)"
    return found


def assert_clean(*command: str, cwd: Path = REPO) -> None:
    """Run a checker over workflows: it must find nothing."""
    done = subprocess.run(command, capture_output=True, text=True, cwd=cwd, timeout=100, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def actionlint(*files: str | Path, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("actionlint"), f"-shellcheck={tool('shellcheck')}", "-no-color", *map(str, files)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=100,
        check=False,
    )


def test_every_workflow_passes_actionlint_with_shellcheck() -> None:
    files = sorted(str(p) for p in WORKFLOWS.glob("*.y*ml"))
    assert [Path(f).name for f in files] == sorted(NAMES)
    done = actionlint(*files)
    assert done.returncode == 0, done.stdout + done.stderr


def local_callers(root: Path) -> list[Path]:
    """A scratch repository holding the reusable workflows and the documented callers, each
    caller's `uses:` pointing at the local copy: actionlint then checks the call's inputs."""
    target = root / ".github" / "workflows"
    target.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(root)], check=True, timeout=30)
    for name in REUSABLE:
        shutil.copy(WORKFLOWS / name, target / name)
    written = []
    for name, caller in CALLERS.items():
        text, count = CALLER_USES.subn(f"uses: ./.github/workflows/{name}", caller.read_text("utf-8"))
        assert count == 1, f"{caller.name}: one call of {name} pinned to a release tag"
        written.append(target / f"caller-{name}")
        written[-1].write_text(text, "utf-8")
    return written


def test_the_documented_callers_pass_actionlint_against_the_reusable_workflows(tmp_path: Path) -> None:
    """Done when (issue 19): the caller workflows in docs/ are tested as files with actionlint,
    as written (remote `uses:`) and resolved against this repository's reusable workflows."""
    as_written = actionlint(*CALLERS.values())
    assert as_written.returncode == 0, as_written.stdout + as_written.stderr
    callers = local_callers(tmp_path)
    done = actionlint(*callers, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    # The same check finds a misspelt input and a missing required one.
    text = callers[0].read_text("utf-8").replace("read-client-id:", "read-client-idx:")
    callers[0].write_text(text, "utf-8")
    broken = actionlint(callers[0], cwd=tmp_path)
    assert broken.returncode == 1
    assert 'input "read-client-id" is required' in broken.stdout
    assert 'input "read-client-idx" is not defined' in broken.stdout


def test_actionlint_does_find_problems(tmp_path: Path) -> None:
    """The check above can fail: a broken workflow is reported (with a shellcheck finding)."""
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo $UNQUOTED\n"
        "      - run: echo ${{ github.event.pull_request.title }}\n",
        "utf-8",
    )
    done = actionlint(bad, cwd=tmp_path)
    assert done.returncode == 1
    assert "SC2086" in done.stdout
    assert "potentially untrusted" in done.stdout


def steps(name: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for job_id, job in load(name)["jobs"].items():
        for step in job.get("steps", []):
            yield job_id, step


@pytest.mark.parametrize("name", NAMES)
def test_actions_are_pinned_by_commit_with_the_tag_in_a_comment(name: str) -> None:
    text = (WORKFLOWS / name).read_text("utf-8")
    uses = re.findall(r"uses:\s*(\S+)(.*)", text)
    assert uses
    for ref, rest in uses:
        action, _, sha = ref.partition("@")
        assert action in ALLOWED_ACTIONS, ref
        assert re.fullmatch(r"[0-9a-f]{40}", sha), f"{ref} is not pinned to a full commit SHA"
        assert re.match(r"\s*# v\d+\.\d+\.\d+", rest), f"{ref}: say which release tag the SHA is"


@pytest.mark.parametrize("name", NAMES)
def test_least_permissions_per_job(name: str) -> None:
    workflow = load(name)
    assert workflow["permissions"] == {}, "grant nothing at the top; each job asks for what it needs"
    for job_id, job in workflow["jobs"].items():
        perms = job.get("permissions")
        assert isinstance(perms, dict), f"{name}:{job_id} declares no permissions"
        assert job.get("timeout-minutes"), f"{name}:{job_id} has no timeout"
        if job_id == TOOL_JOB:
            assert perms == {"id-token": "write"}, f"{name}:{job_id}: the token only, no checkout"
            continue
        assert perms.get("contents") == "read", f"{name}:{job_id}"
        assert (perms.get("id-token") == "write") == ((name, job_id) in LIVE_JOBS), f"{name}:{job_id}"
        assert set(perms) <= {"contents", "id-token", "pull-requests", "issues"}, f"{name}:{job_id}"
    for _job, step in steps(name):
        if str(step.get("uses", "")).startswith("actions/checkout"):
            assert step["with"]["persist-credentials"] is False


def test_write_permissions_are_where_they_are_needed() -> None:
    assert load("plan.yml")["jobs"]["comment"]["permissions"]["pull-requests"] == "write"
    assert load("drift.yml")["jobs"]["drift"]["permissions"]["issues"] == "write"
    for name in NAMES:
        for job_id, job in load(name)["jobs"].items():
            if "pull-requests" in job["permissions"]:
                assert (name, job_id) == ("plan.yml", "comment")
            if "issues" in job["permissions"]:
                assert (name, job_id) == ("drift.yml", "drift")


def test_apply_runs_one_job_per_tenant_behind_an_environment_never_two_at_once() -> None:
    job = load("apply.yml")["jobs"]["apply"]
    assert job["environment"] == "production"
    assert job["concurrency"] == {"group": "apply-${{ matrix.job }}", "cancel-in-progress": False}
    assert job["strategy"]["fail-fast"] is False
    assert "needs.select.outputs.matrix" in job["strategy"]["matrix"]
    script = next(
        s["run"] for j, s in steps("apply.yml") if j == "apply" and "reconcile apply" in s.get("run", "")
    )
    assert "--plan plan/plan.json" in script  # exactly the plan that was reviewed
    assert "--auto-approve" in script
    assert '"$FORCE" = "true"' in script  # --force only when the caller passes it (a manual run)


def test_the_plan_file_is_kept_even_when_the_plan_step_fails() -> None:
    """A shard's plan exits 1 or 3 for one tenant: its file is still kept, so the shard's other
    tenants reach the apply matrix (plan-matrix drops the failed tenant alone)."""
    plan_steps = load("apply.yml")["jobs"]["plan"]["steps"]
    names = [s.get("name", "") for s in plan_steps]
    planned = names.index("Plan (the reviewer of the apply job reads this summary)")
    keep = plan_steps[names.index("Keep the plan for the apply job")]
    assert names.index(keep["name"]) > planned
    condition = keep.get("if", "")
    assert "!cancelled()" in condition or "always()" in condition, condition
    assert "hashFiles('out/plan.json')" in condition


def inputs_of(name: str) -> dict[str, Any]:
    on = load(name)[True]  # YAML 1.1 reads the key `on` as True
    assert set(on) == {"workflow_call"}, f"{name} is only called, never triggered by itself"
    inputs = on["workflow_call"]["inputs"]
    assert isinstance(inputs, dict)
    return inputs


def test_the_workflows_are_reusable_with_typed_inputs_and_the_callers_trigger_them() -> None:
    assert set(load("ci.yml")[True]) == {"push", "pull_request"}
    for name in REUSABLE:
        inputs = inputs_of(name)
        for key, spec in inputs.items():
            assert spec["type"] in {"string", "number", "boolean"}, (name, key)
            assert spec.get("description"), (name, key)
        assert inputs["read-client-id"]["required"] is True, name  # plans use the read-only app
        assert inputs["tenants"]["default"] == "tenants", name
        # One job per tenant up to GitHub's matrix limit, shards beyond (1,000 tenants: 256 jobs).
        assert inputs["max-jobs"] == {**inputs["max-jobs"], "type": "number", "default": GITHUB_MAX_JOBS}
        assert "secrets" not in load(name)[True]["workflow_call"], name
    assert set(inputs_of("apply.yml")) >= {"client-id", "tenant", "force"}
    assert inputs_of("apply.yml")["force"] == {**inputs_of("apply.yml")["force"], "type": "boolean"}
    on = {name: load(CALLERS[name])[True] for name in REUSABLE}
    assert on["plan.yml"]["pull_request"]["paths"] == ["tenants/**"]
    assert on["apply.yml"]["push"]["branches"] == ["main"]
    assert set(on["apply.yml"]["workflow_dispatch"]["inputs"]) == {"tenant", "force"}
    assert "schedule" in on["drift.yml"] and "workflow_dispatch" in on["drift.yml"]
    for caller in CALLERS.values():
        assert "pull_request_target" not in caller.read_text("utf-8")


def level(value: str) -> int:
    return {"none": 0, "read": 1, "write": 2}[value]


@pytest.mark.parametrize("name", REUSABLE)
def test_each_caller_is_short_pinned_grants_what_the_jobs_need_and_passes_no_secret(name: str) -> None:
    caller = load(CALLERS[name])
    text = CALLERS[name].read_text("utf-8")
    assert caller["permissions"] == {}
    (job,) = caller["jobs"].values()
    assert CALLER_USES.search(text)[1] == name  # type: ignore[index]
    assert "secrets" not in job and "secrets." not in text, "no secret lives in GitHub"
    # A called job can only narrow what the calling job grants: grant the widest the jobs ask.
    needed: dict[str, str] = {}
    for called in load(name)["jobs"].values():
        for scope, value in called["permissions"].items():
            if level(value) > level(needed.get(scope, "none")):
                needed[scope] = value
    assert job["permissions"] == needed
    assert len(text.splitlines()) <= 45


def test_the_comment_job_finds_its_comment_by_the_renderers_marker() -> None:
    script = next(s["run"] for j, s in steps("plan.yml") if j == "comment" and "gh api" in s.get("run", ""))
    assert f'startswith("{MARKER}")' in script
    assert "--method PATCH" in script  # edited in place, not a new comment per push


def test_oidc_token_steps_use_the_entra_audience_only_in_the_live_jobs() -> None:
    for name in REUSABLE:
        for job_id, job in load(name)["jobs"].items():
            scripts = [s.get("run", "") for s in job["steps"]]
            token = [s for s in scripts if "ACTIONS_ID_TOKEN_REQUEST_URL" in s]
            if (name, job_id) in LIVE_JOBS:
                assert job["environment"] == LIVE_JOBS[name, job_id], (name, job_id)
                (script,) = token
                assert "audience=api%3A%2F%2FAzureADTokenExchange" in script
                assert "AZURE_FEDERATED_TOKEN_FILE=" in script
            elif job_id == TOOL_JOB:
                (script,) = token
                assert "AzureADTokenExchange" not in script  # a token Entra ID never accepts
            else:
                assert not token, (name, job_id)


# -- reconcile comes from the called workflow's own commit -------------------------------------


def tool_script(name: str) -> str:
    (step,) = load(name)["jobs"][TOOL_JOB]["steps"]
    assert step["id"] == "tool"
    script = step["run"]
    assert isinstance(script, str)
    return script


def claims_script(name: str) -> str:
    """The Python the tool job pipes its OIDC token response into."""
    found = re.search(r"python3 -c '\n(.*?)\n' >> \"\$GITHUB_OUTPUT\"", tool_script(name), re.DOTALL)
    assert found, name
    return found[1]


def token_response(claims: dict[str, Any]) -> str:
    """What GitHub's token endpoint answers: {"value": JWT}; the signature is not checked."""

    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return json.dumps({"value": f"{part({'alg': 'RS256'})}.{part(claims)}.c2ln"})


@pytest.mark.parametrize("name", REUSABLE)
def test_the_tool_job_reads_the_called_workflows_repository_and_commit_from_the_token(name: str) -> None:
    sha = "0123456789abcdef0123456789abcdef01234567"
    claims = {
        "sub": "repo:contoso-msp/tenants:pull_request",
        "repository": "contoso-msp/tenants",
        "job_workflow_ref": f"contoso-msp/rescue-dynamics-reconciler/.github/workflows/{name}@refs/tags/v0.2.0",
        "job_workflow_sha": sha,
    }
    run = [sys.executable, "-c", claims_script(name)]
    done = subprocess.run(run, input=token_response(claims), capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"repository=contoso-msp/rescue-dynamics-reconciler\nsha={sha}\n"
    # Not a reusable workflow's token, or a value that would not be a plain repository and commit.
    for bad in (
        {**claims, "job_workflow_ref": None},
        {**claims, "job_workflow_sha": "v0.2.0"},
        {**claims, "job_workflow_ref": "a/b;c/.github/workflows/x.yml@refs/tags/v1"},
        {**claims, "job_workflow_ref": f"a/b/.github/workflows/x.yml@refs/tags/v1\nsha={sha}"},
    ):
        done = subprocess.run(run, input=token_response(bad), capture_output=True, text=True, timeout=30)
        assert done.returncode == 1 and not done.stdout, bad
        assert "names no reusable workflow commit" in done.stderr


@pytest.mark.parametrize("name", REUSABLE)
def test_every_job_installs_reconcile_from_that_commit_and_nothing_else(name: str) -> None:
    """A caller (or a pull request editing it) cannot choose what runs with the fleet identity."""
    text = (WORKFLOWS / name).read_text("utf-8")
    assert "inputs.reconcile" not in text and "RECONCILE_PACKAGE" not in text
    for job_id, job in load(name)["jobs"].items():
        if job_id == TOOL_JOB:
            continue
        assert TOOL_JOB in job["needs"], (name, job_id)
        tool_checkouts = [s for s in job["steps"] if s.get("with", {}).get("path") == ".reconcile"]
        (checkout,) = tool_checkouts
        assert checkout["with"]["repository"] == "${{ needs.tool.outputs.repository }}"
        assert checkout["with"]["ref"] == "${{ needs.tool.outputs.sha }}"
        installs = [s["run"] for s in job["steps"] if "pip install" in s.get("run", "")]
        assert installs == ["python -m pip install --quiet ./.reconcile"], (name, job_id)
        # The tool's checkout comes after the workspace's (which would clean it away).
        ids = [id(s) for s in job["steps"]]
        first = next(s for s in job["steps"] if str(s.get("uses", "")).startswith("actions/checkout"))
        assert ids.index(id(first)) < ids.index(id(checkout))


# -- the commands the workflows run ------------------------------------------------------------


def invocations(text: str) -> Iterator[tuple[str, list[str]]]:
    """(command words, options) of each `reconcile ...` call in a shell script."""
    joined = text.replace("\\\n", " ")
    for match in re.finditer(r"\breconcile ((?:[a-z][a-z-]*)(?: [a-z][a-z-]*)?)([^|>;)\n]*)", joined):
        yield match[1], re.findall(r"(?<!\S)(--[a-z][a-z-]*)", match[2])


# `reconcile report` and the `--out` of drift and apply (issue 20) land with the REPORT stream;
# until then their calls are checked against the options that stream's interface names. Once the
# command is registered, its real options are checked.
PENDING = {"report": {"--out", "--history", "--step-summary"}, "drift": {"--out"}, "apply": {"--out"}}


def resolve(words: str) -> tuple[str, click.Command | None]:
    """The command's words (``gitops plan-matrix``, or ``plan`` when the second word is an
    argument) and the command; None for a PENDING command not registered yet."""
    ctx = click.Context(cli)
    parts = words.split()
    command = cli.get_command(ctx, parts[0])
    if command is None and parts[0] in PENDING:
        return parts[0], None
    assert command is not None, f"`reconcile {parts[0]}` does not exist"
    if isinstance(command, click.Group):
        assert len(parts) == 2, f"`reconcile {words}` needs a subcommand"
        sub = command.get_command(ctx, parts[1])
        assert sub is not None, f"`reconcile {words}` does not exist"
        return words, sub
    return parts[0], command


def options_of(command: click.Command) -> set[str]:
    return {opt for param in command.params for opt in getattr(param, "opts", []) if opt.startswith("--")}


def all_invocations() -> Iterator[tuple[str, str, list[str]]]:
    for name in NAMES:
        for _job, step in steps(name):
            for words, options in invocations(str(step.get("run", ""))):
                yield name, words, options
    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text("utf-8"))
    for hook in hooks:
        for words, options in invocations(hook["entry"]):
            yield ".pre-commit-hooks.yaml", words, options


def test_every_reconcile_call_names_a_real_command_and_real_options() -> None:
    """`gitops` must be registered in reconciler/cli/__init__.py's _COMMANDS for this to pass."""
    seen = set()
    for where, words, options in all_invocations():
        name, command = resolve(words)
        known = PENDING[name] if command is None else options_of(command) | PENDING.get(name, set())
        unknown = set(options) - known
        assert not unknown, f"{where}: `reconcile {name}` has no option {sorted(unknown)}"
        seen.add(name)
    assert {"changed-tenants", "plan", "drift", "apply", "gitops comment-body", "report"} <= seen
    assert {"gitops plan-matrix", "gitops drift-issue", "gitops validate-files"} <= seen


def test_invocation_parser_finds_calls_and_options() -> None:
    script = 'x=$(reconcile changed-tenants --base "$B" --format matrix)\nreconcile gitops comment-body p \\\n  --out c.md'
    assert list(invocations(script)) == [
        ("changed-tenants", ["--base", "--format"]),
        ("gitops comment-body", ["--out"]),
    ]


def test_the_tenant_commands_read_the_callers_tenants_folder_and_its_allowed_hosts() -> None:
    for name in REUSABLE:
        assert load(name)["env"]["TENANTS_PATH"] == "${{ inputs.tenants }}"
        # A repository variable, which a pull request cannot change, not an input, which it can
        # (by editing the caller): an allowed host receives the tenant's credentials.
        assert load(name)["env"]["RECONCILE_ALLOW_HOSTS"] == "${{ vars.RECONCILE_ALLOW_HOSTS }}"
        assert not [key for key in inputs_of(name) if "host" in key], name
        for _job, step in steps(name):
            run = str(step.get("run", ""))
            for command in ("changed-tenants", "plan", "drift", "apply"):
                for line in re.findall(rf"reconcile {command} .*", run):
                    assert line.startswith(f'reconcile {command} "$TENANTS_PATH" '), (name, line)


def test_pre_commit_hook_selects_tenant_files() -> None:
    (hook,) = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text("utf-8"))
    assert hook["id"] == "reconcile-validate"
    assert hook["language"] == "python"
    files = re.compile(hook["files"])
    for path in ("tenants/contoso/tenant.yaml", "tenants/contoso/technicians.yml", "tenants/_defaults.yaml"):
        assert files.search(path), path
    for path in ("tenants/_shared/x.yaml", "tenants/README.md", "docs/tenants/x.yaml", "tenants/a/b/c.yaml"):
        assert not files.search(path), path


MATRIX_JOBS = {("plan.yml", "plan"), ("apply.yml", "plan"), ("apply.yml", "apply"), ("drift.yml", "drift")}


def test_matrix_jobs_act_on_the_tenants_of_their_entry_and_name_artifacts_by_job() -> None:
    """Each entry is {job, tenants} (gitops/matrix.py): a tenant, or a shard of them."""
    for name, job_id in MATRIX_JOBS:
        job = load(name)["jobs"][job_id]
        assert job["name"].endswith("${{ matrix.job }}"), (name, job_id)
        text = yaml.safe_dump(job)
        assert "matrix.tenant }}" not in text, (name, job_id)  # the old one-tenant shape
        for step in job["steps"]:
            run = str(step.get("run", ""))
            if "reconcile " in run and "--tenant" in run:
                assert step["env"]["TENANTS"] == "${{ matrix.tenants }}", (name, job_id, step["name"])
                assert 'read -ra names <<< "$TENANTS"' in run
            artifact = str(step.get("with", {}).get("name", ""))
            assert not artifact or artifact.endswith("-${{ matrix.job }}"), (name, job_id)
    select = next(
        s["run"] for j, s in steps("apply.yml") if j == "select" and "plan-matrix" in s.get("run", "")
    )
    assert '--expect-matrix "$MATRIX"' in select  # same jobs, so the apply job finds its plan artifact
    for name in REUSABLE:
        for _job, step in steps(name):
            if "changed-tenants" in str(step.get("run", "")):
                assert step["env"]["MAX_JOBS"] == "${{ inputs.max-jobs }}"
                assert '--max-jobs "$MAX_JOBS"' in step["run"]


def test_the_drift_run_publishes_the_fleet_report_as_an_artifact_and_in_the_job_summary() -> None:
    """Issue 20, point 2: every drift job keeps its result; one job turns them into the page."""
    jobs = load("drift.yml")["jobs"]
    keep = next(s for s in jobs["drift"]["steps"] if s.get("name") == "Keep the result for the fleet report")
    # The result with the run's times (drift --out), not the issue step's plan JSON on stdout.
    assert keep["with"]["name"] == "drift-${{ matrix.job }}" and keep["with"]["path"] == "drift-result.json"
    (drift,) = [s["run"] for s in jobs["drift"]["steps"] if "reconcile drift" in s.get("run", "")]
    assert "--out drift-result.json > drift.json" in drift
    assert "!cancelled()" in keep["if"]  # a drifting (exit 2) or failing job still keeps its result
    report = jobs["report"]
    assert set(report["needs"]) >= {"drift"} and "!cancelled()" in report["if"]
    fetch = next(s for s in report["steps"] if "download-artifact" in str(s.get("uses", "")))
    assert fetch["with"] == {"pattern": "drift-*", "path": "results"}
    (script,) = [s["run"] for s in report["steps"] if "reconcile report" in s.get("run", "")]
    assert 'reconcile report results --out report --step-summary "$GITHUB_STEP_SUMMARY"' in script
    upload = next(s for s in report["steps"] if "upload-artifact" in str(s.get("uses", "")))
    assert upload["with"]["name"] == "fleet-report" and upload["with"]["path"] == "report/"


# -- no customer secret in GitHub --------------------------------------------------------------


def test_no_workflow_or_caller_reads_any_github_secret() -> None:
    """Rescue secrets are Key Vault references read with the fleet identity (issue 19): the
    per-job secret slots of issue 16 are gone, and nothing may bring a secret back."""
    for path in [*(WORKFLOWS / n for n in NAMES), *CALLERS.values()]:
        text = path.read_text("utf-8")
        assert not re.search(r"\bsecrets\s*[.\[:]|\(\s*secrets\s*\)", text), path.name
        assert "secret-env" not in text and "secret-names" not in text, path.name


def test_read_only_jobs_sign_in_as_the_read_only_app() -> None:
    for (name, job_id), environment in LIVE_JOBS.items():
        job = load(name)["jobs"][job_id]
        runs = [s for s in job["steps"] if re.search(r"reconcile (plan|drift|apply) ", str(s.get("run", "")))]
        assert runs, (name, job_id)
        expected = "client-id" if environment == "production" else "read-client-id"
        for step in runs:
            assert step["env"]["RECONCILE_CLIENT_ID"] == f"${{{{ inputs.{expected} }}}}", (name, job_id)


def test_zizmor_finds_nothing_above_low() -> None:
    """What `make zizmor` runs: zizmor's auditor persona, offline, medium and high findings only."""
    assert_clean(
        tool("zizmor"),
        "--offline",
        "--persona",
        "auditor",
        "--min-severity",
        "medium",
        str(WORKFLOWS),
        *map(str, CALLERS.values()),
    )


def test_zizmor_does_find_a_caller_pinned_to_a_tag_and_the_old_secrets_step(tmp_path: Path) -> None:
    """The check above can fail: a tag-pinned call is high, `toJSON(secrets)` outside an
    environment medium."""
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text(
        "name: bad\non: pull_request\npermissions: {}\njobs:\n  plan:\n    name: plan\n    runs-on: ubuntu-latest\n"
        "    steps:\n      - name: secrets\n        env:\n          ALL: ${{ toJSON(secrets) }}\n"
        "        run: echo hi\n"
        "  call:\n    uses: ORG/rescue-dynamics-reconciler/.github/workflows/plan.yml@v0.2.0\n"
        "    with:\n      read-client-id: x\n",
        "utf-8",
    )
    done = subprocess.run(
        [tool("zizmor"), "--offline", "--persona", "auditor", "--min-severity", "medium", str(bad.parent)],
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )
    assert done.returncode != 0
    assert "overprovisioned-secrets" in done.stdout and "secrets-outside-env" in done.stdout
    assert "unpinned-uses" in done.stdout


# -- the OIDC token file outlives the token (refreshed in the background of each live step) ----

REFRESHER_START = "export AZURE_FEDERATED_TOKEN_FILE="
REFRESHER_END = 'trap \'kill "$refresher" 2> /dev/null || true; wait "$refresher" || true\' EXIT\n'
SIGN_IN_COMMANDS = ("plan", "apply", "drift")


def live_steps() -> Iterator[tuple[str, str, str]]:
    """(workflow, job, script) of each step of a live job that runs a command that signs in."""
    for (name, job_id), _environment in LIVE_JOBS.items():
        for step in load(name)["jobs"][job_id]["steps"]:
            script = str(step.get("run", ""))
            if any(words.split()[0] in SIGN_IN_COMMANDS for words, _ in invocations(script)):
                yield name, job_id, script


def refresher(script: str) -> str:
    start = script.index(REFRESHER_START)
    return script[start : script.index(REFRESHER_END) + len(REFRESHER_END)]


def test_every_step_that_signs_in_refreshes_its_token_file_in_the_same_step() -> None:
    """GitHub's OIDC token lives 5 minutes and a job up to 30: a token fetched in an earlier step
    expires under a later tenant of the shard, --health or the Key Vault reader."""
    found = list(live_steps())
    assert {(name, job_id) for name, job_id, _ in found} == set(LIVE_JOBS)
    blocks = {refresher(script) for _, _, script in found}
    assert len(blocks) == 1, "the refresher is the same in every live step"
    for name, job_id, script in found:
        block = refresher(script)
        # Started before reconcile runs, and no step of the job exports the file to later steps.
        assert script.index(block) < min(
            script.index(f"reconcile {c} ") for c in SIGN_IN_COMMANDS if f"reconcile {c} " in script
        )
        assert "GITHUB_ENV" not in script, (name, job_id)
        assert "sleep 120" in block and 'mv -f "$new" "$AZURE_FEDERATED_TOKEN_FILE"' in block
        assert int(load(name)["jobs"][job_id]["timeout-minutes"]) * 60 > 300  # why it is needed


class TokenEndpoint(http.server.BaseHTTPRequestHandler):
    """GitHub's OIDC token endpoint: a new token per request, for the request token only."""

    issued: ClassVar[list[str]] = []
    refused: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        if self.headers.get("Authorization") != "bearer request-token" or query.get("audience") != [
            "api://AzureADTokenExchange"
        ]:
            self.refused.append(self.path)
            self.send_response(403)
            self.end_headers()
            return
        token = f"header.token-{len(self.issued) + 1}.signature"
        self.issued.append(token)
        body = json.dumps({"count": 1, "value": token}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def token_url() -> Iterator[str]:
    """A fresh TokenEndpoint served on localhost: ACTIONS_ID_TOKEN_REQUEST_URL."""
    TokenEndpoint.issued, TokenEndpoint.refused = [], []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), TokenEndpoint)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/token?api-version=2.0"
    finally:
        server.shutdown()
        server.server_close()


# Stands in for `reconcile`: records each token it reads until it has seen three, then exits 3.
FAKE_RECONCILE = """\
import os, pathlib, sys, time
token_file = pathlib.Path(os.environ["AZURE_FEDERATED_TOKEN_FILE"])
seen = []
deadline = time.monotonic() + 20
while len(seen) < 3 and time.monotonic() < deadline:
    token = token_file.read_text()
    if not seen or token != seen[-1]:
        seen.append(token)
    time.sleep(0.01)
pathlib.Path(os.environ["SEEN"]).write_text("\\n".join(seen))
sys.exit(3)
"""


@pytest.mark.parametrize("where", [f"{name}:{job}" for name, job in LIVE_JOBS])
def test_the_refresher_replaces_the_token_file_while_reconcile_runs_and_stops_with_it(
    where: str, tmp_path: Path, token_url: str
) -> None:
    name, job_id = where.split(":")
    (script,) = [s for n, j, s in live_steps() if (n, j) == (name, job_id)]
    shims = tmp_path / "bin"
    shims.mkdir()
    (shims / "python").symlink_to(sys.executable)
    # The refresher's two minutes become a few milliseconds; everything else is real.
    (shims / "sleep").write_text(f"#!/bin/sh\nexec {shutil.which('sleep')} 0.02\n")
    (shims / "reconcile").write_text(f"#!{sys.executable}\n{FAKE_RECONCILE}")
    for shim in ("sleep", "reconcile"):
        (shims / shim).chmod(0o755)
    work, temp = tmp_path / "work", tmp_path / "runner-temp"
    work.mkdir()
    temp.mkdir()
    env = {
        "PATH": f"{shims}:/usr/bin:/bin",
        "RUNNER_TEMP": str(temp),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        "GITHUB_OUTPUT": str(tmp_path / "output"),
        "ACTIONS_ID_TOKEN_REQUEST_URL": token_url,
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "request-token",
        "TENANTS": "contoso fabrikam",
        "TENANTS_PATH": "tenants",
        "JOB": "contoso",
        "FORCE": "false",
        "SEEN": str(tmp_path / "seen"),
    }
    # GitHub's default shell for run: on Linux.
    run = ["bash", "--noprofile", "--norc", "-e", "-c", script]
    done = subprocess.run(run, cwd=work, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 3, done.stderr  # reconcile's exit is the step's
    seen = (tmp_path / "seen").read_text().splitlines()
    assert seen == TokenEndpoint.issued[: len(seen)] and len(seen) == 3
    assert not TokenEndpoint.refused
    # The refresher ended with the step: no request after it, no temporary file left behind.
    issued = len(TokenEndpoint.issued)
    time.sleep(0.3)
    assert len(TokenEndpoint.issued) == issued
    assert sorted(p.name for p in temp.iterdir()) == ["azure-federated-token"]
    assert (temp / "azure-federated-token").stat().st_mode & 0o077 == 0  # the runner user's only
    summary = tmp_path / "summary.md"
    shown = done.stdout + done.stderr + (summary.read_text() if summary.exists() else "")
    for token in TokenEndpoint.issued:
        assert token not in shown


def test_a_refused_token_request_fails_the_step_before_reconcile_runs(tmp_path: Path, token_url: str) -> None:
    (script,) = [s for n, j, s in live_steps() if (n, j) == ("apply.yml", "apply")]
    shims = tmp_path / "bin"
    shims.mkdir()
    (shims / "python").symlink_to(sys.executable)
    (shims / "reconcile").write_text("#!/bin/sh\ntouch ran\n")
    (shims / "reconcile").chmod(0o755)
    env = {
        "PATH": f"{shims}:/usr/bin:/bin",
        "RUNNER_TEMP": str(tmp_path),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        "ACTIONS_ID_TOKEN_REQUEST_URL": token_url,
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "another job's token",
        "TENANTS": "contoso",
    }
    run = ["bash", "--noprofile", "--norc", "-e", "-c", script]
    done = subprocess.run(run, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode != 0 and "403" in done.stderr
    assert TokenEndpoint.refused and not (tmp_path / "ran").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bin"]  # no token file, no temporary one
