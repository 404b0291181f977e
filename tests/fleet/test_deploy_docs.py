"""The deploy commands in README.md, docs/ and deploy/README.md work as written (issue 19.5).

The commands are read out of the markdown's code blocks with markdown-it-py, as a reader copies
them. A documented ``docker run`` must hand the container every secret the example tenants
reference (``-e NAME`` for ``{env: NAME}``, a ``-v`` mount for ``{file: PATH}``), and its
``reconcile`` part runs with exactly those variables against the sandbox. The ``kubectl``
commands name overlays that render, CronJobs that exist and the approval keys the manifests read.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from markdown_it import MarkdownIt

from reconciler.config import load_tenants
from reconciler.config.secrets import secret_refs
from rescue_sandbox import running_sandbox

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SHELLS = {"", "sh", "shell", "bash", "console"}


def documents() -> list[Path]:
    return [REPO / "README.md", REPO / "deploy" / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def commands(path: Path) -> Iterator[str]:
    """Each shell command of the file's code blocks, continuation lines joined."""
    for token in MarkdownIt().parse(path.read_text("utf-8")):
        if token.type != "fence" or token.info.strip() not in SHELLS:
            continue
        for line in token.content.replace("\\\n", " ").splitlines():
            line = line.strip().removeprefix("$ ")
            if line and not line.startswith("#"):
                yield line


@dataclass
class DockerRun:
    where: str
    image: str
    args: list[str]
    env: list[str] = field(default_factory=list)
    volumes: dict[str, str] = field(default_factory=dict)  # container path -> host path


def docker_runs() -> list[DockerRun]:
    runs = []
    for path in documents():
        for line in commands(path):
            if not line.startswith("docker run "):
                continue
            words = shlex.split(line.split("#", 1)[0])[2:]
            run = DockerRun(str(path.relative_to(REPO)), "", [])
            while words and words[0].startswith("-"):
                option = words.pop(0)
                if option in ("-e", "--env"):
                    run.env.append(words.pop(0).split("=", 1)[0])
                elif option in ("-v", "--volume"):
                    host, container, *_ = words.pop(0).replace("$PWD", str(REPO)).split(":")
                    run.volumes[container] = host
                else:
                    assert option == "--rm", f"{run.where}: `{option}` is not an option this test knows"
            run.image, run.args = words[0], words[1:]
            runs.append(run)
    return runs


def test_the_docs_hold_a_docker_run_of_a_reconcile_command() -> None:
    runs = docker_runs()
    assert any(r.args[:1] == ["plan"] for r in runs), [r.args for r in runs]
    for run in runs:
        assert run.image == "registry.example.com/reconcile:0.1.0", run.where  # what `docker build -t` names


def needs(tenants: Path) -> tuple[set[str], set[str]]:
    """The environment variables and files the tenants' secret references name."""
    names, files = set(), set()
    for tenant in load_tenants([tenants]):
        for _path, ref in secret_refs(tenant.model):
            if ref.env is not None:
                names.add(ref.env)
            elif ref.file is not None:
                files.add(ref.file)
    return names, files


@pytest.mark.parametrize(
    "run", [r for r in docker_runs() if "/work/tenants" in r.args], ids=lambda r: r.where
)
def test_a_documented_docker_run_passes_every_secret_the_example_tenants_reference(run: DockerRun) -> None:
    """The bug of issue 19: one variable of the four the example tenant needs was passed."""
    assert run.volumes.get("/work/tenants") == str(REPO / "tenants"), run.volumes
    names, files = needs(REPO / "tenants")
    assert names, "the example tenants reference no environment variable: update this test"
    missing = names - set(run.env)
    assert not missing, f"{run.where}: `docker run` does not pass {sorted(missing)}"
    unmounted = {f for f in files if not any(f.startswith(dst.rstrip("/") + "/") for dst in run.volumes)}
    assert not unmounted, f"{run.where}: `docker run` mounts nothing at {sorted(unmounted)}"


