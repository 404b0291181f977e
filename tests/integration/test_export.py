"""Issue 6: export -> plan is empty, for the demo seed and a generated seed; secrets stay references."""

from __future__ import annotations

from pathlib import Path

import yaml

from reconciler.sandbox import SandboxHandle, generate, running_sandbox

from .conftest import invoke


def _export_all(root: Path, handle: SandboxHandle, names: list[str]) -> None:
    for name in names:
        run = invoke("export", "--tenant", name, str(root), "--overwrite", "--sandbox", str(handle.state_dir))
        assert run.code == 0, run.output


def test_export_round_trip_of_the_demo_seed_is_empty(shared_demo: SandboxHandle, tenants_copy: Path) -> None:
    _export_all(tenants_copy, shared_demo, ["contoso", "fabrikam"])
    exported = (tenants_copy / "fabrikam" / "tenant.yaml").read_text()
    data = yaml.safe_load(exported)
    # The profile override and the secret references survive; values never appear.
    assert data["profile"] == {"technician_settings": {"columns": {"sso_id": "lmi_rescuessoid"}}}
    assert data["integration"]["sso_password"] == {"file": "/etc/reconciler/fabrikam-sso-password"}
    for entry in shared_demo.info["tenants"].values():
        for secret in [entry["client_secret"], entry["rescue_authcode"], *entry.get("secrets", {}).values()]:
            assert secret not in exported
    # What cannot be expressed without a change is a comment, not a value.
    assert "# sso_id left out: Dynamics has 'gsmith', Rescue has 'g.smith'" in exported
    assert "# session_key is Failed now" in exported and data["session_key"] is None
    run = invoke("plan", str(tenants_copy), "--sandbox", str(shared_demo.state_dir), "--detailed-exitcode")
    assert run.code == 0, run.output
    assert "no changes" in run.stdout


def test_export_round_trip_of_a_generated_seed_is_empty(tmp_path: Path) -> None:
    generate(tmp_path, tenants=2, technicians=40, drift=0.3, rng_seed=7)
    tenants = tmp_path / "tenants"
    names = sorted(p.name for p in tenants.iterdir() if p.is_dir() and not p.name.startswith("_"))
    with running_sandbox(tmp_path / "seed.yaml") as handle:
        _export_all(tenants, handle, names)
        run = invoke("plan", str(tenants), "--sandbox", str(handle.state_dir), "--detailed-exitcode")
    assert run.code == 0, run.output


def test_export_to_stdout_for_a_tenant_without_a_file(shared_demo: SandboxHandle, tmp_path: Path) -> None:
    run = invoke(
        "export", "--tenant", "contoso", str(tmp_path), "--out", "-", "--sandbox", str(shared_demo.state_dir)
    )
    assert run.code == 0, run.output
    data = yaml.safe_load(run.stdout)
    assert data["tenant"] == "contoso"
    assert data["connection"]["dynamics"]["credential"] == {
        "client_secret": {"env": "CONTOSO_DYNAMICS_CLIENT_SECRET"}
    }
    assert data["connection"]["rescue"]["authcode"] == {"env": "CONTOSO_RESCUE_AUTHCODE"}
    users = [t["user"] for t in data["technicians"]]
    assert users == sorted(["alice@contoso.com", "bob@contoso.com", "carol@contoso.com"])
    carol = next(t for t in data["technicians"] if t["user"] == "carol@contoso.com")
    assert carol["rescue_email"] == "carol.jones@contoso.com"


def test_export_refuses_to_overwrite_without_the_flag(shared_demo: SandboxHandle, tenants_copy: Path) -> None:
    run = invoke("export", "--tenant", "contoso", str(tenants_copy), "--sandbox", str(shared_demo.state_dir))
    assert run.code == 1
    assert "--overwrite" in run.output


def test_export_refuses_to_write_beside_other_files_of_a_split_tenant(
    shared_demo: SandboxHandle, tenants_copy: Path
) -> None:
    (tenants_copy / "contoso" / "consent.yaml").write_text("consent:\n  check: true\n")
    before = (tenants_copy / "contoso" / "tenant.yaml").read_text()
    run = invoke(
        "export",
        "--tenant",
        "contoso",
        str(tenants_copy),
        "--overwrite",
        "--sandbox",
        str(shared_demo.state_dir),
    )
    assert run.code == 1
    assert "split across several files (consent.yaml)" in run.output
    assert (tenants_copy / "contoso" / "tenant.yaml").read_text() == before
