"""The seed generator: deterministic, tenant files in the example layout, drift as reported."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from reconciler.cli.sandbox_cmd import sandbox as sandbox_group
from reconciler.errors import InputError
from rescue_sandbox import generate, load_seed
from rescue_sandbox.server import Sandbox

EXAMPLE = Path(__file__).resolve().parents[2] / "tenants" / "contoso" / "tenant.yaml"


def digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*.yaml"))
    }


def test_generation_is_deterministic(tmp_path: Path) -> None:
    first = generate(tmp_path / "a", tenants=2, technicians=30, drift=0.3, rng_seed=4)
    second = generate(tmp_path / "b", tenants=2, technicians=30, drift=0.3, rng_seed=4)
    assert first == second and digest(tmp_path / "a") == digest(tmp_path / "b")
    generate(tmp_path / "c", tenants=2, technicians=30, drift=0.3, rng_seed=5)
    assert digest(tmp_path / "a") != digest(tmp_path / "c")


def test_tenant_files_follow_the_example_layout(tmp_path: Path) -> None:
    generate(tmp_path, tenants=3, technicians=12, drift=0.0)
    example = yaml.safe_load(EXAMPLE.read_text())
    files = sorted((tmp_path / "tenants").glob("*/tenant.yaml"))
    assert [f.parent.name for f in files] == ["tenant001", "tenant002", "tenant003"]
    assert (tmp_path / "tenants" / "_defaults.yaml").is_file()
    seed = load_seed(tmp_path / "seed.yaml")
    for path in files:
        tenant = yaml.safe_load(path.read_text())
        assert set(tenant) <= set(example) and tenant["tenant"] == path.parent.name
        assert set(tenant["connection"]["dynamics"]) == set(example["connection"]["dynamics"])
        assert set(tenant["integration"]) <= set(example["integration"])
        assert set(tenant["integration"]["options"]) == set(example["integration"]["options"])
        assert len(tenant["technicians"]) == 12
        # Every secret reference has a sandbox value in the seed.
        refs = [
            tenant["connection"]["dynamics"]["credential"]["client_secret"],
            tenant["connection"]["rescue"]["authcode"],
            tenant["integration"]["sso_password"],
        ]
        secrets = seed["tenants"][tenant["tenant"]]["secrets"]
        assert {f"env:{r['env']}" for r in refs} == set(secrets)


def drift_in(seed: dict[str, Any], tenants_dir: Path) -> dict[str, int]:
    found = {"missing_row": 0, "rescue_sso_id": 0, "dynamics_sso_id": 0, "technician_id": 0, "option": 0}
    for name, live in seed["tenants"].items():
        want = yaml.safe_load((tenants_dir / name / "tenant.yaml").read_text())
        rows = {r["user"]: r for r in live["dataverse"]["settings"]}
        nodes = {t["email"]: t for g in live["rescue"]["groups"][0]["children"] for t in g["technicians"]}
        for tech in want["technicians"]:
            node, row = nodes[tech["user"]], rows.get(tech["user"])
            found["rescue_sso_id"] += node["ssoid"] != tech["sso_id"]
            if row is None:
                found["missing_row"] += 1
                continue
            found["dynamics_sso_id"] += row["sso_id"] != tech["sso_id"]
            found["technician_id"] += row["technician_id"] != str(node["node_id"])
        live_options = live["dataverse"]["integration"]["options"]
        found["option"] += sum(live_options[k] != v for k, v in want["integration"]["options"].items())
    return {k: v for k, v in found.items() if v}


@pytest.mark.parametrize("drift", [0.0, 0.25])
def test_drift_is_what_the_generator_reports(tmp_path: Path, drift: float) -> None:
    result = generate(tmp_path, tenants=4, technicians=60, drift=drift, rng_seed=9)
    seed = load_seed(tmp_path / "seed.yaml")
    assert drift_in(seed, tmp_path / "tenants") == result["drift"]
    if drift == 0.0:
        assert result["drift"] == {}
    else:
        assert 30 <= sum(v for k, v in result["drift"].items() if k != "option") <= 90


def test_the_sandbox_loads_a_generated_seed(tmp_path: Path) -> None:
    generate(tmp_path, tenants=2, technicians=300, drift=0.1, rng_seed=1)
    sandbox = Sandbox.from_seed(load_seed(tmp_path / "seed.yaml"))
    tenant = sandbox.tenants["tenant002"]
    assert len(tenant.org.rows(tenant.schema.technician_settings.table)) < 300
    assert tenant.rescue.group_by_path("Support/Team 02") is not None
    assert sum(1 for n in tenant.rescue.nodes.values() if n.type == "Technician") == 300
    assert set(tenant.resolved_secrets()) == {
        "env:TENANT002_DYNAMICS_CLIENT_SECRET",
        "env:TENANT002_RESCUE_AUTHCODE",
        "env:TENANT002_RESCUE_SSO_PASSWORD",
    }


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tenants": 0, "technicians": 1}, "--tenants"),
        ({"tenants": 1, "technicians": -1}, "--technicians"),
        ({"tenants": 1, "technicians": 1, "drift": 1.5}, "--drift"),
        ({"tenants": 10000, "technicians": 1}, "at most 9,999"),
    ],
)
def test_bad_arguments(tmp_path: Path, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError, match=message):
        generate(tmp_path, **kwargs)


def test_cli_seed_command(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        sandbox_group,
        ["seed", "--out", str(tmp_path), "--tenants", "2", "--technicians", "5", "--drift", "0.5"],
    )
    assert result.exit_code == 0, result.output
    assert "2 tenants x 5 technicians" in result.output
    assert (tmp_path / "seed.yaml").is_file() and (
        tmp_path / "tenants" / "tenant002" / "tenant.yaml"
    ).is_file()
    bad = CliRunner().invoke(
        sandbox_group, ["seed", "--out", str(tmp_path), "--tenants", "0", "--technicians", "5"]
    )
    assert isinstance(bad.exception, InputError)
