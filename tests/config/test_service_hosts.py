"""Issue 16 case 9: a tenant file points its credentials only at the services' own hosts, and
names only its own secrets; anything else is a located problem before any request."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reconciler.config import load_tenants
from reconciler.config.hosts import HostAllowance
from reconciler.errors import ConfigErrors, InputError

SETTINGS = {
    "connection.rescue.api_url": ("  rescue:\n", "  rescue:\n    api_url: https://evil.example/API\n"),
    "connection.dynamics.authority_host": (
        "    tenant_id:",
        "    authority_host: https://login.evil.example\n    tenant_id:",
    ),
    "connection.dynamics.org_url": (
        "org_url: https://acme.crm.dynamics.com",
        "org_url: https://evil.example",
    ),
}


def _problems(root: Path, **kwargs: Any) -> list[str]:
    with pytest.raises(ConfigErrors) as caught:
        load_tenants([root / "tenants"], **kwargs)
    return [str(p) for p in caught.value.problems]


@pytest.mark.parametrize("setting", sorted(SETTINGS))
def test_an_unknown_service_host_is_refused_at_its_line(
    setting: str, write_tree: Any, acme: str, reconcile: Any
) -> None:
    old, new = SETTINGS[setting]
    text = acme.replace(old, new)
    root = write_tree({"tenants/acme/tenant.yaml": text})
    line = next(i for i, row in enumerate(text.splitlines(), 1) if "evil.example" in row)
    outcome = reconcile(["validate", "tenants"], cwd=root)
    assert outcome.exit_code == 1
    problem = outcome.stderr.splitlines()[0]
    assert problem.startswith(f"tenants/acme/tenant.yaml:{line}:"), problem
    assert f": {setting}: " in problem and "the tenant's credentials would be sent there" in problem
    assert "--allow-host" in problem and "RECONCILE_ALLOW_HOSTS" in problem


@pytest.mark.parametrize("setting", sorted(SETTINGS))
def test_the_operator_allowance_accepts_it(
    setting: str, write_tree: Any, acme: str, reconcile: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, new = SETTINGS[setting]
    root = write_tree({"tenants/acme/tenant.yaml": acme.replace(old, new)})
    host = "login.evil.example" if "authority" in setting else "evil.example"
    assert reconcile(["validate", "tenants", "--allow-host", host], cwd=root).exit_code == 0
    monkeypatch.setenv("RECONCILE_ALLOW_HOSTS", f"other.example, {host}")
    assert reconcile(["validate", "tenants"], cwd=root).exit_code == 0


def test_every_known_cloud_host_is_accepted(write_tree: Any, acme: str) -> None:
    clouds = [
        (
            "https://acme.crm4.dynamics.com",
            "https://login.microsoftonline.com",
            "https://secure.logmeinrescue.com/API",
        ),
        (
            "https://acme.crm9.dynamics.com",
            "https://login.microsoftonline.us",
            "https://secure.logmeinrescue.eu/API",
        ),
        (
            "https://acme.crm.microsoftdynamics.us",
            "https://login.microsoftonline.us",
            "https://secure.logmeinrescue.com/API",
        ),
        (
            "https://acme.crm.appsplatform.us",
            "https://login.microsoftonline.us",
            "https://secure.logmeinrescue.com/API",
        ),
        (
            "https://acme.crm.dynamics.cn",
            "https://login.partner.microsoftonline.cn",
            "https://secure.logmeinrescue.com/API",
        ),
        (
            "https://acme.api.crm11.dynamics.com",
            "https://login.chinacloudapi.cn",
            "https://secure.logmeinrescue.com/API",
        ),
    ]
    for org, authority, rescue in clouds:
        text = acme.replace("https://acme.crm.dynamics.com", org).replace(
            "  rescue:\n", f"  rescue:\n    api_url: {rescue}\n"
        )
        text = text.replace("    tenant_id:", f"    authority_host: {authority}\n    tenant_id:", 1)
        root = write_tree({"tenants/acme/tenant.yaml": text})
        assert [t.name for t in load_tenants([root / "tenants"])] == ["acme"], org


@pytest.mark.parametrize(
    "url",
    [
        "https://acme.crm.dynamics.com.evil.example",  # a known name as a sub-domain of another
        "https://evilcrm.dynamics.com",  # not an org host
        "https://a.b.crm.dynamics.com",  # two labels before the region
        "https://acme.crm.dynamics.com:8443",  # a known host on another port
    ],
)
def test_look_alike_org_hosts_are_refused(url: str, write_tree: Any, acme: str) -> None:
    text = acme.replace("https://acme.crm.dynamics.com", url)  # the integration names it too
    root = write_tree({"tenants/acme/tenant.yaml": text})
    (problem,) = _problems(root)
    assert "connection.dynamics.org_url: " in problem and "is not a Dataverse org" in problem
    port_allowed = HostAllowance.parse(["acme.crm.dynamics.com:8443"])
    if url.endswith(":8443"):  # the allowance names the port too
        assert load_tenants([root / "tenants"], allow_hosts=port_allowed)


def test_a_bad_allowance_is_an_input_error() -> None:
    with pytest.raises(InputError, match="is not a host name"):
        HostAllowance.parse(["https://evil.example/x"])


def test_no_request_is_sent_for_an_unknown_host(
    write_tree: Any, acme: str, reconcile: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write_tree({"tenants/acme/tenant.yaml": acme.replace(*SETTINGS["connection.rescue.api_url"], 1)})
    called: list[str] = []
    monkeypatch.setattr("reconciler.engine.connection.connect", lambda *a, **k: called.append("connect"))
    monkeypatch.setattr("reconciler.engine.vault.connect", lambda *a, **k: called.append("connect"))
    outcome = reconcile(["plan", "tenants"], cwd=root)
    assert outcome.exit_code == 1 and "connection.rescue.api_url" in outcome.stderr
    assert "nothing was sent to any API" in outcome.stderr
    assert called == []


# -- a tenant names only its own secrets -------------------------------------------------------


def test_another_tenants_secret_is_refused_at_its_line(write_tree: Any, acme: str, reconcile: Any) -> None:
    text = acme.replace("{env: ACME_RESCUE_AUTHCODE}", "{env: FABRIKAM_RESCUE_AUTHCODE}")
    root = write_tree({"tenants/acme/tenant.yaml": text})
    outcome = reconcile(["validate", "tenants"], cwd=root)
    assert outcome.exit_code == 1
    line = next(i for i, row in enumerate(text.splitlines(), 1) if "FABRIKAM" in row)
    assert outcome.stderr.splitlines()[0] == (
        f"tenants/acme/tenant.yaml:{line}:15: connection.rescue.authcode: secret 'FABRIKAM_RESCUE_AUTHCODE' "
        "is not this tenant's: a tenant file may reference only secrets whose names start with ACME_ "
        "(e.g. ACME_RESCUE_AUTHCODE); rename the secret, or move a secret every tenant shares to _defaults.yaml"
    )


def test_secret_names_follow_the_tenant_folder(write_tree: Any, acme: str) -> None:
    text = acme.replace("tenant: acme", "tenant: acme-corp").replace("ACME_", "ACME_CORP_")
    root = write_tree({"tenants/acme-corp/tenant.yaml": text})
    assert [t.name for t in load_tenants([root / "tenants"])] == ["acme-corp"]
    # `ACME_` alone is another tenant's (acme's) prefix, not acme-corp's.
    root = write_tree({"tenants/acme-corp/tenant.yaml": text.replace("ACME_CORP_SSO", "ACME_SSO")})
    (problem,) = _problems(root)
    assert "integration.sso_password: secret 'ACME_SSO_PASSWORD' is not this tenant's" in problem


def test_shared_references_in_defaults_and_the_federation_token_are_allowed(
    write_tree: Any, acme: str
) -> None:
    text = acme.replace("      client_secret: {env: ACME_CLIENT_SECRET}\n", "")
    text = text.replace("    credential:\n", "")
    defaults = "connection:\n  dynamics:\n    credential:\n      client_secret: {env: MSP_CLIENT_SECRET}\n"
    root = write_tree({"tenants/_defaults.yaml": defaults, "tenants/acme/tenant.yaml": text})
    assert [t.name for t in load_tenants([root / "tenants"])] == ["acme"]
    federated = acme.replace(
        "client_secret: {env: ACME_CLIENT_SECRET}", "federated_token_file: {env: AZURE_FEDERATED_TOKEN_FILE}"
    )
    root = write_tree({"tenants/_defaults.yaml": "# nothing shared\n", "tenants/acme/tenant.yaml": federated})
    assert [t.name for t in load_tenants([root / "tenants"])] == ["acme"]
    # The token variable is allowed only as the token file: as an authcode it is another secret.
    stolen = federated.replace("{env: ACME_RESCUE_AUTHCODE}", "{env: AZURE_FEDERATED_TOKEN_FILE}")
    root = write_tree({"tenants/acme/tenant.yaml": stolen})
    (problem,) = _problems(root)
    assert "connection.rescue.authcode: secret 'AZURE_FEDERATED_TOKEN_FILE' is not this tenant's" in problem


def test_overlapping_tenant_prefixes_are_both_refused(write_tree: Any, acme: str) -> None:
    # Once "the longest name wins": acme-corp took ACME_CORP_*, which acme's rule also fits.
    corp = acme.replace("tenant: acme", "tenant: acme-corp").replace("ACME_", "ACME_CORP_")
    root = write_tree({"tenants/acme/tenant.yaml": acme, "tenants/acme-corp/tenant.yaml": corp})
    problems = {Path(p.split(":", 1)[0]).parent.name: p for p in _problems(root)}
    assert sorted(problems) == ["acme", "acme-corp"]
    assert (
        ":1:9: tenant: the secret names of tenant 'acme' (ACME_) overlap those of tenant 'acme-corp'"
        in problems["acme"]
    )
    assert "overlap those of tenant 'acme' (ACME_)" in problems["acme-corp"]
    # The same when only acme is loaded (a plan job of one tenant): the other folder is still known.
    with pytest.raises(ConfigErrors):
        load_tenants([root / "tenants"], only=["acme"])


@pytest.mark.parametrize(
    ("path", "owned"),
    [
        ("/etc/reconciler/acme.key.pem", True),
        ("/var/run/secrets/reconcile/ACME_SSO_PASSWORD", True),
        ("acme-sso.txt", True),
        ("/etc/reconciler/fabrikam.key.pem", False),
        ("/var/run/secrets/reconcile/FABRIKAM_SSO_PASSWORD", False),
        ("../fabrikam/acme", False),  # the file's own name says whose it is
        ("/etc/reconciler/acmes.pem", False),
    ],
)
def test_secret_files_follow_the_same_rule(path: str, owned: bool, write_tree: Any, acme: str) -> None:
    text = acme.replace("{env: ACME_SSO_PASSWORD}", f"{{file: {path}}}")
    root = write_tree({"tenants/acme/tenant.yaml": text})
    if owned:
        assert load_tenants([root / "tenants"])
    else:
        (problem,) = _problems(root)
        assert "integration.sso_password: secret '" in problem and "is not this tenant's" in problem


def test_a_secret_file_linked_to_another_tenants_file_is_refused(tmp_path: Path) -> None:
    from reconciler.config import SecretRef, SecretResolver
    from reconciler.errors import SecretError

    (tmp_path / "FABRIKAM_RESCUE_AUTHCODE").write_text("theirs", "utf-8")
    (tmp_path / "acme").mkdir()
    (tmp_path / "acme" / "acme-authcode").symlink_to(tmp_path / "FABRIKAM_RESCUE_AUTHCODE")
    (tmp_path / "ACME_RESCUE_AUTHCODE").write_text("ours", "utf-8")
    (tmp_path / "acme" / "acme-own").symlink_to(tmp_path / "ACME_RESCUE_AUTHCODE")
    resolver = SecretResolver(tmp_path / "acme", owner="acme")
    with pytest.raises(SecretError, match="whose name is not this tenant's"):
        resolver.resolve(SecretRef(file="acme-authcode"))
    assert resolver.resolve(SecretRef(file="acme-own")).get_secret_value() == "ours"


def test_plan_takes_the_allowance_too(
    write_tree: Any, acme: str, reconcile: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write_tree({"tenants/acme/tenant.yaml": acme.replace(*SETTINGS["connection.rescue.api_url"])})
    called: list[str] = []

    def connect(*_args: Any, **_kwargs: Any) -> None:
        called.append("connect")
        raise InputError("stop here: the test sends nothing")

    monkeypatch.setattr("reconciler.engine.vault.connect", connect)
    outcome = reconcile(["plan", "tenants", "--allow-host", "evil.example"], cwd=root)
    assert called == ["connect"], outcome.stderr  # past validation: the allowance was taken
    assert outcome.exit_code == 1 and "stop here" in outcome.stdout
