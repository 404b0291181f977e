"""Issue 6: export -> plan is empty, for the demo seed and a generated seed; secrets stay references."""

from __future__ import annotations

from pathlib import Path

import yaml

from rescue_sandbox import SandboxHandle, generate, running_sandbox

from .conftest import control, invoke


def _export_all(root: Path, handle: SandboxHandle, names: list[str]) -> None:
    """Replace each tenant file by its export (onboarding: `--out -`, not the merge of --overwrite)."""
    for name in names:
        run = invoke("export", "--tenant", name, str(root), "--out", "-", "--sandbox", str(handle.state_dir))
        assert run.code == 0, run.output
        (root / name / "tenant.yaml").write_text(run.stdout)


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
    assert (
        "#   client secret {env: CONTOSO_DYNAMICS_CLIENT_SECRET}, authcode {env: CONTOSO_RESCUE_AUTHCODE}, "
        "SSO password {env: CONTOSO_RESCUE_SSO_PASSWORD}" in run.stdout
    )
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


def _comments(text: str) -> list[str]:
    return [line.split("#", 1)[1].strip() for line in text.splitlines() if "#" in line and "://" not in line]


def test_accepting_drift_keeps_what_only_a_person_knows(
    demo_sandbox: SandboxHandle, tenants_copy: Path
) -> None:
    """`export --overwrite` on the example tenants: live values change, nothing written by hand is lost."""
    contoso = tenants_copy / "contoso"
    # A split tenant with a create block: both must survive the merge.
    (contoso / "tenant.yaml").write_text(
        (contoso / "tenant.yaml")
        .read_text()
        .replace(
            "  - user: dave@contoso.com\n",
            "  - user: dave@contoso.com\n    create: {group: Support/Tier 1, name: Dave}\n",
        )
    )
    text = (contoso / "tenant.yaml").read_text()
    groups_at = text.index("rescue_groups:")
    (contoso / "groups.yaml").write_text(
        "# The groups of contoso (kept apart on purpose).\n" + text[groups_at:]
    )
    (contoso / "tenant.yaml").write_text(text[:groups_at])
    before = {p: p.read_text() for p in tenants_copy.rglob("*.yaml")}
    state = str(demo_sandbox.state_dir)
    # The drift being accepted: the demo's (close_ticket_on_session_end is true live, a role is
    # missing), and bob's SSO ID changed by a person in both systems.
    control(demo_sandbox, "PATCH", "/tenants/contoso/dynamics/settings/bob@contoso.com", {"sso_id": "bob2"})
    control(demo_sandbox, "PATCH", "/tenants/contoso/rescue/technicians/bob@contoso.com", {"ssoid": "bob2"})
    for name in ("contoso", "fabrikam"):
        run = invoke("export", "--tenant", name, str(tenants_copy), "--overwrite", "--sandbox", state)
        assert run.code == 0, run.output
    after = {p: p.read_text() for p in tenants_copy.rglob("*.yaml")}
    assert sorted(after) == sorted(before)  # the split into files is kept, no file added
    for path, old in before.items():
        new = after[path]
        for comment in _comments(old):
            assert comment in new, (path, comment)
        for line in old.splitlines():
            if line.strip().startswith(("confirmed:", "create:", "export:", "url:", "format:", "at_session")):
                assert line in new, (path, line)
    data = yaml.safe_load(after[contoso / "tenant.yaml"])
    assert data["integration"]["options"]["close_ticket_on_session_end"] is True
    assert next(t for t in data["technicians"] if t["user"] == "bob@contoso.com")["sso_id"] == "bob2"
    assert data["application_user"]["roles"] == []  # the role removed live: accepted
    assert list(data)[:4] == ["tenant", "connection", "solution", "integration"]  # key order kept
    # Live has the parent group too: added, and everything written before kept as it was.
    assert after[contoso / "groups.yaml"].startswith(before[contoso / "groups.yaml"])
    assert after[contoso / "groups.yaml"].endswith("  - path: Support\n")
    run = invoke("plan", str(tenants_copy), "--sandbox", state)
    assert run.code == 0, run.output
    assert "close_ticket_on_session_end" not in run.stdout and "bob2" not in run.stdout  # drift accepted
    assert "Kept (the live state does not have them" not in run.output
    assert "? Set 'Post session details to URL' for Rescue group Support/Tier 2" in run.stdout


def test_an_exported_file_points_at_the_schema_only_where_the_repository_has_it(
    shared_demo: SandboxHandle, tmp_path: Path
) -> None:
    """A config repository without `schemas/` gets the command that writes the schema, not a path
    to a file that is not there; with it, the path from the tenant folder to it."""
    repo = tmp_path / "config"
    tenants = repo / "customers"
    tenants.mkdir(parents=True)
    state = str(shared_demo.state_dir)
    run = invoke("export", "--tenant", "contoso", str(tenants), "--sandbox", state)
    assert run.code == 0, run.output
    written = (tenants / "contoso" / "tenant.yaml").read_text()
    assert "$schema=" not in written.split("\n", 1)[0]
    assert "`reconcile schema --schema-only --out schemas/tenant.schema.json`" in written

    run = invoke("schema", "--schema-only", "--out", str(repo / "schemas" / "tenant.schema.json"))
    assert run.code == 0, run.output
    (tenants / "contoso" / "tenant.yaml").unlink()
    run = invoke("export", "--tenant", "contoso", str(tenants), "--sandbox", state)
    assert run.code == 0, run.output
    first = (tenants / "contoso" / "tenant.yaml").read_text().split("\n", 1)[0]
    assert first == "# yaml-language-server: $schema=../../schemas/tenant.schema.json"
    assert (tenants / "contoso" / first.split("=", 1)[1]).resolve().is_file()
