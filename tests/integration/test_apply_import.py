"""`apply` of a tenant whose solution must be imported converges against a sandbox whose import
takes longer than the request timeout: the client imports with ImportSolutionAsync and polls."""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path

import pytest

from rescue_sandbox import running_sandbox

from .conftest import EXAMPLE_TENANTS, control, invoke

pytestmark = pytest.mark.integration


def _package(path: Path, version: str) -> None:
    manifest = (
        "<ImportExportXml><SolutionManifest><UniqueName>LogMeInRescueIntegration</UniqueName>"
        f"<Version>{version}</Version><Managed>1</Managed></SolutionManifest></ImportExportXml>"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("solution.xml", manifest)
        archive.writestr("customizations.xml", "<ImportExportXml/>" + " " * 50_000)
    path.write_bytes(buffer.getvalue())


def package_tenants(tmp_path: Path) -> Path:
    """The example tenants, contoso declaring a package (2.2.0.0) newer than its installed solution."""
    tenants = tmp_path / "tenants"
    shutil.copytree(EXAMPLE_TENANTS, tenants)
    tenant_file = tenants / "contoso" / "tenant.yaml"
    text = tenant_file.read_text().replace(
        "  min_version: 2.1.0.0\n", "  min_version: 2.2.0.0\n  package: solution.zip\n"
    )
    tenant_file.write_text(text)
    _package(tenants / "contoso" / "solution.zip", "2.2.0.0")
    return tenants


def test_an_import_longer_than_the_request_timeout_converges(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenants = package_tenants(tmp_path)
    monkeypatch.setenv("RECONCILE_TIMEOUT", "1.0")
    with running_sandbox(index_job_seconds=0.1) as handle:
        org = handle.sandbox.tenants["contoso"].org
        assert org.import_seconds(50_000) > 1.0  # longer than the request timeout
        sandbox = str(handle.state_dir)
        applied = invoke(
            "apply", str(tenants), "--tenant", "contoso", "--sandbox", sandbox, "--auto-approve", "--force"
        )
        assert applied.code == 0, applied.output
        assert "imported solution.zip: LogMeInRescueIntegration 2.2.0.0" in applied.output
        posts = {
            e["template"] for e in control(handle, "GET", "/requests")["entries"] if e["method"] == "POST"
        }
        assert "/ImportSolutionAsync" in posts and "/ImportSolution" not in posts
        again = invoke(
            "plan", str(tenants), "--tenant", "contoso", "--sandbox", sandbox, "--detailed-exitcode"
        )
        assert again.code == 0, again.output


def test_a_failed_import_reports_the_import_jobs_error(tmp_path: Path) -> None:
    tenants = tmp_path / "tenants"
    shutil.copytree(EXAMPLE_TENANTS, tenants)
    tenant_file = tenants / "contoso" / "tenant.yaml"
    tenant_file.write_text(
        tenant_file.read_text().replace(
            "  min_version: 2.1.0.0\n", "  min_version: 2.2.0.0\n  package: bad.zip\n"
        )
    )
    (tenants / "contoso" / "bad.zip").write_bytes(b"not a zip at all")
    with running_sandbox(index_job_seconds=0.05) as handle:
        run = invoke(
            "apply",
            str(tenants),
            "--tenant",
            "contoso",
            "--sandbox",
            str(handle.state_dir),
            "--auto-approve",
            "--force",
        )
        assert run.code != 0
        assert (
            "the solution import failed: The import file is invalid. The file is not a solution zip file."
            in run.output
        )
