"""Issue 16 review F4: `doctor` is never "ready" while the report sign-in `health` needs is
refused; it signs in with health's own client and fetches no report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import EXAMPLE_TENANTS, control, invoke
from .test_ambiguity import _fast_clients, _seed, sandbox_of  # noqa: F401
from .test_doctor import only_reads, unblock

pytestmark = pytest.mark.integration


def _contoso(tmp_path: Path) -> Path:
    folder = tmp_path / "tenants"
    (folder / "contoso").mkdir(parents=True)
    data = yaml.safe_load((EXAMPLE_TENANTS / "contoso" / "tenant.yaml").read_text("utf-8"))
    assert data["connection"]["rescue"]["reports"]  # the example declares a report sign-in
    (folder / "contoso" / "tenant.yaml").write_text(yaml.safe_dump(data, sort_keys=False), "utf-8")
    return folder


def _doctor_checks(folder: Path, handle: Any) -> tuple[int, dict[str, dict[str, str]]]:
    """`doctor --format json` of the one tenant: exit code and its checks by name."""
    unblock(handle, "contoso")  # the demo's consent and role blockers are not what these test
    run = invoke("doctor", str(folder), "--sandbox", str(handle.state_dir), "--format", "json")
    [tenant] = json.loads(run.stdout)["tenants"]
    return run.code, {c["name"]: c for c in tenant["checks"]}


def test_doctor_is_not_ready_while_the_report_sign_in_is_refused(
    sandbox_of: Any,  # noqa: F811 (the fixture imported above)
    tmp_path: Path,
) -> None:
    seed = _seed()
    seed["tenants"]["contoso"]["secrets"]["env:CONTOSO_RESCUE_ADMIN_PASSWORD"] = "wrong-password"
    handle = sandbox_of(seed)
    folder = _contoso(tmp_path)
    control(handle, "DELETE", "/requests")
    code, checks = _doctor_checks(folder, handle)
    assert code == 1, checks
    failed = {name: c for name, c in checks.items() if c["status"] == "fail"}
    assert list(failed) == ["report sign-in"], failed
    assert "Rescue refused the report sign-in (INVALID)" in failed["report sign-in"]["detail"]
    assert "reconcile health (connection.rescue.reports)" in failed["report sign-in"]["detail"]
    assert "connection.rescue.reports" in failed["report sign-in"]["fix"]
    logins = [e for e in control(handle, "GET", "/requests")["entries"] if e["template"] == "login.aspx"]
    assert len(logins) == 1  # one sign-in, and no report fetched (health's one per minute is kept)
    only_reads(handle)
    text = invoke("doctor", str(folder), "--sandbox", str(handle.state_dir))
    assert text.code == 1 and "tenant contoso: ready" not in text.stdout
    # health agrees: the same refusal, from the same client.
    health = invoke("health", str(folder), "--sandbox", str(handle.state_dir))
    assert health.code == 3 and "Rescue refused the report sign-in (INVALID)" in health.output


def test_doctor_passes_the_report_sign_in_with_the_right_password(
    sandbox_of: Any,  # noqa: F811 (the fixture imported above)
    tmp_path: Path,
) -> None:
    handle = sandbox_of(_seed())
    folder = _contoso(tmp_path)
    code, checks = _doctor_checks(folder, handle)
    assert code == 0, checks
    assert checks["report sign-in"]["status"] == "pass"
    assert "Rescue accepted the report sign-in of" in checks["report sign-in"]["detail"]


def test_a_tenant_without_a_report_sign_in_is_not_signed_in(
    sandbox_of: Any,  # noqa: F811 (the fixture imported above)
    tmp_path: Path,
) -> None:
    handle = sandbox_of(_seed())
    folder = _contoso(tmp_path)
    path = folder / "contoso" / "tenant.yaml"
    data = yaml.safe_load(path.read_text("utf-8"))
    del data["connection"]["rescue"]["reports"]
    path.write_text(yaml.safe_dump(data, sort_keys=False), "utf-8")
    control(handle, "DELETE", "/requests")
    code, checks = _doctor_checks(folder, handle)
    assert code == 0, checks
    assert "report sign-in" not in checks
    assert not [e for e in control(handle, "GET", "/requests")["entries"] if e["template"] == "login.aspx"]
