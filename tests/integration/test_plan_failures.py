"""Issue 4, "Bad input and failure": each failure gives a clear message naming the tenant and
what to fix, the right exit code, and never a delete.

Every case runs against the demo sandbox with the contoso tenant set to ``prune: technicians``,
so that a failure which dropped a declared technician from the desired side would turn into a
planned delete (the dangerous outcome) instead of staying invisible. Faults come from the
sandbox's fault spec; credentials and endpoints from an edited copy of sandbox.json (the tenant
file stays as in production, exactly how a wrong setting reaches the tool in sandbox mode).
"""

from __future__ import annotations

import copy
import json
import random
import shutil
from collections.abc import Callable, Iterator, MutableMapping
from pathlib import Path
from typing import Any

import pytest

from reconciler.profile import default_profile
from rescue_sandbox import SandboxHandle

from .conftest import EXAMPLE_TENANTS, Run, control, invoke

pytestmark = pytest.mark.integration

SETTINGS = default_profile().technician_settings
SETTINGS_PATH = f"/{SETTINGS.entity_set}"  # the request log's path template of the settings table
BASELINE = {  # contoso's plan when nothing fails (the demo seed's drift)
    ("update", "integration:configuration"),
    ("update", "application_user:1e2716f5-fee6-4370-a121-baea6d360668"),
    ("manual", "rescue_group:Support/Tier 2"),
    ("create", "technician:dave@contoso.com"),
    ("create", "technician:erin@contoso.com"),
}
DYNAMICS_KINDS = {"solution", "integration", "application_user", "session_key", "technician"}


