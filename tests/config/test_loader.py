"""load_tenants: discovery, merging files and defaults, positions, names, digests, pydantic errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reconciler.config import LoadedTenant, load_tenants
from reconciler.errors import ConfigErrors, InputError, Location

REPO = Path(__file__).resolve().parents[2]


def problems(paths: list[Path], **kw: Any) -> list[str]:
    with pytest.raises(ConfigErrors) as caught:
        load_tenants(paths, **kw)
    return [str(p) for p in caught.value.problems]


def only(tenants: list[LoadedTenant]) -> LoadedTenant:
    assert len(tenants) == 1
    return tenants[0]


def test_example_tenants_load_with_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    tenants = {t.name: t for t in load_tenants()}
    assert sorted(tenants) == ["contoso", "fabrikam"]
    contoso = tenants["contoso"]
    assert contoso.folder == Path("tenants/contoso")
    assert contoso.files == (Path("tenants/contoso/tenant.yaml"), Path("tenants/_defaults.yaml"))
    assert contoso.model.session_key is not None  # only _defaults.yaml sets it
    assert contoso.locate(("safety", "min_objects")).file == "tenants/_defaults.yaml"
    assert contoso.locate(("technicians", 2, "rescue_email")).file == "tenants/contoso/tenant.yaml"
    assert len(contoso.digest) == 64


def test_one_tenant_folder_still_gets_its_defaults(write_tree: Any, acme: str) -> None:
    root = write_tree(
        {"tenants/_defaults.yaml": "safety: {min_objects: 3}\n", "tenants/acme/tenant.yaml": acme}
    )
    tenant = only(load_tenants([root / "tenants" / "acme"]))
    assert tenant.model.safety.min_objects == 3
    assert tenant.files[-1] == root / "tenants" / "_defaults.yaml"


def test_single_file_is_a_whole_tenant(write_tree: Any, acme: str) -> None:
    root = write_tree({"_defaults.yaml": "safety: {min_objects: 3}\n", "anywhere.yml": acme})
    tenant = only(load_tenants([root / "anywhere.yml"]))
    assert tenant.name == "acme"
    assert tenant.model.safety.min_objects == 10  # no defaults for a loose file
    assert tenant.folder == root


def test_tenant_wins_over_defaults_key_by_key(write_tree: Any, acme: str) -> None:
    root = write_tree(
        {
            "t/_defaults.yaml": "safety: {min_objects: 3, max_change_fraction: 0.5}\n",
            "t/acme/tenant.yaml": acme + "safety:\n  min_objects: 20\n",
        }
    )
    tenant = only(load_tenants([root / "t"]))
    assert (tenant.model.safety.min_objects, tenant.model.safety.max_change_fraction) == (20, 0.5)
    assert tenant.locate(("safety", "min_objects")).file.endswith("acme/tenant.yaml")
    assert tenant.locate(("safety", "max_change_fraction")).file.endswith("_defaults.yaml")


def test_files_of_a_tenant_merge(write_tree: Any, acme: str) -> None:
    head, _, tail = acme.partition("technicians:\n")
    root = write_tree(
        {
            "t/acme/tenant.yaml": head,
            "t/acme/people.yaml": "technicians:\n" + tail,
            "t/acme/options.yml": "integration:\n  options:\n    close_ticket_on_session_end: true\n",
            "t/acme/_notes.yaml": "not: [a, tenant, file\n",
            "t/acme/.hidden.yaml": "\t",
        }
    )
    tenant = only(load_tenants([root / "t"]))
    assert [p.name for p in tenant.files] == ["options.yml", "people.yaml", "tenant.yaml"]
    assert len(tenant.model.technicians) == 2
    assert tenant.model.integration is not None
    assert tenant.model.integration.options.close_ticket_on_session_end is True
    assert tenant.model.integration.company_id == "1234567"
    assert tenant.locate(("technicians", 1, "user")) == Location(str(root / "t/acme/people.yaml"), 4, 11)


def test_a_value_set_in_two_files_names_both(write_tree: Any, acme: str) -> None:
    root = write_tree(
        {"t/acme/a.yaml": acme, "t/acme/b.yaml": "solution:\n  min_version: 3.0\nrescue_groups: []\n"}
    )
    a, b = root / "t/acme/a.yaml", root / "t/acme/b.yaml"
    assert problems([root / "t"]) == [
        f"{b}:2:3: solution.min_version: also set at {a}:12:3; a key may be set in only one file of a tenant "
        "(mappings merge across files, values and lists do not)",
        f"{b}:3:1: rescue_groups: also set at {a}:24:1; a key may be set in only one file of a tenant "
        "(mappings merge across files, values and lists do not)",
    ]


def test_tenant_name_must_match_its_folder(write_tree: Any, acme: str) -> None:
    root = write_tree({"t/other/tenant.yaml": acme})
    assert problems([root / "t"]) == [
        f"{root}/t/other/tenant.yaml:1:9: tenant: tenant name 'acme' does not match its folder 'other'; "
        "the name must equal the folder name"
    ]


def test_unsafe_tenant_name(write_tree: Any, acme: str) -> None:
    root = write_tree({"x.yaml": acme.replace("tenant: acme", "tenant: ../Etc")})
    assert problems([root / "x.yaml"]) == [
        f"{root}/x.yaml:1:9: tenant: '../Etc' is not a valid tenant name; use lower-case letters, digits, "
        "'-' and '_' (it names a folder)"
    ]


def test_the_same_tenant_twice_by_two_paths_is_loaded_once(write_tree: Any, acme: str) -> None:
    root = write_tree({"t/acme/tenant.yaml": acme})
    assert only(load_tenants([root / "t", root / "t" / "acme"])).name == "acme"
    # One of its files as well: the folder (with its defaults and other files) wins.
    tenant = only(load_tenants([root / "t" / "acme" / "tenant.yaml", root / "t"]))
    assert tenant.folder == root / "t" / "acme"


def test_unknown_tenant_behind_a_bad_path_shows_the_path_problem(write_tree: Any, acme: str) -> None:
    root = write_tree({"t/acme/tenant.yaml": acme})
    assert problems([root / "t", root / "typo"], only=["beta"]) == [
        "tenant: unknown tenant 'beta'; known tenants: acme",
        f"{root}/typo: no such file or folder",
    ]


def test_only_filters_and_unknown_names_are_listed(write_tree: Any, acme: str) -> None:
    root = write_tree(
        {
            "t/acme/tenant.yaml": acme,
            "t/beta/tenant.yaml": acme.replace("tenant: acme", "tenant: beta").replace("ACME_", "BETA_"),
            "t/broken/tenant.yaml": "\t",
        }
    )
    assert only(load_tenants([root / "t"], only=["beta"])).name == "beta"  # `broken` is not even read
    with pytest.raises(InputError) as caught:
        load_tenants([root / "t"], only=["gamma"])
    assert caught.value.message == "unknown tenant 'gamma'; known tenants: acme, beta, broken"


def test_discovery_problems(write_tree: Any, acme: str) -> None:
    root = write_tree(
        {
            "t/_defaults.yaml": "safety: {min_objects: 3}\n",
            "t/acme/tenant.yaml": acme,
            "t/certs/key.pem": "x",
            "t/_shared/x.yaml": "\t",
            "t/.git/x.yaml": "\t",
        }
    )
    (root / "empty").mkdir()
    found = problems([root / "t", root / "empty", root / "nope", root / "t" / "_defaults.yaml"])
    assert found == sorted(
        [
            f"{root}/t/certs: this tenant folder holds no .yaml file (start the folder name with '_' to keep "
            "other files here)",
            f"{root}/empty: no tenants found; expected {root}/empty/<name>/tenant.yaml",
            f"{root}/nope: no such file or folder",
            f"{root}/t/_defaults.yaml: not a tenant file: expected a .yaml/.yml file not starting with '_'",
        ]
    )


def test_a_file_that_does_not_parse_hides_no_other_problem(write_tree: Any, acme: str) -> None:
    root = write_tree({"t/acme/tenant.yaml": acme, "t/acme/more.yaml": "rescue_groups_x: 'open\n"})
    # Only the syntax error: no spurious "missing key" from validating half a tenant.
    assert problems([root / "t"]) == [
        f"{root}/t/acme/more.yaml:1:18: unclosed quote: the string that starts here has no closing quote; "
        "add the matching quote"
    ]


def test_bad_defaults_file_is_reported_once(write_tree: Any, acme: str) -> None:
    root = write_tree(
        {
            "t/_defaults.yaml": "safety: [\n",
            "t/acme/tenant.yaml": acme,
            "t/beta/tenant.yaml": acme.replace("tenant: acme", "tenant: beta").replace("ACME_", "BETA_"),
        }
    )
    found = problems([root / "t"])
    assert len(found) == 1 and found[0].startswith(f"{root}/t/_defaults.yaml:2:1: invalid YAML")


def test_unknown_key_without_a_near_miss_lists_the_keys(write_tree: Any, acme: str) -> None:
    root = write_tree(
        {"t/acme/tenant.yaml": acme.replace("  instance: production", "  instance: production\n  zz: 1")}
    )
    assert problems([root / "t"]) == [
        f"{root}/t/acme/tenant.yaml:15:3: integration.zz: unknown key 'zz'; expected one of: instance, endpoint, "
        "company_id, sso_password, org_url, other_org_url, office365_tenant_id, options"
    ]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "  min_version: 2.1.0.0",
            "  min_version: 2.1",
            "12:16: solution.min_version: YAML reads the unquoted '2.1' as the number 2.1, not as text; "
            "quote it to keep it as written",
        ),
        (
            "  instance: production",
            "  instance: prod",
            "14:13: integration.instance: expected 'production' or 'beta', got 'prod'",
        ),
        (
            "  - path: Support",
            "  - path: Support\n    confirmed: soon",
            "26:16: rescue_groups.0.confirmed: expected a date YYYY-MM-DD, got 'soon'",
        ),
        (
            "tenant: acme",
            "tenant: acme\nsafety: {max_change_fraction: 5}",
            "2:31: safety.max_change_fraction: expected a value less than or equal to 1, got 5",
        ),
        (
            "tenant: acme",
            "tenant: acme\nsession_key: [1]",
            "2:1: session_key: expected a mapping of keys, got a list",
        ),
        (
            "    sso_id: bob",
            "    sso_id: bob\n    create: {group: Nope, name: Bob}",
            "24:21: technicians.1.create.group: group 'Nope' is not declared in rescue_groups; declare the group "
            "(add `- path: Nope` under rescue_groups)",
        ),
        (
            "      client_secret: {env: ACME_CLIENT_SECRET}",
            "      client_secret: {env: ACME_CLIENT_SECRET}\n      federated_token_file: {file: /run/acme-token}",
            "7:5: connection.dynamics.credential: give exactly one of "
            "client_secret, certificate or federated_token_file (found client_secret, federated_token_file)",
        ),
        (
            "      client_secret: {env: ACME_CLIENT_SECRET}",
            "      client_secret: {env: A, vaule: x}",
            "8:31: connection.dynamics.credential.client_secret.vaule: unknown key 'vaule'; did you mean 'keyvault'?",
        ),
    ],
)
def test_messages_say_what_is_expected(write_tree: Any, acme: str, old: str, new: str, expected: str) -> None:
    assert old in acme
    root = write_tree({"t/acme/tenant.yaml": acme.replace(old, new, 1)})
    assert problems([root / "t"]) == [f"{root}/t/acme/tenant.yaml:{expected}"]


def test_every_problem_of_a_file_at_once(write_tree: Any, acme: str) -> None:
    text = acme.replace("https://acme.crm", "http://acme.crm").replace("2.1.0.0", "latest")
    text = text.replace("- user: bob@acme.com", "- user: ALICE@acme.com")
    root = write_tree({"t/acme/tenant.yaml": text})
    found = problems([root / "t"])
    assert [p.split(": ")[1] for p in found] == [
        "connection.dynamics.org_url",
        "solution.min_version",
        "integration.org_url",
        "technicians.1.user",
    ]


def test_profile_override_errors_point_inside_the_profile(write_tree: Any, acme: str) -> None:
    text = acme + "profile:\n  technician_settings:\n    columns:\n      sso_idd: lmi_x\n"
    root = write_tree({"t/acme/tenant.yaml": text})
    assert problems([root / "t"]) == [
        f"{root}/t/acme/tenant.yaml:29:7: profile.technician_settings.columns.sso_idd: unknown key 'sso_idd'; "
        "did you mean 'sso_id'?"
    ]


def test_digest_follows_the_data_not_the_formatting(write_tree: Any, acme: str) -> None:
    first = only(load_tenants([write_tree({"a/acme/tenant.yaml": acme}) / "a"]))
    reformatted = "# a comment\n" + acme.replace("sso_id: alice", "sso_id: 'alice'")
    second = only(load_tenants([write_tree({"b/acme/tenant.yaml": reformatted}) / "b"]))
    changed = only(load_tenants([write_tree({"c/acme/tenant.yaml": acme.replace("alice", "carol")}) / "c"]))
    assert first.digest == second.digest
    assert first.digest != changed.digest
