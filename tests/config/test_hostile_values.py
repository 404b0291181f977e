"""Values that pass a type check but do harm later are refused at validate, located."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reconciler.config import load_tenants
from reconciler.config.text import excerpt, printable, shorten, unsafe_character
from reconciler.config.types import version_tuple
from reconciler.errors import ConfigErrors


def _problems(write_tree: Any, text: str) -> list[str]:
    root = write_tree({"t/acme/tenant.yaml": text})
    with pytest.raises(ConfigErrors) as caught:
        load_tenants([root / "t"])
    return [str(p).split("tenant.yaml:", 1)[1] for p in caught.value.problems]


def _one(write_tree: Any, text: str) -> str:
    found = _problems(write_tree, text)
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "    sso_id: alice",
            '    sso_id: "alice\\n```\\n## Plan: no changes"',
            "21:13: technicians.0.sso_id: the value 'alice\\n```\\n## Plan: no changes' holds the control, "
            "bidi or invisible character U+000A at position 6",
        ),
        (
            "    sso_id: alice",
            '    sso_id: "ali\\u202Ece"',
            "technicians.0.sso_id: the value 'ali\\u202ece' holds",
        ),
        ("    sso_id: alice", '    sso_id: "a\\tb"', "U+0009 at position 2"),
        ("    sso_id: alice", '    sso_id: "a\\x85b"', "U+0085"),
        ("    sso_id: alice", '    sso_id: "a\\ud800b"', "U+D800"),
        ("  - path: Support", '  - path: "Support\\u2066x"', "rescue_groups.0.path: the value"),
        ("    sso_id: alice", '    sso_id: "al\\u200bice"', "U+200B"),
        ("    sso_id: alice", '    sso_id: "al\\u200dice"', "U+200D"),
        ("    sso_id: alice", '    sso_id: "al\\u2060ice"', "U+2060"),
        ("    sso_id: alice", '    sso_id: "al\\ufeffice"', "U+FEFF"),
        ("    sso_id: alice", '    sso_id: "al\\U000E0041ice"', "U+E0041"),
        ("    sso_id: alice", '    sso_id: "al\\U000E007Fice"', "U+E007F"),
    ],
)
def test_control_and_bidi_characters_are_refused(
    write_tree: Any, acme: str, old: str, new: str, expected: str
) -> None:
    found = _problems(write_tree, acme.replace(old, new))
    (problem,) = [p for p in found if "only printable text is allowed" in p]
    assert expected in problem
    assert unsafe_character(problem.split(": ", 1)[1]) is None  # the message itself is printable


@pytest.mark.parametrize(
    ("old", "new", "path"),
    [
        ("  - path: Support", '  - path: "Cafe\\u0301"', "rescue_groups.0.path"),
        ("    sso_id: alice", '    sso_id: "zoe\\u0308"', "technicians.0.sso_id"),
        ("  - user: alice@acme.com", '  - user: "a\\u0301lice@acme.com"', "technicians.0.user"),
    ],
)
def test_values_not_in_nfc_form_are_refused(
    write_tree: Any, acme: str, old: str, new: str, path: str
) -> None:
    assert old in acme
    found = _problems(write_tree, acme.replace(old, new))
    (problem,) = [p for p in found if "NFC" in p]
    assert f"{path}: the value" in problem and problem.endswith("write it in NFC form")


def test_control_characters_are_refused_in_profile_overrides_too(write_tree: Any, acme: str) -> None:
    text = acme + 'profile:\n  technician_settings:\n    columns:\n      sso_id: "lmi_sso\\r"\n'
    assert "profile.technician_settings.columns.sso_id: the value 'lmi_sso\\r' holds" in _one(
        write_tree, text
    )


def test_a_long_value_is_quoted_short(write_tree: Any, acme: str) -> None:
    problem = _one(write_tree, acme.replace("    sso_id: alice", "    sso_id: " + "x" * 300))
    assert problem.endswith(
        "technicians.0.sso_id: is 300 characters long; at most 128 are allowed (what the service stores)"
    )
    long_url = "https://" + "a" * 5000 + "@evil.example.com"
    problem = _one(
        write_tree, acme.replace("\n  org_url: https://acme.crm.dynamics.com", f"\n  org_url: {long_url}")
    )
    assert len(problem) < 200 and "…(+" in problem


def test_sso_id_without_spaces_at_the_ends(write_tree: Any, acme: str) -> None:
    problem = _one(write_tree, acme.replace("    sso_id: alice", '    sso_id: " alice"'))
    assert problem.endswith(
        "technicians.0.sso_id: the value ' alice' starts or ends with white space; remove it"
    )


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ('  company_id: "1234567"', "  company_id: 0x1F", "the unquoted '0x1F' as the number 31"),
        (
            "    sso_id: alice",
            "    sso_id: no",
            "technicians.0.sso_id: YAML reads the unquoted 'no' as the bool false",
        ),
        ("    sso_id: alice", "    sso_id: on", "as the bool true"),
        ("    sso_id: alice", "    sso_id: 1:20", "the unquoted '1:20' as the number 80"),
        ("    sso_id: alice", "    sso_id: 1.5e+3", "the unquoted '1.5e+3' as the number 1500.0"),
        ("    sso_id: alice", "    sso_id: 0755", "the unquoted '0755' as the number 493"),
        ("    sso_id: alice", "    sso_id: 2024-01-02", "the unquoted '2024-01-02' as the date 2024-01-02"),
        ("tenant: acme", "tenant: 0123", "the unquoted '0123' as the number 83"),
    ],
)
def test_yaml_11_surprises_say_quote_it(
    write_tree: Any, acme: str, old: str, new: str, expected: str
) -> None:
    problems = _problems(write_tree, acme.replace(old, new))
    assert any(
        expected in p and p.endswith("not as text; quote it to keep it as written") for p in problems
    ), problems


def test_digit_fields_keep_the_digits_as_written(write_tree: Any, acme: str) -> None:
    text = acme.replace('  company_id: "1234567"', "  company_id: 0123").replace(
        "    sso_id: bob", "    sso_id: bob\n    technician_id: 041002"
    )
    root = write_tree({"t/acme/tenant.yaml": text})
    (tenant,) = load_tenants([root / "t"])
    assert tenant.model.integration is not None
    assert tenant.model.integration.company_id == "0123"  # not the octal 83
    assert tenant.model.technicians[1].technician_id == "041002"  # not 16898


@pytest.mark.parametrize("path", ["Support/../Admins", "./Support", "Support/./Tier 1", ".."])
def test_group_paths_name_every_group(write_tree: Any, acme: str, path: str) -> None:
    problem = _one(write_tree, acme.replace("  - path: Support", f'  - path: "{path}"'))
    assert "has a '.' or '..' segment" in problem


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://acme.crm.dynamics.com@evil.example.com", "has user info"),
        ("https://user:pw@acme.crm.dynamics.com", "has user info"),
        ("https://acme.crm.dynamics.com/?x=1", "must not have a query string or fragment"),
        ("https://acme.crm.dynamics.com/#top", "must not have a query string or fragment"),
        ("https://acme.crm.dynamics.com/main.aspx", "has a path; an org URL is only https://<org host>"),
        ("https://acme crm.com", "invalid host name"),
    ],
)
def test_urls_have_no_user_info_query_or_fragment(
    write_tree: Any, acme: str, url: str, expected: str
) -> None:
    text = acme.replace("\n  org_url: https://acme.crm.dynamics.com", f"\n  org_url: {url}")
    problems = _problems(write_tree, text)
    assert any(p.startswith("17:12: integration.org_url: ") and expected in p for p in problems), problems


def test_integration_org_url_names_the_connected_org(write_tree: Any, acme: str) -> None:
    text = acme.replace(
        "\n  org_url: https://acme.crm.dynamics.com", "\n  org_url: https://other.crm.dynamics.com"
    )
    assert _one(write_tree, text).startswith(
        "17:12: integration.org_url: 'https://other.crm.dynamics.com' is not the org this tenant connects to "
        "('https://acme.crm.dynamics.com' at "
    )
    opted_out = text.replace("  org_url: https://other", "  other_org_url: true\n  org_url: https://other")
    root = write_tree({"u/acme/tenant.yaml": opted_out})
    (tenant,) = load_tenants([root / "u"])
    assert tenant.model.integration is not None and tenant.model.integration.other_org_url
    same = acme.replace(
        "\n  org_url: https://acme.crm.dynamics.com", "\n  org_url: HTTPS://ACME.crm.dynamics.com/"
    )
    root = write_tree({"v/acme/tenant.yaml": same})
    assert load_tenants([root / "v"])


def test_bad_values_fail_plan_before_any_request(
    write_tree: Any, acme: str, reconcile: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`plan` stops at the tenant files: no connection is ever made (a socket would raise)."""
    import socket

    def no_network(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a request was attempted")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    root = write_tree({"t/acme/tenant.yaml": acme.replace("    sso_id: alice", '    sso_id: "a\\nb"')})
    outcome = reconcile(["plan", str(root / "t")])
    assert outcome.exit_code == 1
    assert "technicians.0.sso_id: the value 'a\\nb' holds" in outcome.stderr
    assert "nothing was sent to any API" in outcome.stderr


def test_text_helpers() -> None:
    assert printable("a\nb\u202ec\x1b") == "a\\nb\\u202ec\\x1b"
    assert shorten("abc", 3) == "abc"
    cut = shorten("x" * 100, 20)
    assert len(cut) == 20 and cut.endswith("…(+92 chars)")
    assert excerpt("x" * 1000, 30).startswith("'xxx") and len(excerpt("x" * 1000, 30)) == 32
    assert excerpt(Path("a")) == "'a'"


@pytest.mark.parametrize("command", [["validate"], ["gitops", "validate-files"]])
def test_a_newline_in_a_key_or_folder_name_cannot_start_a_line_of_its_own(
    write_tree: Any, acme: str, reconcile: Any, command: list[str]
) -> None:
    """A `::error` line in a GitHub job log is a workflow command: no key or name may print one."""
    key = '"bogus\\n::error title=pwned::owned\\n": 1\n'
    root = write_tree(
        {
            "t/acme/tenant.yaml": acme + key,
            "t/x\n::warning title=pwned::owned/tenant.yaml": acme.replace("acme", "x"),
        }
    )
    files = [
        str(root / "t" / "acme" / "tenant.yaml"),
        str(root / "t" / "x\n::warning title=pwned::owned" / "tenant.yaml"),
    ]
    outcome = reconcile([*command, *(files if command[0] == "gitops" else [str(root / "t")])])
    assert outcome.exit_code == 1
    lines = (outcome.stdout + outcome.stderr).splitlines()
    assert not [line for line in lines if line.startswith("::")], lines
    assert any("bogus\\n::error title=pwned::owned\\n" in line for line in lines), lines
    assert any("x\\n::warning title=pwned::owned" in line for line in lines), lines


@pytest.mark.parametrize("digits", ["\\u0661\\u0662\\u0663", "\\uff11\\uff12", "12\\u0663"])
def test_digit_fields_take_ascii_digits_only(write_tree: Any, acme: str, digits: str) -> None:
    """`\\d`, str.isdigit() and int() take Arabic-Indic or fullwidth digits: the services do not."""
    problem = _one(write_tree, acme.replace('company_id: "1234567"', f'company_id: "{digits}"'))
    assert "integration.company_id:" in problem and "expected digits only" in problem


def test_a_live_version_with_other_digits_counts_as_zero() -> None:
    assert version_tuple("2.\u00b2.\u0663") == (2, 0, 0, 0)  # `²`.isdigit() is True, int("²") fails


@pytest.mark.parametrize(
    ("new", "expected"),
    [
        (
            "  - user: " + "a" * 65 + "@acme.com",
            "technicians.0.user: 'aaaaaaaaaaaaaaaaaaaaaaaaaaaa…(+46 chars)' has 65 characters before the @; "
            "at most 64 are allowed",
        ),
        (
            "  - user: alice@" + "b" * 110 + ".com",
            "technicians.0.user: is 120 characters long; at most 113 are allowed",
        ),
        (
            "  - user: alice@acme.com\n    rescue_email: a@" + "b" * 260 + ".com",
            "technicians.0.rescue_email: is 266 characters long; at most 254 are allowed",
        ),
    ],
)
def test_technician_users_and_emails_are_within_what_the_services_store(
    write_tree: Any, acme: str, new: str, expected: str
) -> None:
    problem = _one(write_tree, acme.replace("  - user: alice@acme.com", new))
    assert expected in problem
