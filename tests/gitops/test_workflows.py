"""The workflows, the pre-commit hook and the CLI agree, and actionlint passes on every workflow.

actionlint (with shellcheck on the ``run:`` scripts) is the same check ``make actionlint``
runs; the other tests read the workflows as data, so a reviewer's rules (pinned actions,
least permissions, one apply per tenant at a time) cannot quietly erode.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from reconciler.cli import cli
from reconciler.render.markdown import MARKER

from .conftest import REPO

WORKFLOWS = REPO / ".github" / "workflows"
NAMES = ("ci.yml", "plan.yml", "apply.yml", "drift.yml")
ALLOWED_ACTIONS = {
    "actions/checkout",
    "actions/setup-python",
    "actions/upload-artifact",
    "actions/download-artifact",
}
# Jobs that talk to the live services (and so need the OIDC token).
LIVE_JOBS = {("plan.yml", "plan"), ("apply.yml", "plan"), ("apply.yml", "apply"), ("drift.yml", "drift")}


def load(name: str) -> dict[Any, Any]:
    data = yaml.safe_load((WORKFLOWS / name).read_text("utf-8"))
    assert isinstance(data, dict)
    return data


def tool(name: str) -> str:
    """A dev-extra binary: next to this interpreter (the venv), else on PATH."""
    here = Path(sys.executable).parent / name
    found = str(here) if here.exists() else shutil.which(name)
    assert found, f"{name} is not installed: run `pip install -e '.[dev]'` (make venv)"
    return found


def assert_clean(*command: str) -> None:
    """Run a checker over the workflows from the repository root: it must find nothing."""
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=100, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_workflow_passes_actionlint_with_shellcheck() -> None:
    files = sorted(str(p) for p in WORKFLOWS.glob("*.y*ml"))
    assert [Path(f).name for f in files] == sorted(NAMES)
    assert_clean(tool("actionlint"), f"-shellcheck={tool('shellcheck')}", "-no-color", *files)


def test_actionlint_does_find_problems(tmp_path: Path) -> None:
    """The check above can fail: a broken workflow is reported (with a shellcheck finding)."""
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo $UNQUOTED\n"
        "      - run: echo ${{ github.event.pull_request.title }}\n",
        "utf-8",
    )
    done = subprocess.run(
        [tool("actionlint"), f"-shellcheck={tool('shellcheck')}", "-no-color", str(bad)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=100,
        check=False,
    )
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
        assert perms.get("contents") == "read", f"{name}:{job_id}"
        assert "write" not in perms.get("contents", ""), f"{name}:{job_id}"
        assert (perms.get("id-token") == "write") == ((name, job_id) in LIVE_JOBS), f"{name}:{job_id}"
        assert set(perms) <= {"contents", "id-token", "pull-requests", "issues"}, f"{name}:{job_id}"
        assert job.get("timeout-minutes"), f"{name}:{job_id} has no timeout"
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
    assert '"$FORCE" = "true"' in script  # --force only by hand (workflow_dispatch)


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


def test_triggers() -> None:
    on = {name: load(name)[True] for name in NAMES}  # YAML 1.1 reads the key `on` as True
    assert set(on["ci.yml"]) == {"push", "pull_request"}
    assert on["plan.yml"]["pull_request"]["paths"][0] == "tenants/**"
    assert on["apply.yml"]["push"]["branches"] == ["main"]
    assert set(on["apply.yml"]["workflow_dispatch"]["inputs"]) == {"tenant", "force"}
    assert "schedule" in on["drift.yml"]
    assert "workflow_dispatch" in on["drift.yml"]
    assert "pull_request_target" not in (WORKFLOWS / "plan.yml").read_text("utf-8")


def test_the_comment_job_finds_its_comment_by_the_renderers_marker() -> None:
    script = next(s["run"] for j, s in steps("plan.yml") if j == "comment" and "gh api" in s.get("run", ""))
    assert f'startswith("{MARKER}")' in script
    assert "--method PATCH" in script  # edited in place, not a new comment per push


def test_oidc_token_steps_use_the_entra_audience() -> None:
    for name in ("plan.yml", "apply.yml", "drift.yml"):
        scripts = [s.get("run", "") for _j, s in steps(name)]
        token = [s for s in scripts if "ACTIONS_ID_TOKEN_REQUEST_URL" in s]
        assert token, name
        for script in token:
            assert "audience=api%3A%2F%2FAzureADTokenExchange" in script
            assert "AZURE_FEDERATED_TOKEN_FILE=" in script


def invocations(text: str) -> Iterator[tuple[str, list[str]]]:
    """(command words, options) of each `reconcile ...` call in a shell script."""
    joined = text.replace("\\\n", " ")
    for match in re.finditer(r"\breconcile ((?:[a-z][a-z-]*)(?: [a-z][a-z-]*)?)([^|>;)\n]*)", joined):
        yield match[1], re.findall(r"(?<!\S)(--[a-z][a-z-]*)", match[2])


def resolve(words: str) -> click.Command:
    ctx = click.Context(cli)
    parts = words.split()
    command = cli.get_command(ctx, parts[0])
    assert command is not None, f"`reconcile {parts[0]}` does not exist"
    if isinstance(command, click.Group):
        assert len(parts) == 2, f"`reconcile {words}` needs a subcommand"
        sub = command.get_command(ctx, parts[1])
        assert sub is not None, f"`reconcile {words}` does not exist"
        return sub
    return command


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
        command = resolve(words)
        unknown = set(options) - options_of(command)
        assert not unknown, f"{where}: `reconcile {words}` has no option {sorted(unknown)}"
        seen.add(words)
    assert {"changed-tenants", "plan", "drift", "apply", "gitops secret-env", "gitops comment-body"} <= seen
    assert {"gitops plan-matrix", "gitops drift-issue", "gitops validate-files"} <= seen


def test_invocation_parser_finds_calls_and_options() -> None:
    script = 'x=$(reconcile changed-tenants --base "$B" --format matrix)\nreconcile gitops comment-body p \\\n  --out c.md'
    assert list(invocations(script)) == [
        ("changed-tenants", ["--base", "--format"]),
        ("gitops comment-body", ["--out"]),
    ]


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


# -- issue 16 case 9: each job gets only its own tenants' secrets ------------------------------

SECRET_SLOT = re.compile(r"^\$\{\{ secrets\[steps\.secret_names\.outputs\.name_([0-9]+)\] \}\}$")


def test_no_job_receives_the_whole_secrets_context() -> None:
    for name in NAMES:
        text = (WORKFLOWS / name).read_text("utf-8")
        assert not re.search(r"toJSON\(\s*secrets\s*\)", text, re.IGNORECASE), name
        assert "secrets: inherit" not in text, name


def test_each_job_asks_for_its_own_tenants_secrets_by_name_from_its_environment() -> None:
    """Every use of the secrets context is one slot of the job's `secret-names` step (names the
    job's own tenant files reference, checked to be theirs), inside a GitHub environment."""
    from reconciler.gitops import MAX_JOB_SECRETS

    for name in NAMES:
        for job_id, job in load(name)["jobs"].items():
            uses = [
                (step, key, value)
                for step in job.get("steps", [])
                for key, value in (step.get("env") or {}).items()
                if "secrets" in str(value)
            ]
            if not uses:
                continue
            assert (name, job_id) in LIVE_JOBS, (name, job_id)
            expected = "production" if (name, job_id) == ("apply.yml", "apply") else "reconcile-plan"
            assert job["environment"] == expected, (name, job_id)
            slots = sorted(int(SECRET_SLOT.fullmatch(str(value))[1]) for _s, _k, value in uses)  # type: ignore[index]
            assert slots == list(range(1, MAX_JOB_SECRETS + 1)), (name, job_id)
            assert {key for _s, key, _v in uses} == {f"RECONCILE_SECRET_{i}" for i in slots}
            (step,) = {id(s): s for s, _k, _v in uses}.values()
            assert "reconcile gitops secret-env" in step["run"], (name, job_id)
            ids = [s.get("id") for s in job["steps"]]
            names_step = job["steps"][ids.index("secret_names")]
            assert "reconcile gitops secret-names" in names_step["run"]
            assert '>> "$GITHUB_OUTPUT"' in names_step["run"]
            assert ids.index("secret_names") < job["steps"].index(step)


