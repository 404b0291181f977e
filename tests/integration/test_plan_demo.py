"""Issue 4 acceptance: the demo seed's drift, exactly, and nothing else; then apply converges."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from rescue_sandbox import SandboxHandle

from .conftest import EXAMPLE_TENANTS, control, invoke

EXPECTED = {
    "contoso": {
        ("update", "integration:configuration"),
        ("update", "application_user:1e2716f5-fee6-4370-a121-baea6d360668"),
        ("manual", "rescue_group:Support/Tier 2"),
        ("create", "technician:dave@contoso.com"),
        ("create", "technician:erin@contoso.com"),
    },
    "fabrikam": {
        ("action", "session_key:lmi_logmeinsession/lmi_sessionkey"),
        ("update", "rescue_technician:30213"),
    },
}


def _plan_json(handle: SandboxHandle, *extra: str) -> tuple[int, dict]:
    run = invoke("plan", str(EXAMPLE_TENANTS), "--sandbox", str(handle.state_dir), "--format", "json", *extra)
    return run.code, json.loads(run.stdout)


def test_demo_plan_shows_every_seeded_drift_and_nothing_else(shared_demo: SandboxHandle) -> None:
    code, plan = _plan_json(shared_demo, "--detailed-exitcode")
    assert code == 2
    got = {t["tenant"]: {(c["op"], c["id"]) for c in t["changes"]} for t in plan["tenants"]}
    assert got == EXPECTED
    contoso = next(t for t in plan["tenants"] if t["tenant"] == "contoso")
    update = next(c for c in contoso["changes"] if c["id"] == "integration:configuration")
    assert [(i["path"], i["before"], i["after"]) for i in update["items"]] == [
        ("close_ticket_on_session_end", True, False)
    ]
    assert not plan["incomplete"]


def test_manual_steps_alone_do_not_make_exit_2(demo_sandbox: SandboxHandle, tenants_copy: Path) -> None:
    assert (
        invoke(
            "apply", str(tenants_copy), "--sandbox", str(demo_sandbox.state_dir), "--auto-approve", "--force"
        ).code
        == 0
    )
    run = invoke("plan", str(tenants_copy), "--sandbox", str(demo_sandbox.state_dir), "--detailed-exitcode")
    assert run.code == 0, run.output
    assert "? Set 'Post session details to URL' for Rescue group Support/Tier 2" in run.stdout
    # A state changed by hand shows up in the next plan.
    control(
        demo_sandbox,
        "PATCH",
        "/tenants/fabrikam/dynamics/integration",
        {"fields": {"instance": "production"}},
    )
    run = invoke("drift", str(tenants_copy), "--sandbox", str(demo_sandbox.state_dir))
    assert run.code == 2
    assert 'instance: "production" -> "beta"' in run.stdout


def test_plan_file_is_private_and_holds_no_secret(shared_demo: SandboxHandle, tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    run = invoke("plan", str(EXAMPLE_TENANTS), "--sandbox", str(shared_demo.state_dir), "--out", str(out))
    assert run.code == 0
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    secrets = _secret_values(shared_demo)
    texts = [out.read_text(), run.output]
    for fmt in ("text", "markdown", "json"):
        texts.append(
            invoke(
                "plan", str(EXAMPLE_TENANTS), "--sandbox", str(shared_demo.state_dir), "--format", fmt
            ).output
        )
    for text in texts:
        for secret in secrets:
            assert secret not in text


def _secret_values(handle: SandboxHandle) -> list[str]:
    values = []
    for entry in handle.info["tenants"].values():
        values += [entry["client_secret"], entry["rescue_authcode"]]
        values += [v for v in entry.get("secrets", {}).values()]
    assert all(len(v) >= 6 for v in values)
    return values