@pytest.fixture(scope="module")
def pruning(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example tenants, contoso opted into pruning its technicians' settings rows."""
    target = tmp_path_factory.mktemp("pruning") / "tenants"
    _copy_tenants(target)
    return target


@pytest.fixture
def faults(shared_demo: SandboxHandle) -> Iterator[Callable[[str], None]]:
    """Set a fault spec on the shared sandbox (request log reset); cleared after the test."""

    def apply(spec: str) -> None:
        control(shared_demo, "POST", "/faults", {"spec": spec})
        control(shared_demo, "DELETE", "/requests")

    try:
        yield apply
    finally:
        control(shared_demo, "DELETE", "/faults")


def _copy_tenants(target: Path, edit: Callable[[str], str] = lambda text: text) -> Path:
    shutil.copytree(EXAMPLE_TENANTS, target)
    tenant = target / "contoso" / "tenant.yaml"
    tenant.write_text(edit(tenant.read_text("utf-8")) + "\nprune:\n  technicians: true\n", "utf-8")
    return target


def _plan(sandbox: Path, tenants: Path, out: Path, *extra: str) -> tuple[Run, dict[str, Any]]:
    """`reconcile plan` (text) that also saves the plan JSON; both are returned."""
    out.unlink(missing_ok=True)
    run = invoke("plan", str(tenants), "--sandbox", str(sandbox), "--out", str(out), *extra)
    assert out.is_file(), run.output
    return run, json.loads(out.read_text("utf-8"))


def _tenant(plan: dict[str, Any], name: str = "contoso") -> dict[str, Any]:
    return next(t for t in plan["tenants"] if t["tenant"] == name)


def _ops(tenant: dict[str, Any]) -> set[tuple[str, str]]:
    return {(c["op"], c["id"]) for c in tenant["changes"]}


def _assert_no_delete(plan: dict[str, Any]) -> None:
    deletes = [c["id"] for t in plan["tenants"] for c in t["changes"] if c["op"] == "delete"]
    assert deletes == [], deletes
    assert plan["totals"]["delete"] == 0


def _position(path: Path, text: str) -> str:
    """``file:line:col`` of the first occurrence of ``text`` (as the loader reports YAML values)."""
    for number, line in enumerate(path.read_text("utf-8").splitlines(), start=1):
        if text in line:
            return f"{path}:{number}:{line.index(text) + 1}"
    raise AssertionError(f"{text!r} not in {path}")


def _sandbox_variant(handle: SandboxHandle, tmp_path: Path, edit: Callable[[dict[str, Any]], None]) -> Path:
    """A copy of sandbox.json with contoso's entry edited (a wrong setting, as an admin would make)."""
    info = copy.deepcopy(handle.info)
    edit(info["tenants"]["contoso"])
    path = tmp_path / "sandbox.json"
    path.write_text(json.dumps(info), "utf-8")
    return path


# -- credentials and endpoints ----------------------------------------------------------------


def test_wrong_client_secret_fails_that_tenant_only(
    shared_demo: SandboxHandle, pruning: Path, tmp_path: Path
) -> None:
    wrong = "not-the-secret-Qx7v9"
    sandbox = _sandbox_variant(shared_demo, tmp_path, lambda t: t.__setitem__("client_secret", wrong))
    run, plan = _plan(sandbox, pruning, tmp_path / "plan.json")
    assert run.code == 1, run.output
    contoso = _tenant(plan)
    assert "[contoso]" in contoso["error"]
    assert "AADSTS7000215" in contoso["error"] and "connection.dynamics.credential" in contoso["error"]
    assert "Tenant contoso: failed" in run.stdout
    assert contoso["changes"] == []
    assert wrong not in run.output and wrong not in json.dumps(plan)
    # The other tenant is planned as usual.
    assert not _tenant(plan, "fabrikam")["error"] and _tenant(plan, "fabrikam")["changes"]
    _assert_no_delete(plan)


def test_unknown_org_names_the_org_url_setting(
    shared_demo: SandboxHandle, pruning: Path, tmp_path: Path
) -> None:
    def unknown_org(entry: MutableMapping[str, Any]) -> None:
        entry["dataverse_url"] = f"{shared_demo.url}/dataverse/nosuchorg.crm.dynamics.com"

    run, plan = _plan(_sandbox_variant(shared_demo, tmp_path, unknown_org), pruning, tmp_path / "plan.json")
    assert run.code == 1, run.output
    contoso = _tenant(plan)
    assert "[contoso]" in contoso["error"] and "nosuchorg.crm.dynamics.com" in contoso["error"]
    assert "connection.dynamics.org_url" in contoso["error"]
    assert contoso["changes"] == []
    _assert_no_delete(plan)


def test_revoked_rescue_authcode_says_how_to_regenerate_it(
    shared_demo: SandboxHandle, pruning: Path, tmp_path: Path
) -> None:
    # Revoke the API token the way the Rescue Admin Center does: the company forgets it.
    company = shared_demo.sandbox.tenants["contoso"].rescue
    code = str(shared_demo.info["tenants"]["contoso"]["rescue_authcode"])
    with company.lock:
        owner = company.api_tokens.pop(code)
    try:
        run, plan = _plan(shared_demo.state_dir, pruning, tmp_path / "plan.json")
    finally:
        with company.lock:
            company.api_tokens[code] = owner
    assert run.code == 1, run.output
    error = _tenant(plan)["error"]
    assert "[contoso] rescue" in error and "INVALID_SECRETAUTHCODE" in error
    assert "connection.rescue.authcode" in error
    assert _tenant(plan)["changes"] == []
    assert code not in run.output and code not in json.dumps(plan)
    _assert_no_delete(plan)


# -- failed reads: Unknown, exit 3, no create or delete of what could not be read --------------


def test_403_on_a_table_names_the_missing_privilege(
    shared_demo: SandboxHandle, pruning: Path, tmp_path: Path, faults: Callable[[str], None]
) -> None:
    # The application user's roles lack read access to the settings table: Dataverse answers its
    # listing with 403 / 0x80040220 naming prvRead<table> (the sandbox's ``403`` fault).
    faults(f"dataverse:403=1,method=GET,path={SETTINGS_PATH}")
    run, plan = _plan(shared_demo.state_dir, pruning, tmp_path / "plan.json", "--tenant", "contoso")
    log = control(shared_demo, "GET", "/requests?tenant=contoso&service=dataverse")
    assert {e["status"] for e in log["entries"] if e["template"] == SETTINGS_PATH} == {403}
    assert run.code == 3, run.output
    contoso = _tenant(plan)
    unknown = {c["key"]: c["reason"] for c in contoso["changes"] if c["op"] == "unknown"}
    assert set(unknown) == {f"{u}@contoso.com" for u in ("alice", "bob", "carol", "dave", "erin")}
    reason = unknown["alice@contoso.com"]
    assert "[contoso] dataverse" in reason
    assert f"lacks privilege prvRead{SETTINGS.table} on table '{SETTINGS.table}'" in reason
    assert "add it to the user's security role" in reason
    assert f"unknown technician settings alice@contoso.com: {reason}" in run.stdout
    # The rest of the tenant is planned as usual; nothing is created or deleted for technicians.
    assert _ops(contoso) - {("unknown", f"technician:{k}") for k in unknown} == BASELINE - {
        ("create", "technician:dave@contoso.com"),
        ("create", "technician:erin@contoso.com"),
    }
    _assert_no_delete(plan)


def test_a_failed_table_read_is_unknown_and_exits_3(
    shared_demo: SandboxHandle, pruning: Path, tmp_path: Path, faults: Callable[[str], None]
) -> None:
    faults(f"dataverse:500=1,method=GET,path={SETTINGS_PATH}")
    run, plan = _plan(shared_demo.state_dir, pruning, tmp_path / "plan.json", "--tenant", "contoso")
    assert run.code == 3, run.output
    contoso = _tenant(plan)
    assert contoso["incomplete"] and plan["totals"]["unknown"] == 5
    technician_ops = {c["op"] for c in contoso["changes"] if c["kind"] == "technician"}
    assert technician_ops == {"unknown"}
    assert all("HTTP 500 (0x80040216)" in c["reason"] for c in contoso["changes"] if c["op"] == "unknown")
    assert "Tenant contoso: incomplete" in run.stdout
    _assert_no_delete(plan)


def test_a_failed_rescue_read_blocks_only_that_technician(
    shared_demo: SandboxHandle, pruning: Path, tmp_path: Path, faults: Callable[[str], None]
) -> None:
    faults("rescue:500=1,path=getUser_v3.aspx,count=1")
    run, plan = _plan(shared_demo.state_dir, pruning, tmp_path / "plan.json", "--tenant", "contoso")
    assert run.code == 3, run.output
    contoso = _tenant(plan)
    unknown = [c for c in contoso["changes"] if c["op"] == "unknown"]
    assert [c["kind"] for c in unknown] == ["rescue_technician"]
    assert "[contoso] rescue: getUser_v3" in unknown[0]["reason"]
    assert _ops(contoso) - {(u["op"], u["id"]) for u in unknown} == BASELINE
    _assert_no_delete(plan)


def test_an_unreadable_rescue_hierarchy_leaves_every_technician_unknown(
    shared_demo: SandboxHandle, pruning: Path, tmp_path: Path, faults: Callable[[str], None]
) -> None:
    faults("rescue:500=1,path=getHierarchy_v2.aspx")
    run, plan = _plan(shared_demo.state_dir, pruning, tmp_path / "plan.json", "--tenant", "contoso")
    assert run.code == 3, run.output
    contoso = _tenant(plan)
    by_kind: dict[str, set[str]] = {}
    for change in contoso["changes"]:
        by_kind.setdefault(change["kind"], set()).add(change["op"])
    assert by_kind["technician"] == {"unknown"} and by_kind["rescue_group"] == {"unknown"}
    assert all(
        "Rescue hierarchy could not be read" in c["reason"]
        for c in contoso["changes"]
        if c["op"] == "unknown"
    )
    # Their live settings rows are declared in the tenant file: neither unmanaged nor pruned.
    assert contoso["unmanaged"] == []
    _assert_no_delete(plan)


# -- throttling ----------------------------------------------------------------------------------


def test_a_429_storm_that_passes_is_waited_out(
    shared_demo: SandboxHandle, pruning: Path, tmp_path: Path, faults: Callable[[str], None]
) -> None:
    faults("dataverse:429=1,retry_after=1,count=4")
    run, plan = _plan(
        shared_demo.state_dir, pruning, tmp_path / "plan.json", "--tenant", "contoso", "--detailed-exitcode"
    )
    assert run.code == 2, run.output
    contoso = _tenant(plan)
    assert _ops(contoso) == BASELINE and not contoso["incomplete"]
    assert contoso["requests"]["dataverse"]["retries"] == 4
    log = control(shared_demo, "GET", "/requests?tenant=contoso&service=dataverse")
    assert sum(c["statuses"].get("429", 0) for c in log["counts"]) == 4
    # Every request the client counted reached the sandbox, and nothing else did.
    assert log["total"] == contoso["requests"]["dataverse"]["requests"]


def test_a_429_storm_that_persists_gives_up_as_unknown(
    shared_demo: SandboxHandle,
    pruning: Path,
    tmp_path: Path,
    faults: Callable[[str], None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RECONCILE_MAX_RETRIES", "2")
    faults("dataverse:429=1,retry_after=0")
    run, plan = _plan(shared_demo.state_dir, pruning, tmp_path / "plan.json", "--tenant", "contoso")
    assert run.code == 3, run.output
    contoso = _tenant(plan)
    for change in contoso["changes"]:
        if change["kind"] in DYNAMICS_KINDS:
            assert change["op"] == "unknown", change
            assert "[contoso] dataverse" in change["reason"]
            assert "still throttled after 3 attempts" in change["reason"]
    assert {c["kind"] for c in contoso["changes"] if c["op"] == "unknown"} == DYNAMICS_KINDS
    # Retries are bounded: every Dataverse read was tried exactly 1 + 2 times.
    log = control(shared_demo, "GET", "/requests?tenant=contoso&service=dataverse")
    assert {c["template"]: c["count"] for c in log["counts"]} == {
        "/EntityDefinitions({key})": 9,  # the schema check: three tables, each tried 1 + 2 times
        "/solutions": 3,
        "/lmi_rescueconfigurations": 3,
        "/businessunits": 3,
        "/EntityDefinitions({key})/Keys": 3,
        SETTINGS_PATH: 3,
    }
    _assert_no_delete(plan)


# -- a connection dropped in the middle of a paged listing --------------------------------------


def _second_request_seed() -> int:
    """A fault seed whose first draw spares a request and whose second drops one (drop=0.5)."""
    for seed in range(1000):
        rng = random.Random(seed)
        if rng.random() >= 0.5 > rng.random():
            return seed
    raise AssertionError("no such seed")


def _settings_statuses(handle: SandboxHandle) -> list[int]:
    log = control(handle, "GET", "/requests?tenant=contoso&service=dataverse")
    return [e["status"] for e in log["entries"] if e["template"] == SETTINGS_PATH]


@pytest.fixture
def mid_page_drop(faults: Callable[[str], None], monkeypatch: pytest.MonkeyPatch) -> Callable[[int], None]:
    """Pages of 2 rows (contoso's 3 settings rows take 2 pages); the second page's request is
    dropped once (``count=1``) or every time."""
    monkeypatch.setenv("RECONCILE_PAGE_SIZE", "2")

    def apply(count: int) -> None:
        faults(
            f"dataverse:drop=0.5,method=GET,path={SETTINGS_PATH},count={count};seed={_second_request_seed()}"
        )

    return apply


def test_a_dropped_connection_mid_page_is_retried_and_nothing_is_lost(
    shared_demo: SandboxHandle, pruning: Path, tmp_path: Path, mid_page_drop: Callable[[int], None]
) -> None:
    mid_page_drop(1)
    run, plan = _plan(shared_demo.state_dir, pruning, tmp_path / "plan.json", "--tenant", "contoso")
    assert _settings_statuses(shared_demo) == [200, 0, 200]  # page 1, page 2 dropped, page 2 again
    assert run.code == 0, run.output
    contoso = _tenant(plan)
    # carol's row is on the second page: losing it would plan a create for her.
    assert _ops(contoso) == BASELINE
    assert contoso["requests"]["dataverse"]["retries"] == 1


def test_a_connection_that_keeps_dropping_mid_page_is_unknown(
    shared_demo: SandboxHandle,
    pruning: Path,
    tmp_path: Path,
    mid_page_drop: Callable[[int], None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RECONCILE_MAX_RETRIES", "0")
    mid_page_drop(1)
    run, plan = _plan(shared_demo.state_dir, pruning, tmp_path / "plan.json", "--tenant", "contoso")
    assert _settings_statuses(shared_demo) == [200, 0]
    assert run.code == 3, run.output
    contoso = _tenant(plan)
    technicians = [c for c in contoso["changes"] if c["kind"] == "technician"]
    assert {c["op"] for c in technicians} == {"unknown"} and len(technicians) == 5
    assert all("[contoso] dataverse" in c["reason"] for c in technicians)
    assert all("connection failed after 1 attempts" in c["reason"] for c in technicians)
    _assert_no_delete(plan)


# -- references that resolve to nothing ---------------------------------------------------------


def test_a_technician_email_missing_in_rescue_is_a_located_problem(
    shared_demo: SandboxHandle, tmp_path: Path
) -> None:
    tenants = _copy_tenants(
        tmp_path / "tenants",
        lambda text: text.replace(
            "  - user: alice@contoso.com\n",
            "  - user: alice@contoso.com\n    rescue_email: alice.nobody@contoso.com\n",
        ),
    )
    run, plan = _plan(shared_demo.state_dir, tenants, tmp_path / "plan.json", "--tenant", "contoso")
    assert run.code == 3, run.output
    contoso = _tenant(plan)
    tenant_file = tenants / "contoso" / "tenant.yaml"
    assert len(contoso["problems"]) == 1
    problem = contoso["problems"][0]
    assert problem.startswith(_position(tenant_file, "alice.nobody@contoso.com") + ": ")
    assert "technicians.0: no Rescue technician has email 'alice.nobody@contoso.com'" in problem
    assert f"problem: {problem}" in run.stdout
    # alice's live settings row stays: not planned, not unmanaged, and (despite prune) not deleted.
    assert not any(c["key"] == "alice@contoso.com" for c in contoso["changes"])
    assert not any(u["key"] == "alice@contoso.com" for u in contoso["unmanaged"])
    assert _ops(contoso) == BASELINE
    _assert_no_delete(plan)


def test_a_dynamics_user_that_does_not_exist_is_a_located_problem(
    shared_demo: SandboxHandle, tmp_path: Path
) -> None:
    tenants = _copy_tenants(
        tmp_path / "tenants",
        lambda text: text.replace(
            "  - user: erin@contoso.com\n",
            "  - user: erin.evans@contoso.com\n    rescue_email: erin@contoso.com\n",
        ),
    )
    run, plan = _plan(shared_demo.state_dir, tenants, tmp_path / "plan.json", "--tenant", "contoso")
    assert run.code == 3, run.output
    contoso = _tenant(plan)
    tenant_file = tenants / "contoso" / "tenant.yaml"
    assert contoso["problems"] == [
        f"{_position(tenant_file, 'erin.evans@contoso.com')}: technicians.4.user: no Dynamics user with UPN 'erin.evans@contoso.com' "
        "(check the spelling, or that the user exists and is licensed)"
    ]
    assert f"problem: {contoso['problems'][0]}" in run.stdout
    # No settings row is planned for a user who does not exist; the rest is as usual.
    assert _ops(contoso) == BASELINE - {("create", "technician:erin@contoso.com")}
    _assert_no_delete(plan)


def test_a_bad_hidden_client_setting_is_bad_input(
    shared_demo: SandboxHandle, pruning: Path, monkeypatch: pytest.MonkeyPatch, faults: Callable[[str], None]
) -> None:
    """Refused before any request: the request log stays empty."""
    faults("")
    for value, message in (
        ("9000", "RECONCILE_PAGE_SIZE: client settings: page_size must be between 1 and 5000"),
        ("lots", "RECONCILE_PAGE_SIZE='lots' is not a valid int"),
    ):
        monkeypatch.setenv("RECONCILE_PAGE_SIZE", value)
        run = invoke("plan", str(pruning), "--sandbox", str(shared_demo.state_dir))
        assert run.code == 1 and message in run.output, run.output
    assert control(shared_demo, "GET", "/requests")["total"] == 0
