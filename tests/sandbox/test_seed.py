"""The demo seed against the example tenant files: exactly the documented drift, nothing else.

The plan engine's acceptance test relies on this drift list, so it is computed here from the two
files independently of the reconciler, and compared as a whole.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.errors import InputError
from rescue_sandbox import demo_seed_path, load_seed
from rescue_sandbox.dataverse.solution_schema import schema_from_seed
from rescue_sandbox.seed import build_tenant, check_seed

TENANTS = Path(__file__).resolve().parents[2] / "tenants"

EXPECTED_DRIFT = {
    "contoso": {
        "integration.options.close_ticket_on_session_end: live True, desired False",
        "technician dave@contoso.com: no settings row",
        "technician erin@contoso.com: no settings row",
        "rescue_group Support/Tier 2: no export settings",
        "application_user: missing role LogMeIn Integration User",
    },
    "fabrikam": {
        "technician grace.smith@fabrikam.com: Rescue SSO ID g.smith, desired gsmith",
        "session_key: Failed",
    },
}


def desired(tenant: str) -> dict[str, Any]:
    data = yaml.safe_load((TENANTS / tenant / "tenant.yaml").read_text())
    defaults = yaml.safe_load((TENANTS / "_defaults.yaml").read_text())
    for key, value in defaults.items():
        data[key] = value | data.get(key, {}) if isinstance(value, dict) else data.get(key, value)
    return dict(data)


def walk(groups: list[dict[str, Any]], prefix: str = "") -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for group in groups:
        path = f"{prefix}{group['name']}"
        found[path] = group
        found |= walk(group.get("children", []), f"{path}/")
    return found


def version(text: str) -> tuple[int, ...]:
    parts = [int(p) for p in str(text).split(".")]
    return tuple(parts + [0] * (4 - len(parts)))


def drift_of(name: str, seed: dict[str, Any]) -> set[str]:
    want, live = desired(name), seed["tenants"][name]
    schema = schema_from_seed(live.get("solution_schema"))
    dv, rescue = live["dataverse"], live["rescue"]
    found: set[str] = set()
    # Connection facts are not drift: they must simply agree.
    dyn = want["connection"]["dynamics"]
    assert (live["identity"]["tenant_id"], live["identity"]["client_id"]) == (
        dyn["tenant_id"],
        dyn["client_id"],
    )
    assert dv["org_url"] == dyn["org_url"] and rescue["company_id"] == want["integration"]["company_id"]
    (solution,) = dv["solutions"]
    assert solution["uniquename"] == schema.unique_name and solution["ismanaged"] is True
    assert version(solution["version"]) >= version(want["solution"]["min_version"])
    # Secrets resolve to the seeded values (no drift there).
    sso_ref = want["integration"]["sso_password"]
    ref = f"env:{sso_ref['env']}" if "env" in sso_ref else f"file:{sso_ref['file']}"
    assert live["secrets"][ref] == dv["integration"]["sso_password"] == rescue["sso_password"]
    # Integration row.
    integ = dv["integration"]
    assert integ["instance"] == want["integration"]["instance"]
    assert integ["endpoint"] == want["integration"].get(
        "endpoint", schema.integration.instance_endpoints[want["integration"]["instance"]]
    )
    for key in ("company_id", "org_url", "office365_tenant_id"):
        assert integ[key] == want["integration"][key]
    for option, value in want["integration"]["options"].items():
        if integ["options"][option] != value:
            found.add(f"integration.options.{option}: live {integ['options'][option]}, desired {value}")
    # Technicians: Dynamics users, settings rows, Rescue technicians and SSO IDs.
    groups = walk(rescue["groups"])
    techs = {t["email"].lower(): t for g in groups.values() for t in g.get("technicians", [])}
    users = {u["domainname"] for u in dv["users"]}
    rows = {r["user"]: r for r in dv.get("settings", [])}
    for tech in want["technicians"]:
        upn = tech["user"]
        assert upn in users
        node = techs[tech.get("rescue_email", upn).lower()]
        if "technician_id" in tech:
            assert str(node["node_id"]) == tech["technician_id"]
        if node["ssoid"] != tech["sso_id"]:
            found.add(f"technician {upn}: Rescue SSO ID {node['ssoid']}, desired {tech['sso_id']}")
        row = rows.get(upn)
        if row is None:
            found.add(f"technician {upn}: no settings row")
            continue
        assert row["technician_id"] == str(node["node_id"]) and row["sso_id"] == tech["sso_id"], upn
    assert set(rows) <= {t["user"] for t in want["technicians"]}
    # Rescue groups and their export settings.
    defaults = {"at_session_start": False, "at_session_end": False, "format": "form"}
    for group in want["rescue_groups"]:
        live_group = groups[group["path"]]
        if "export" not in live_group:
            found.add(f"rescue_group {group['path']}: no export settings")
        else:
            assert defaults | live_group["export"] == defaults | group["export"], group["path"]
    # Application user.
    app = dv["application_user"]
    assert app["app_id"] == schema.app_id
    assert (app["firstname"], app["lastname"]) == (
        want["application_user"]["first_name"],
        want["application_user"]["last_name"],
    )
    assert (
        app["email"] == want["application_user"]["email"]
        and app["business_unit"] == dv["business_units"][0]["name"]
    )
    for role in want["application_user"]["roles"]:
        assert role in dv["roles"]
        if role not in app["roles"]:
            found.add(f"application_user: missing role {role}")
    if dv["session_key"]["status"] != "Active":
        found.add(f"session_key: {dv['session_key']['status']}")
    return found


@pytest.mark.parametrize("tenant", ["contoso", "fabrikam"])
def test_demo_seed_has_exactly_the_documented_drift(tenant: str) -> None:
    assert drift_of(tenant, load_seed(demo_seed_path())) == EXPECTED_DRIFT[tenant]


def test_demo_seed_extras() -> None:
    seed = load_seed(demo_seed_path())
    contoso, fabrikam = seed["tenants"]["contoso"], seed["tenants"]["fabrikam"]
    technicians = {t["user"] for t in desired("contoso")["technicians"]}
    assert len({u["domainname"] for u in contoso["dataverse"]["users"]} - technicians) >= 2
    assert fabrikam["solution_schema"]["technician_settings"]["columns"]["sso_id"] == "lmi_rescuessoid"
    assert fabrikam["identity"]["certificate"] == {"generate": True}
    assert "client_secret" not in fabrikam["identity"]  # generated: both credential paths work
    assert fabrikam["dataverse"]["session_key"]["error"].startswith("The index creation job was canceled")
    assert [sp["app_id"] for sp in fabrikam["identity"]["service_principals"]] == [
        "1e2716f5-fee6-4370-a121-baea6d360668"
    ]


def test_demo_tenants_build_with_the_profile_override() -> None:
    seed = load_seed(demo_seed_path())
    fabrikam = build_tenant("fabrikam", seed["tenants"]["fabrikam"])
    (row, *_) = fabrikam.org.rows(fabrikam.schema.technician_settings.table)
    assert "lmi_rescuessoid" in row and "lmi_ssoid" not in row
    assert fabrikam.rescue.group_by_path("Field Service") is not None
    assert fabrikam.rescue.user_by_email("ivan.petrov@fabrikam.com").node_id == 30215  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("seed", "message"),
    [
        ([], "non-empty 'tenants'"),
        ({"tenants": {}}, "non-empty 'tenants'"),
        ({"tenants": {"a": 1}}, "tenants.a: must be a mapping"),
        ({"tenants": {"a": {"identity": {}, "dataverse": {}}}}, "tenants.a.rescue: required"),
        (
            {"tenants": {"a": {"identity": {"tenant_id": "x"}, "dataverse": {}, "rescue": {}}}},
            "identity.tenant_id: a GUID",
        ),
        (
            {"tenants": {"a": {"identity": {}, "dataverse": {}, "rescue": {}, "solution_schemas": {}}}},
            "tenants.a: unknown key 'solution_schemas'; did you mean 'solution_schema'",
        ),
        ({"tenants": {"a": {}}, "faults": "x"}, "seed: unknown key 'faults'; allowed: tenants, description"),
    ],
)
def test_check_seed_errors(seed: Any, message: str) -> None:
    with pytest.raises(InputError, match=message):
        check_seed(seed)


def test_seed_value_errors_name_the_place(tmp_path: Path) -> None:
    seed = load_seed(demo_seed_path())
    contoso = seed["tenants"]["contoso"]
    contoso["dataverse"]["org_url"] = "http://contoso.crm.dynamics.com"
    with pytest.raises(InputError, match=r"dataverse\.org_url: an https"):
        check_seed(seed)
    contoso["dataverse"]["org_url"] = "https://contoso.crm.dynamics.com"
    contoso["rescue"]["groups"][0]["children"][0]["technicians"].append({"name": "No Mail"})
    with pytest.raises(InputError, match=r"technicians\[3\]: a technician needs an 'email'"):
        build_tenant("contoso", contoso)
    contoso["rescue"]["groups"][0]["children"][0]["technicians"][-1] = {"email": "alice@contoso.com"}
    with pytest.raises(InputError, match="duplicate Rescue email"):
        build_tenant("contoso", contoso)
    contoso["rescue"]["groups"][0]["children"][0]["technicians"].pop()
    contoso["secrets"]["env:X"] = {"from": "identity.nothing"}
    with pytest.raises(InputError, match="unknown source"):
        build_tenant("contoso", contoso)
    broken = tmp_path / "broken.yaml"
    broken.write_text("tenants: [unclosed\n")
    with pytest.raises(InputError, match="not valid YAML"):
        load_seed(broken)