def test_read_only_jobs_sign_in_as_the_read_only_app() -> None:
    for name, job_id in LIVE_JOBS - {("apply.yml", "apply")}:
        job = load(name)["jobs"][job_id]
        runs = [s for s in job["steps"] if re.search(r"reconcile (plan|drift) ", str(s.get("run", "")))]
        assert runs, (name, job_id)
        for step in runs:
            assert step["env"]["RECONCILE_CLIENT_ID"] == "${{ vars.RECONCILE_READ_CLIENT_ID }}", (
                name,
                job_id,
            )
    apply = load("apply.yml")["jobs"]["apply"]
    assert "RECONCILE_CLIENT_ID" not in yaml.safe_dump(apply)  # the write app: the tenant file's


def test_zizmor_finds_nothing_above_low() -> None:
    """What `make zizmor` runs: zizmor's auditor persona, offline, medium and high findings only."""
    assert_clean(
        tool("zizmor"), "--offline", "--persona", "auditor", "--min-severity", "medium", str(WORKFLOWS)
    )


def test_zizmor_does_find_the_old_secrets_step(tmp_path: Path) -> None:
    """The check above can fail: `toJSON(secrets)` outside an environment is a medium finding."""
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text(
        "name: bad\non: pull_request\npermissions: {}\njobs:\n  plan:\n    name: plan\n    runs-on: ubuntu-latest\n"
        "    steps:\n      - name: secrets\n        env:\n          ALL: ${{ toJSON(secrets) }}\n"
        "        run: echo hi\n",
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
