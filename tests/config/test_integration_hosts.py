"""Issue 16 review F3: the integration's endpoint and a group's export URL name only the
LogMeIn integration hosts; another host is a located problem unless the operator allows it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reconciler.config import load_tenants
from reconciler.config.hosts import INTEGRATION_HOSTS, HostAllowance
from reconciler.errors import ConfigErrors
from reconciler.profile import default_profile

ATTACKER = "https://collector.attacker.example/API"

# (setting as shown, text replaced in the acme tenant, replacement)
SETTINGS = {
    "integration.endpoint": ("  instance: production\n", f"  instance: production\n  endpoint: {ATTACKER}\n"),
    "rescue_groups.0.export.url": (
        "  - path: Support\n",
        f"  - path: Support\n    export:\n      url: {ATTACKER}\n",
    ),
    "profile.integration.instance_endpoints.production": (
        "technicians:\n",
        f"profile:\n  integration:\n    instance_endpoints:\n      production: {ATTACKER}\ntechnicians:\n",
    ),
    "profile.rescue.export_url": (
        "technicians:\n",
        f"profile:\n  rescue:\n    export_url: {ATTACKER}\ntechnicians:\n",
    ),
}


def _problem(root: Path) -> str:
    """The one problem ``load_tenants`` refuses ``root/tenants`` with."""
    with pytest.raises(ConfigErrors) as caught:
        load_tenants([root / "tenants"])
    (problem,) = caught.value.problems
    return str(problem)


@pytest.mark.parametrize("setting", sorted(SETTINGS))
def test_an_unknown_integration_host_is_refused_at_its_line(
    setting: str, write_tree: Any, acme: str, reconcile: Any
) -> None:
    old, new = SETTINGS[setting]
    assert old in acme
    text = acme.replace(old, new, 1)
    root = write_tree({"tenants/acme/tenant.yaml": text})
    outcome = reconcile(["validate", "tenants"], cwd=root)
    assert outcome.exit_code == 1
    problem, summary = outcome.stderr.splitlines()
    assert summary == "error: 1 problem in the tenant files; nothing was sent to any API"
    line = next(i for i, row in enumerate(text.splitlines(), 1) if "attacker" in row)
    assert problem.startswith(f"tenants/acme/tenant.yaml:{line}:"), problem
    assert (
        f": {setting}: 'collector.attacker.example' is not the LogMeIn Rescue integration for Dynamics"
        in problem
    )
    assert "--allow-host 'collector.attacker.example'" in problem


@pytest.mark.parametrize("setting", sorted(SETTINGS))
def test_the_operator_allowance_accepts_it(setting: str, write_tree: Any, acme: str) -> None:
    root = write_tree({"tenants/acme/tenant.yaml": acme.replace(*SETTINGS[setting], 1)})
    allowed = HostAllowance.parse(["collector.attacker.example"])
    assert [t.name for t in load_tenants([root / "tenants"], allow_hosts=allowed)] == ["acme"]


@pytest.mark.parametrize("host", sorted(INTEGRATION_HOSTS))
def test_the_integration_hosts_are_accepted(host: str, write_tree: Any, acme: str) -> None:
    text = acme.replace("  instance: production\n", f"  instance: production\n  endpoint: https://{host}\n")
    text = text.replace(
        "  - path: Support\n", f"  - path: Support\n    export:\n      url: https://{host}/api/integration\n"
    )
    root = write_tree({"tenants/acme/tenant.yaml": text})
    assert [t.name for t in load_tenants([root / "tenants"])] == ["acme"]


@pytest.mark.parametrize(
    "url",
    [
        "https://dynamics.logmeinrescue.com.attacker.example/api/integration",
        "https://dynamics.logmeinrescue.com:8443/api/integration",
        "https://secure.logmeinrescue.com/API",  # the Rescue API, not the integration service
        "https://acme.crm.dynamics.com/api/integration",  # the org: Rescue posts to LogMeIn's service
    ],
)
def test_look_alike_and_other_service_hosts_are_refused(url: str, write_tree: Any, acme: str) -> None:
    text = acme.replace("  - path: Support\n", f"  - path: Support\n    export:\n      url: {url}\n")
    root = write_tree({"tenants/acme/tenant.yaml": text})
    problem = _problem(root)
    assert (
        "rescue_groups.0.export.url: " in problem and "Rescue would post every session's details" in problem
    )


def test_another_org_for_the_integration_is_checked_only_when_declared(write_tree: Any, acme: str) -> None:
    other = acme.replace(
        "  org_url: https://acme.crm.dynamics.com\n  office365",
        "  org_url: https://collector.attacker.example\n  other_org_url: true\n  office365",
    )
    root = write_tree({"tenants/acme/tenant.yaml": other})
    problem = _problem(root)
    assert "integration.org_url: 'collector.attacker.example' is not a Dataverse org" in problem
    fine = other.replace("https://collector.attacker.example", "https://acme-test.crm4.dynamics.com")
    root = write_tree({"tenants/acme/tenant.yaml": fine})
    assert load_tenants([root / "tenants"])


def test_the_default_profile_names_only_integration_hosts() -> None:
    """The defaults a tenant gets without writing a URL are on the list (no allowance needed)."""
    profile = default_profile()
    urls = [*profile.integration.instance_endpoints.values(), profile.rescue.export_url]
    assert {u.split("/")[2] for u in urls} == INTEGRATION_HOSTS


def test_the_example_tenants_still_validate(reconcile: Any) -> None:
    repo = Path(__file__).resolve().parents[2]
    outcome = reconcile(["validate", str(repo / "tenants")])
    assert outcome.exit_code == 0, outcome.stderr
