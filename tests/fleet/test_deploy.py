"""The container and Kubernetes recipe (deploy/, Dockerfile) pass their validators and keep their
promises: non-root, pinned base, an Indexed Job whose pods each take one shard, secrets as the
tool's {env:}/{file:} references, tenant files the loader accepts. Also shell completion."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.config import load_tenants
from reconciler.config.shard import parse_shard

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "kubernetes"
BIN = Path(sys.executable).parent
POD_MANIFESTS = ("cronjob-drift.yaml", "job-apply.yaml")


def tool(
    *args: str | Path, cwd: Path = REPO, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, cwd=cwd, env=env, timeout=100, check=False
    )


def manifest(name: str) -> dict[str, Any]:
    data = yaml.safe_load((K8S / name).read_text("utf-8"))
    assert isinstance(data, dict)
    return data


def job_spec(name: str) -> dict[str, Any]:
    data = manifest(name)
    spec = data["spec"]["jobTemplate"]["spec"] if data["kind"] == "CronJob" else data["spec"]
    assert isinstance(spec, dict)
    return spec


def test_manifests_pass_the_kubernetes_schema_and_a_broken_one_does_not(tmp_path: Path) -> None:
    files = sorted(K8S.glob("*.yaml"))
    assert {f.name for f in files} >= {*POD_MANIFESTS, "serviceaccount.yaml", "tenants-configmap.yaml"}
    good = tool(BIN / "kubernetes-validate", "--strict", "--quiet", *files)
    assert good.returncode == 0, good.stdout + good.stderr
    broken = tmp_path / "broken.yaml"
    text = (K8S / "cronjob-drift.yaml").read_text("utf-8")
    broken.write_text(
        text.replace("completionMode: Indexed", "completionMode: Indexed\n      completionz: 4")
    )
    bad = tool(BIN / "kubernetes-validate", "--strict", "--quiet", broken)
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


@pytest.mark.parametrize("name", POD_MANIFESTS)
def test_each_pod_of_the_indexed_job_takes_one_shard_and_runs_restricted(name: str) -> None:
    spec = job_spec(name)
    assert spec["completionMode"] == "Indexed"
    (container,) = spec["template"]["spec"]["containers"]
    env = {e["name"]: e for e in container["env"]}
    shards = int(env["SHARDS"]["value"])
    assert spec["completions"] == spec["parallelism"] == shards
    script = container["args"][0]
    assert '--shard "$JOB_COMPLETION_INDEX/$SHARDS"' in script
    assert "--format json" in script  # the result on stdout, as JSON
    field = env["JOB_COMPLETION_INDEX"]["valueFrom"]["fieldRef"]["fieldPath"]
    assert field == "metadata.annotations['batch.kubernetes.io/job-completion-index']"
    for index in range(shards):  # every index is a shard the CLI accepts
        assert parse_shard(f"{index}/{shards}").index == index
    pod = spec["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert pod["serviceAccountName"] == "reconcile"
    assert spec["template"]["metadata"]["labels"]["azure.workload.identity/use"] == "true"


def test_the_configmap_tenants_load_and_reference_secrets_the_pod_provides(tmp_path: Path) -> None:
    """Lay the ConfigMap out as the pod's volume `items` do, and load it with the tool itself."""
    data = manifest("tenants-configmap.yaml")["data"]
    for name in POD_MANIFESTS:
        pod = job_spec(name)["template"]["spec"]
        (volume,) = [v for v in pod["volumes"] if v["name"] == "tenants"]
        items = {i["key"]: i["path"] for i in volume["configMap"]["items"]}
        assert set(items) == set(data), f"{name}: every ConfigMap key is mounted"
        (container,) = pod["containers"]
        mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
        assert container["envFrom"][0]["secretRef"]["name"] == "reconcile-secrets"
        (secret_files,) = [v for v in pod["volumes"] if v["name"] == "secret-files"]
        assert secret_files["secret"]["secretName"] == "reconcile-secrets"
    for key, path in items.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(data[key], "utf-8")
    (tenant,) = load_tenants([tmp_path])
    credential = tenant.model.connection.dynamics.credential
    assert credential.federated_token_file is not None
    assert credential.federated_token_file.env == "AZURE_FEDERATED_TOKEN_FILE"
    file_refs = re.findall(r"\{file: ([^}]+)\}", data[f"{tenant.name}.tenant.yaml"])
    assert file_refs and all(ref.startswith(mounts["secret-files"] + "/") for ref in file_refs)


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
