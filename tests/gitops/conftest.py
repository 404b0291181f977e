"""Shared helpers of the GitOps tests: scratch git repositories, hand-made plans, a CLI runner.

Scratch repositories live in ``tmp_path`` and see no user or system git configuration, so a
developer's hooks, signing or default branch cannot change what the tests observe.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from reconciler.errors import ReconcileError
from reconciler.kinds.integration import IntegrationConfig
from reconciler.kinds.technician_settings import TechnicianSettings
from reconciler.plan import Create, Manual, Plan, TenantPlan, Update
from reconciler.plan.changes import FieldChange, UnknownChange
from reconciler.resources import LiveMeta

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_TENANTS = REPO / "tenants"


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str


def invoke(command: click.Command, *args: str, env: dict[str, str] | None = None) -> Run:
    """Run a click command in-process; a ReconcileError gives its exit code, as main() does."""
    result = CliRunner().invoke(command, list(args), standalone_mode=False, catch_exceptions=True, env=env)
    exc = result.exception
    if exc is not None and not isinstance(exc, SystemExit):
        if isinstance(exc, ReconcileError):
            return Run(exc.exit_code, result.stdout, result.stderr + exc.format() + "\n")
        if isinstance(exc, click.ClickException):  # usage errors: exit 1, as main() maps them
            return Run(1, result.stdout, result.stderr + exc.format_message() + "\n")
        raise exc
    code = result.return_value if isinstance(result.return_value, int) else result.exit_code
    return Run(code, result.stdout, result.stderr)


@pytest.fixture(autouse=True)
def isolated_git(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        monkeypatch.delenv(name, raising=False)


class ScratchRepo:
    """A git repository in a temporary folder, with the example tenants committed on main."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.git("init", "--quiet", "--initial-branch=main")
        self.git("config", "user.name", "Test")
        self.git("config", "user.email", "test@example.com")
        self.git("config", "commit.gpgsign", "false")

    def git(self, *args: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(self.root), *args], capture_output=True, text=True, check=True, timeout=60
        )
        return done.stdout.strip()

    def write(self, path: str, text: str = "x: 1\n") -> None:
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, "utf-8")

    def append(self, path: str, text: str) -> None:
        with (self.root / path).open("a", encoding="utf-8") as handle:
            handle.write(text)

    def remove(self, path: str) -> None:
        self.git("rm", "-r", "--quiet", path)

    def commit(self, message: str = "change") -> str:
        self.git("add", "--all")
        self.git("commit", "--quiet", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ScratchRepo:
    """A scratch repository holding a copy of the example tenants; the current folder is its root."""
    scratch = ScratchRepo(tmp_path / "repo")
    shutil.copytree(EXAMPLE_TENANTS, scratch.root / "tenants")
    scratch.write("README.md", "# tenants\n")
    scratch.commit("tenants")
    monkeypatch.chdir(scratch.root)
    return scratch


# Hand-made plans: the drift of one tenant, built from the plan's own types.


def integration_update(old: bool, new: bool, etag: str = 'W/"1"') -> Update:
    live = IntegrationConfig(close_ticket_on_session_end=old, meta=LiveMeta(id="row-1", etag=etag))
    desired = IntegrationConfig(close_ticket_on_session_end=new)
    return Update(
        kind="integration",
        key="configuration",
        depends_on=(),
        desired=desired,
        live=live,
        items=(FieldChange("close_ticket_on_session_end", old, new),),
    )


def technician_create(user: str, technician_id: str = "41004") -> Create:
    return Create(
        kind="technician",
        key=user,
        depends_on=(),
        desired=TechnicianSettings(user=user, technician_id=technician_id, sso_id=user.split("@")[0]),
    )


def manual_step(group: str = "Support/Tier 2") -> Manual:
    return Manual(
        kind="rescue_group",
        key=group,
        depends_on=(),
        title=f"Set 'Post session details to URL' for Rescue group {group}",
        reason="the Rescue API cannot read or write export settings",
        steps=("Sign in to the Admin Center.", "Enable 'Post session details to URL'."),
    )


def unknown(key: str = "alice@contoso.com") -> UnknownChange:
    return UnknownChange(kind="technician", key=key, depends_on=(), reason="read failed: 503")


def tenant_plan(name: str = "contoso", *changes: object, requests: int = 7, error: str = "") -> TenantPlan:
    return TenantPlan(
        tenant=name,
        desired_digest="d" * 64,
        changes=tuple(changes),  # type: ignore[arg-type]
        requests={"dataverse": {"requests": requests, "retries": 0}},
        error=error,
    )


def plan_of(*tenants: TenantPlan, created_at: str = "2026-01-01T00:00:00+00:00") -> Plan:
    return Plan(tenants=tenants, created_at=created_at, tool_version="0.1.0")
