"""`reconcile gitops secret-env`: exactly the tenant's secrets go to $GITHUB_ENV, none printed."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from reconciler.cli.gitops_cmd import gitops
from reconciler.gitops import MAX_JOB_SECRETS

from .conftest import EXAMPLE_TENANTS, Run, invoke

PEM = "-----BEGIN PRIVATE KEY-----\nMIIEv...\nabc\n-----END PRIVATE KEY-----"
SECRETS = {
    "CONTOSO_DYNAMICS_CLIENT_SECRET": "dyn-s3cret",
    "CONTOSO_RESCUE_AUTHCODE": "authcode-123",
    "CONTOSO_RESCUE_SSO_PASSWORD": PEM,  # multi-line, as a PEM key would be
    "CONTOSO_RESCUE_ADMIN_PASSWORD": "adm-pass",  # connection.rescue.reports (health)
    "FABRIKAM_RESCUE_AUTHCODE": "other-tenant-secret",
    "github_token": "ghs_not_for_reconcile",
}


def read_github_env(path: Path) -> dict[str, str]:
    """Parse the $GITHUB_ENV format as the runner does (NAME=value and NAME<<DELIM blocks)."""
    values: dict[str, str] = {}
    lines = path.read_text("utf-8").split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if match := re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)<<(.+)", line):
            end = lines.index(match[2], i + 1)
            values[match[1]] = "\n".join(lines[i + 1 : end])
            i = end + 1
            continue
        if "=" in line:
            name, value = line.split("=", 1)
            values[name] = value
        i += 1
    return values


@pytest.fixture
def tenants(tmp_path: Path) -> Path:
    target = tmp_path / "tenants"
    shutil.copytree(EXAMPLE_TENANTS, target)
    return target


def job_slots(tenants: Path, names: tuple[str, ...], secrets: dict[str, str]) -> dict[str, str]:
    """What the workflow does: `secret-names`, then RECONCILE_SECRET_<i>: secrets[name_<i>]."""
    args = [arg for name in names for arg in ("--tenant", name)]
    listed = invoke(gitops, "secret-names", str(tenants), *args)
    assert listed.code == 0, listed.stderr
    outputs = dict(line.split("=", 1) for line in listed.stdout.splitlines())
    assert list(outputs) == [f"name_{i}" for i in range(1, MAX_JOB_SECRETS + 1)]
    by_name = {k.upper(): v for k, v in secrets.items()}  # GitHub's secret names are upper-case
    return {f"RECONCILE_SECRET_{k[5:]}": by_name.get(v.upper(), "") for k, v in outputs.items() if v}


def run_secret_env(
    tenants: Path,
    github_env: Path,
    *names: str,
    environ: dict[str, str] | None = None,
    secrets: dict[str, str] | None = None,
) -> Run:
    slots = job_slots(tenants, names, SECRETS if secrets is None else secrets)
    env = {**slots, "GITHUB_ENV": str(github_env), **(environ or {})}
    args = [arg for name in names for arg in ("--tenant", name)]
    return invoke(gitops, "secret-env", str(tenants), *args, env=env)


def test_only_the_tenants_own_secrets_are_handed_on(tenants: Path, tmp_path: Path) -> None:
    github_env = tmp_path / "github_env"
    github_env.write_text("EARLIER=1\n", "utf-8")
    run = run_secret_env(tenants, github_env, "contoso")
    assert run.code == 0, run.stderr
    values = read_github_env(github_env)
    assert values == {
        "EARLIER": "1",
        "CONTOSO_DYNAMICS_CLIENT_SECRET": "dyn-s3cret",
        "CONTOSO_RESCUE_AUTHCODE": "authcode-123",
        "CONTOSO_RESCUE_SSO_PASSWORD": PEM,
        "CONTOSO_RESCUE_ADMIN_PASSWORD": "adm-pass",
    }
    output = run.stdout + run.stderr
    for value in SECRETS.values():
        assert value not in output
    assert "CONTOSO_RESCUE_AUTHCODE" in run.stderr


def test_variables_already_set_win_and_file_references_are_noted(tenants: Path, tmp_path: Path) -> None:
    github_env = tmp_path / "github_env"
    run = run_secret_env(
        tenants, github_env, "fabrikam", environ={"FABRIKAM_RESCUE_AUTHCODE": "from-the-job"}
    )
    assert run.code == 0, run.stderr
    assert read_github_env(github_env) == {}
    assert "already set in the environment: FABRIKAM_RESCUE_AUTHCODE" in run.stderr
    assert "/etc/reconciler/fabrikam.key.pem" in run.stderr


def test_federated_token_file_comes_from_the_oidc_step(tenants: Path, tmp_path: Path) -> None:
    tenant = tenants / "contoso" / "tenant.yaml"
    text = tenant.read_text("utf-8").replace(
        "client_secret: {env: CONTOSO_DYNAMICS_CLIENT_SECRET}",
        "federated_token_file: {env: AZURE_FEDERATED_TOKEN_FILE}",
    )
    tenant.write_text(text, "utf-8")
    github_env = tmp_path / "github_env"
    missing = run_secret_env(tenants, github_env, "contoso")
    assert missing.code == 1
    assert "secret AZURE_FEDERATED_TOKEN_FILE is not set" in missing.stderr
    assert "tenant.yaml:" in missing.stderr
    assert not github_env.exists()  # nothing half-written
    token = tmp_path / "token"
    ok = run_secret_env(tenants, github_env, "contoso", environ={"AZURE_FEDERATED_TOKEN_FILE": str(token)})
    assert ok.code == 0, ok.stderr
    assert set(read_github_env(github_env)) == {
        "CONTOSO_RESCUE_AUTHCODE",
        "CONTOSO_RESCUE_SSO_PASSWORD",
        "CONTOSO_RESCUE_ADMIN_PASSWORD",
    }


def test_missing_secrets_are_named_with_the_yaml_key(tenants: Path, tmp_path: Path) -> None:
    github_env = tmp_path / "github_env"
    run = run_secret_env(tenants, github_env, "contoso", secrets={"CONTOSO_RESCUE_AUTHCODE": "x"})
    assert run.code == 1
    assert (
        "connection.dynamics.credential.client_secret: secret CONTOSO_DYNAMICS_CLIENT_SECRET is not set"
        in run.stderr
    )
    assert "integration.sso_password" in run.stderr
    assert not github_env.exists()


def test_secret_names_lists_only_the_jobs_own_names(tenants: Path) -> None:
    listed = invoke(gitops, "secret-names", str(tenants), "--tenant", "contoso")
    assert listed.stdout.splitlines() == [
        "name_1=CONTOSO_DYNAMICS_CLIENT_SECRET",
        "name_2=CONTOSO_RESCUE_AUTHCODE",
        "name_3=CONTOSO_RESCUE_ADMIN_PASSWORD",
        "name_4=CONTOSO_RESCUE_SSO_PASSWORD",
        "name_5=",
        "name_6=",
    ]
    # Another tenant's secret in contoso's file never becomes a name to ask GitHub for.
    tenant = tenants / "contoso" / "tenant.yaml"
    tenant.write_text(
        tenant.read_text("utf-8").replace("CONTOSO_RESCUE_AUTHCODE", "FABRIKAM_RESCUE_AUTHCODE")
    )
    refused = invoke(gitops, "secret-names", str(tenants), "--tenant", "contoso")
    assert refused.code == 1 and refused.stdout == ""
    assert "secret 'FABRIKAM_RESCUE_AUTHCODE' is not this tenant's" in refused.stderr


def test_no_github_env(tenants: Path, tmp_path: Path) -> None:
    no_target = invoke(gitops, "secret-env", str(tenants), "--tenant", "contoso", env={"GITHUB_ENV": ""})
    assert no_target.code != 0
    assert "--github-env" in no_target.stderr