@pytest.mark.integration
def test_the_documented_docker_runs_reconcile_part_works_against_the_sandbox() -> None:
    """Each documented `docker run`'s arguments, with the container's paths mapped to the mounts
    and exactly the variables it passes, run by `reconcile` against the sandbox."""
    runs = docker_runs()
    with running_sandbox(index_job_seconds=0.05) as sandbox:
        for run in runs:
            args = [_host_path(a, run.volumes) for a in run.args]
            env = {name: f"value-of-{name.lower()}" for name in run.env}
            env |= {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")}
            env["RECONCILE_SANDBOX"] = str(sandbox.state_dir)
            done = subprocess.run(
                [str(BIN / "reconcile"), *args],
                capture_output=True,
                text=True,
                env=env,
                timeout=120,
                check=False,
            )
            assert done.returncode == 0, f"{run.where}: reconcile {' '.join(run.args)}\n{done.stderr}"
            if "--format" in run.args and run.args[run.args.index("--format") + 1] == "json":
                assert '"tenants"' in done.stdout and "contoso" in done.stdout


def _host_path(arg: str, volumes: dict[str, str]) -> str:
    for container, host in volumes.items():
        if arg == container or arg.startswith(container.rstrip("/") + "/"):
            return host + arg[len(container) :]
    return arg


# -- kubectl ------------------------------------------------------------------------------------


def kubectl_commands() -> list[tuple[str, str]]:
    return [
        (str(path.relative_to(REPO)), line)
        for path in documents()
        for line in commands(path)
        if line.startswith("kubectl ")
    ]


def render(overlay: str) -> list[dict[str, Any]]:
    done = subprocess.run(
        [str(BIN / "kubectl"), "kustomize", overlay],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=100,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [d for d in yaml.safe_load_all(done.stdout) if d]


def test_the_documented_kubectl_commands_name_what_the_manifests_hold() -> None:
    lines = kubectl_commands()
    overlays = {
        m for _w, line in lines for m in re.findall(r"(?:-k|kustomize) (deploy/kubernetes/\S+)", line)
    }
    assert overlays == {"deploy/kubernetes/overlays/production"}, overlays
    docs = render("deploy/kubernetes/overlays/production")
    cronjobs = {d["metadata"]["name"] for d in docs if d["kind"] == "CronJob"}
    for where, line in lines:
        for name in re.findall(r"--from=cronjob/(\S+)", line):
            assert name in cronjobs, f"{where}: {line}"
        if " -k " not in line and " kustomize " not in line:
            assert " -n reconcile " in line, f"{where}: {line}"  # the production overlay's namespace
    # The approval the docs create is the ConfigMap, and hold the keys, the apply pods read.
    (approve,) = [line for _w, line in lines if "create configmap reconcile-apply-approval" in line]
    keys = set(re.findall(r"--from-literal=(\w+)=", approve))
    read = set()
    for doc in docs:
        for match in re.finditer(
            r"name: reconcile-apply-approval\s+key: (\w+)|key: (\w+)\s+name: reconcile-apply-approval",
            yaml.safe_dump(doc),
        ):
            read.add(match[1] or match[2])
    assert keys == read == {"run", "commit"}


def test_the_documented_report_copy_pod_passes_the_schema_and_the_restricted_level(tmp_path: Path) -> None:
    text = (REPO / "docs" / "kubernetes.md").read_text("utf-8")
    (overrides,) = re.findall(r"--overrides='(\{.*?\})'", text, re.DOTALL)
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "reconcile-report-copy"},
        **json.loads(overrides),
    }
    rendered = tmp_path / "pod.yaml"
    rendered.write_text(yaml.safe_dump(pod), "utf-8")
    done = subprocess.run(
        [str(BIN / "kubernetes-validate"), "--strict", "--quiet", str(rendered)],
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (container,) = pod["spec"]["containers"]
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
    }
    assert container["volumeMounts"][0]["readOnly"] is True


# -- the federated credentials the docs tell an admin to create -----------------------------------


def federated_credentials() -> Iterator[tuple[str, dict[str, Any]]]:
    """Each credential body of `az ad app federated-credential create --parameters '…'` and of
    the JSON blocks that hold one, from the docs."""
    for path in documents():
        text = path.read_text("utf-8")
        for body in re.findall(r"federated-credential create [^']*--parameters '(\{.*?\})'", text, re.DOTALL):
            yield path.name, json.loads(body.replace("\\\n", ""))
        for token in MarkdownIt().parse(text):
            if token.type == "fence" and token.info.strip() == "json" and '"issuer"' in token.content:
                yield path.name, json.loads(token.content)


def test_the_documented_federated_credentials_are_well_formed_and_name_real_service_accounts() -> None:
    """Entra ID accepts a wrong subject and fails only at sign-in (AADSTS70021), so the docs'
    credentials are checked here: name rules, one audience, a subject or an expression, and a
    Kubernetes subject naming a service account and namespace the overlays create."""
    found = list(federated_credentials())
    assert {where for where, _ in found} == {"gitops.md", "kubernetes.md"}
    accounts = set()
    for overlay in ("staging", "production"):
        for doc in render(f"deploy/kubernetes/overlays/{overlay}"):
            if doc["kind"] == "ServiceAccount":
                accounts.add(
                    f"system:serviceaccount:{doc['metadata']['namespace']}:{doc['metadata']['name']}"
                )
    kubernetes = set()
    for where, credential in found:
        assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{2,119}", credential["name"]), (where, credential)
        assert credential["audiences"] == ["api://AzureADTokenExchange"], where
        assert ("subject" in credential) != ("claimsMatchingExpression" in credential), where
        subject = credential.get("subject", "")
        if subject.startswith("system:serviceaccount:"):
            kubernetes.add(subject)
        elif subject:
            assert subject.startswith("repo:"), (where, subject)
        else:
            assert credential["issuer"] == "https://token.actions.githubusercontent.com"
            expression = credential["claimsMatchingExpression"]["value"]
            # Release tags only: a branch, or a fork's commit named through the repository, must not match.
            refs = re.findall(r"claims\['job_workflow_ref'\] matches '([^']*)'", expression)
            assert refs and all(ref.endswith("@refs/tags/v*") for ref in refs), expression
    assert kubernetes and kubernetes <= accounts, kubernetes - accounts
