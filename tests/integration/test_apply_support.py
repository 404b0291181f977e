"""Helpers shared by the apply tests (this module holds no tests of its own).

The apply tests judge the product by what the sandbox saw and holds, not by what the product
says about itself: writes are counted in the sandbox's request log, duplicates are counted in its
state dump, and the expected end state is computed independently from the tenant file.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.cli import apply_cmd, plan_cmd
from reconciler.engine.applier import ApplyOptions
from reconciler.engine.planner import RunOptions
from reconciler.providers.http import ClientSettings
from rescue_sandbox import SandboxHandle, generate
from rescue_sandbox.dataverse.solution_schema import schema_from_seed

from .conftest import control

# Rescue API methods that change something (every Rescue call is a POST, so the name decides).
RESCUE_WRITES = frozenset(
    {
        "createGroup.aspx",
        "setGroup.aspx",
        "setGroup_v2.aspx",
        "createUser.aspx",
        "createUsers.aspx",
        "setUser.aspx",
        "setUser_v2.aspx",
        "setUserStatus.aspx",
        "deleteNode.aspx",
        "moveNode.aspx",
    }
)

# Retries and backoff in milliseconds, so fault tests stay fast; the logic is the product's own.
FAST = ClientSettings(timeout=20.0, max_retries=10, backoff_base=0.01, backoff_cap=0.1, max_retry_after=0.2)


POLL_INTERVAL = 0.05  # Session Key status polls (the CLI's default is 2 s)


@contextmanager
def client_settings(monkeypatch: pytest.MonkeyPatch, settings: ClientSettings = FAST) -> Iterator[None]:
    """Run `reconcile plan/apply` in-process with these client settings and a short Session Key
    poll interval (the CLI has no flags for either)."""

    def options(**kwargs: Any) -> RunOptions:
        return RunOptions(settings=settings, **kwargs)

    def apply_options(**kwargs: Any) -> ApplyOptions:
        return ApplyOptions(**{"poll_interval": POLL_INTERVAL, **kwargs})

    with monkeypatch.context() as patch:
        patch.setattr(apply_cmd, "RunOptions", options)
        patch.setattr(apply_cmd, "ApplyOptions", apply_options)
        patch.setattr(plan_cmd, "RunOptions", options)
        yield


def is_write(entry: dict[str, Any]) -> bool:
    """Does this request-log entry change live state? (token requests and reads do not)."""
    if entry["service"] == "dataverse":
        return str(entry["method"]).upper() in ("POST", "PATCH", "PUT", "DELETE")
    if entry["service"] == "rescue":
        return entry["template"] in RESCUE_WRITES
    return False


def log_entries(handle: SandboxHandle, tenant: str | None = None) -> list[dict[str, Any]]:
    query = f"?tenant={tenant}" if tenant else ""
    return list(control(handle, "GET", f"/requests{query}")["entries"])


def writes(handle: SandboxHandle, tenant: str | None = None) -> list[dict[str, Any]]:
    return [e for e in log_entries(handle, tenant) if is_write(e)]


def reset_log(handle: SandboxHandle) -> None:
    control(handle, "DELETE", "/requests")


def set_faults(handle: SandboxHandle, spec: str) -> None:
    control(handle, "POST", "/faults", {"spec": spec})


def clear_faults(handle: SandboxHandle) -> None:
    control(handle, "DELETE", "/faults")


@dataclass(frozen=True)
class LiveView:
    """What one sandbox tenant holds, as the checks need it."""

    settings: dict[str, list[dict[str, Any]]]  # domainname -> its settings rows
    technicians: dict[str, list[dict[str, Any]]]  # lower-case email -> Rescue technician nodes
    sso_column: str
    technician_column: str

    def duplicated_settings(self) -> dict[str, int]:
        return {user: len(rows) for user, rows in self.settings.items() if len(rows) > 1}

    def duplicated_technicians(self) -> dict[str, int]:
        return {email: len(nodes) for email, nodes in self.technicians.items() if len(nodes) > 1}

    def row(self, user: str) -> dict[str, Any] | None:
        rows = self.settings.get(user.lower(), [])
        return rows[0] if rows else None

    def node(self, email: str) -> dict[str, Any] | None:
        nodes = self.technicians.get(email.lower(), [])
        return nodes[0] if nodes else None


def live_view(handle: SandboxHandle, tenant: str) -> LiveView:
    state = control(handle, "GET", f"/tenants/{tenant}/state")
    ts = schema_from_seed(state.get("solution_schema")).technician_settings
    tables = state["dataverse"]["tables"]
    users = {str(u["systemuserid"]).lower(): str(u["domainname"]).lower() for u in tables["systemuser"]}
    settings: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in tables.get(ts.table, []):
        owner = str(row.get(ts.user_value_column) or "").lower()
        settings[users.get(owner, f"(unknown user {owner})")].append(row)
    technicians: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for node in state["rescue"]["nodes"]:
        if node["type"] == "Technician":
            technicians[str(node["email"]).lower()].append(node)
    return LiveView(dict(settings), dict(technicians), ts.columns["sso_id"], ts.columns["technician_id"])


def assert_no_duplicates(handle: SandboxHandle, tenants: list[str]) -> None:
    for tenant in tenants:
        view = live_view(handle, tenant)
        assert view.duplicated_settings() == {}, f"{tenant}: duplicated settings rows"
        assert view.duplicated_technicians() == {}, f"{tenant}: duplicated Rescue technicians"


def assert_matches_tenant_file(handle: SandboxHandle, tenant_file: Path) -> None:
    """An oracle independent of the planner: every declared mapping is live, on both sides."""
    data = yaml.safe_load(tenant_file.read_text("utf-8"))
    view = live_view(handle, data["tenant"])
    for tech in data.get("technicians", []):
        email = tech.get("rescue_email") or tech["user"]
        node = view.node(email)
        assert node is not None, f"no Rescue technician {email}"
        row = view.row(tech["user"])
        assert row is not None, f"no settings row for {tech['user']}"
        assert row[view.technician_column] == str(node["node_id"]), tech["user"]
        if tech.get("sso_id") is not None:
            assert row[view.sso_column] == tech["sso_id"], tech["user"]
            assert node["ssoid"] == tech["sso_id"], email


def generated_tenants(out: Path, *, tenants: int, technicians: int, drift: float, rng_seed: int) -> Path:
    """A generated seed + tenants tree in ``out``; returns the seed file."""
    generate(out, tenants=tenants, technicians=technicians, drift=drift, rng_seed=rng_seed)
    return out / "seed.yaml"


def tenant_names(tenants_dir: Path) -> list[str]:
    return sorted(p.name for p in tenants_dir.iterdir() if (p / "tenant.yaml").is_file())


def plan_json(run_stdout: str) -> dict[str, Any]:
    data = json.loads(run_stdout)
    assert isinstance(data, dict)
    return data


def actionable(plan: dict[str, Any]) -> dict[str, list[tuple[str, str]]]:
    """Per tenant, the (op, id) of every change other than a manual step."""
    return {
        t["tenant"]: [(c["op"], c["id"]) for c in t["changes"] if c["op"] != "manual"]
        for t in plan["tenants"]
    }


# -- generated scenarios with random desired and live states (property-based tests) ------------

EDITS = ("keep", "drop", "no_sso", "new_sso", "create", "create_in_new_group")
OPTIONS = (
    "require_active_technician_console",
    "close_ticket_on_session_end",
    "reassign_case_on_session_start",
    "do_not_pass_custom_field_1",
)
NEW_GROUP = "Support/Extra"


@dataclass(frozen=True)
class Scenario:
    """One tenant: a generated live state (drift, rng seed) and edits to its desired state."""

    edits: tuple[str, ...]  # per technician, one of EDITS
    drift: float
    rng_seed: int
    options: tuple[bool | None, ...]  # desired options; None = not managed
    prune: bool = False
    remove_role: bool = False
    key_failed: bool = False

    @property
    def technicians(self) -> int:
        return len(self.edits)

    def with_edits(self, edits: tuple[str, ...]) -> Scenario:
        return replace(self, edits=edits)


def build_scenario(scenario: Scenario, out: Path) -> tuple[dict[str, Any], Path]:
    """(seed, tenant file) for the scenario; the tenants tree is in ``out/tenants``."""
    seed_file = generated_tenants(
        out, tenants=1, technicians=scenario.technicians, drift=scenario.drift, rng_seed=scenario.rng_seed
    )
    seed = json.loads(seed_file.read_text("utf-8"))
    tenant_file = out / "tenants" / "tenant001" / "tenant.yaml"
    data = yaml.safe_load(tenant_file.read_text("utf-8"))
    rescue_groups = seed["tenants"]["tenant001"]["rescue"]["groups"][0]["children"]
    kept: list[dict[str, Any]] = []
    for tech, edit in zip(data["technicians"], scenario.edits, strict=True):
        if edit == "drop":
            continue
        if edit == "no_sso":
            tech.pop("sso_id", None)
        elif edit == "new_sso":
            tech["sso_id"] = f"{tech['sso_id']}-new"
        elif edit in ("create", "create_in_new_group"):
            for group in rescue_groups:
                group["technicians"] = [t for t in group["technicians"] if t["email"] != tech["user"]]
            group_path = NEW_GROUP if edit == "create_in_new_group" else "Support/Team 01"
            tech["create"] = {"group": group_path, "name": tech["user"].split("@")[0].title()}
        kept.append(tech)
    data["technicians"] = kept
    if "create_in_new_group" in scenario.edits:
        data["rescue_groups"].append({"path": NEW_GROUP})
    options = data["integration"]["options"]
    for name, value in zip(OPTIONS, scenario.options, strict=True):
        if value is None:
            options.pop(name, None)
        else:
            options[name] = value
    if scenario.prune:
        data["prune"] = {"technicians": True}
    tenant_file.write_text(yaml.safe_dump(data, sort_keys=False), "utf-8")
    return seed, tenant_file


def apply_hand_edits(handle: SandboxHandle, scenario: Scenario) -> None:
    """Live changes made "by hand" before the run (as a person in an admin console)."""
    if scenario.remove_role:
        control(
            handle, "DELETE", "/tenants/tenant001/dynamics/application-user/roles/LogMeIn Integration User"
        )
    if scenario.key_failed:
        control(
            handle,
            "POST",
            "/tenants/tenant001/dynamics/session-key",
            {"status": "Failed", "error": "The index creation job was canceled because of a SQL timeout."},
        )


def settings_users(handle: SandboxHandle, tenant: str) -> Counter[str]:
    """How many settings rows each user has."""
    return Counter({user: len(rows) for user, rows in live_view(handle, tenant).settings.items()})
