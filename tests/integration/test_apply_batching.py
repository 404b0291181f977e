"""Issue 5 performance rule, asserted from the sandbox's request log: Dataverse write requests
for N settings-row changes are at most ceil(N / batch size) plus a constant.

The constant covers the writes that are not settings rows (here the integration row) and one
extra ``$batch`` per dependency wave (rows whose Rescue technician changes first go in a later
wave). Timing is never asserted here; figures come from benchmarks/apply_scale.py.
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from pathlib import Path

import pytest
import yaml

from rescue_sandbox import running_sandbox

from .conftest import invoke
from .test_apply_support import FAST, actionable, client_settings, generated_tenants, plan_json, writes

pytestmark = pytest.mark.integration

CONSTANT = 3


def _new_sso_ids(tenant_file: Path, every: int) -> None:
    """Change every ``every``-th desired SSO ID: those rows wait for their Rescue technician."""
    data = yaml.safe_load(tenant_file.read_text("utf-8"))
    for tech in data["technicians"][::every]:
        tech["sso_id"] = f"{tech['sso_id']}-new"
    tenant_file.write_text(yaml.safe_dump(data, sort_keys=False), "utf-8")


@pytest.mark.parametrize("batch_size", [9, 1000])
def test_dataverse_writes_are_batched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, batch_size: int
) -> None:
    seed = generated_tenants(tmp_path, tenants=1, technicians=130, drift=1.0, rng_seed=8)
    tenants = tmp_path / "tenants"
    _new_sso_ids(tenants / "tenant001" / "tenant.yaml", every=10)
    settings = dataclasses.replace(FAST, batch_size=batch_size)
    with client_settings(monkeypatch, settings), running_sandbox(seed, index_job_seconds=0.05) as handle:
        run = invoke("plan", str(tenants), "--sandbox", str(handle.state_dir), "--format", "json")
        planned = actionable(plan_json(run.stdout))["tenant001"]
        rows = sum(1 for _, change_id in planned if change_id.startswith("technician:"))
        others = [change_id for _, change_id in planned if change_id.startswith("integration:")]
        assert rows >= 100, planned  # enough rows that batching matters
        run = invoke("apply", str(tenants), "--sandbox", str(handle.state_dir), "--auto-approve", "--force")
        assert run.code == 0, run.output
        dataverse_writes = [w for w in writes(handle) if w["service"] == "dataverse"]
    per_endpoint = Counter(f"{w['method']} {w['template']}" for w in dataverse_writes)
    batches = per_endpoint["POST /$batch"]
    assert math.ceil(rows / batch_size) <= batches <= math.ceil(rows / batch_size) + CONSTANT - 1
    assert len(dataverse_writes) <= math.ceil(rows / batch_size) + CONSTANT, per_endpoint
    assert len(dataverse_writes) - batches == len(others), per_endpoint  # one PATCH, not one per row
