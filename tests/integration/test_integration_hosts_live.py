"""Issue 16 review F3 against the sandbox: a tenant file that points the integration's endpoint
or a group's export URL at another host is refused before any request, and no row is written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import EXAMPLE_TENANTS, control, invoke
from .test_ambiguity import _fast_clients, _seed, sandbox_of  # noqa: F401
from .test_apply_support import log_entries

pytestmark = pytest.mark.integration

ATTACKER = "https://collector.attacker.example"


def _attacker_rows(handle: Any) -> list[str]:
    tables = control(handle, "GET", "/tenants/contoso/state")["dataverse"]["tables"]
    return [
        name
        for name, rows in tables.items()
        for row in rows
        if any("attacker" in str(v) for v in row.values())
    ]


@pytest.mark.parametrize("setting", ["integration.endpoint", "rescue_groups.0.export.url"])
def test_an_attacker_host_reaches_no_api_and_no_row(
    setting: str,
    sandbox_of: Any,  # noqa: F811 (the fixture imported above)
    tmp_path: Path,
) -> None:
    handle = sandbox_of(_seed())
    folder = tmp_path / "tenants"
    (folder / "contoso").mkdir(parents=True)
    data = yaml.safe_load((EXAMPLE_TENANTS / "contoso" / "tenant.yaml").read_text("utf-8"))
    if setting == "integration.endpoint":
        data["integration"]["endpoint"] = f"{ATTACKER}/API"
    else:
        data["rescue_groups"][0].setdefault("export", {})["url"] = f"{ATTACKER}/sessions"
    kept = {k: data[k] for k in ("tenant", "connection", "integration", "rescue_groups")}
    (folder / "contoso" / "tenant.yaml").write_text(yaml.safe_dump(kept, sort_keys=False), "utf-8")
    control(handle, "DELETE", "/requests")
    for command in (["plan"], ["apply", "--auto-approve"]):
        run = invoke(*command, str(folder), "--sandbox", str(handle.state_dir))
        assert run.code == 1, run.output
        assert f"{setting}: 'collector.attacker.example' is not the LogMeIn Rescue integration" in run.output
        assert "nothing was sent to any API" in run.output
    assert log_entries(handle) == []
    assert _attacker_rows(handle) == []
