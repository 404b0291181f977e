"""Each bad-input case of issue 2: exit 1, the exact file:line:col, a message saying what is expected.

The cases live in tests/data/bad/<case>/ (a tenants folder holding tenant `acme`); the command
runs from tests/data/bad so the reported paths are short and exact.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

BAD = Path(__file__).resolve().parents[1] / "data" / "bad"

# case -> (extra PATH arguments or None for the case folder, expected "file:line:col: path: message" start)
CASES: dict[str, tuple[list[str] | None, str]] = {
    "tab_indentation": (
        None,
        "tab_indentation/acme/tenant.yaml:3:1: tabs are not allowed for indentation; use spaces",
    ),
    "unclosed_quote": (
        None,
        "unclosed_quote/acme/tenant.yaml:15:15: unclosed quote: the string that starts here has no closing quote",
    ),
    "unknown_key_near_miss": (
        None,
        "unknown_key_near_miss/acme/tenant.yaml:20:5: integration.options.close_tiket_on_session_end: "
        "unknown key 'close_tiket_on_session_end'; did you mean 'close_ticket_on_session_end'?",
    ),
    "wrong_type": (
        None,
        "wrong_type/acme/tenant.yaml:20:34: integration.options.close_ticket_on_session_end: "
        "expected true or false, got 'yes please'",
    ),
    "invalid_guid": (
        None,
        "invalid_guid/acme/tenant.yaml:5:16: connection.dynamics.tenant_id: '11111111-2222-4333-8444' is not a "
        "GUID; expected the form 1e2716f5-fee6-4370-a121-baea6d360668",
    ),
    "http_url": (
        None,
        "http_url/acme/tenant.yaml:4:14: connection.dynamics.org_url: 'http://acme.crm.dynamics.com' uses "
        "http://; only https:// URLs are allowed",
    ),
    "non_numeric_company_id": (
        None,
        "non_numeric_company_id/acme/tenant.yaml:15:15: integration.company_id: '12345ab' is not numeric; "
        "expected digits only",
    ),
    "version_latest": (
        None,
        "version_latest/acme/tenant.yaml:12:16: solution.min_version: 'latest' is not a version; "
        "expected numbers a.b, a.b.c or a.b.c.d",
    ),
    "duplicate_user": (
        None,
        "duplicate_user/acme/tenant.yaml:24:11: technicians.1.user: user 'alice@acme.com' is listed twice; "
        "list each Dynamics user once; also at duplicate_user/acme/tenant.yaml:22:11",
    ),
    "duplicate_technician_id": (
        None,
        "duplicate_technician_id/acme/tenant.yaml:25:20: technicians.1.technician_id: technician ID '30215' is "
        "pinned for two users; a Rescue technician maps to one Dynamics user; "
        "also at duplicate_technician_id/acme/tenant.yaml:23:20",
    ),
    "duplicate_yaml_key": (
        None,
        "duplicate_yaml_key/acme/tenant.yaml:15:3: integration.instance: duplicate key 'instance': it is already "
        "defined at line 14; a key may appear only once in a mapping",
    ),
    "plain_text_secret": (
        None,
        "plain_text_secret/acme/tenant.yaml:8:22: connection.dynamics.credential.client_secret: the value is a "
        "plain-text secret; secrets are references: write {env: VARIABLE_NAME}, {file: /path/to/file} or "
        "{keyvault: {vault: https://NAME.vault.azure.net, secret: NAME}}",
    ),
    "missing_required_field": (
        None,
        "missing_required_field/acme/tenant.yaml:11:1: solution.min_version: missing required key 'min_version'",
    ),
    "empty_file": (
        None,
        "empty_file/acme/tenant.yaml:1:1: the file is empty; a tenant file must be a mapping of keys",
    ),
    "file_is_list": (
        None,
        "file_is_list/acme/tenant.yaml:1:1: a tenant file must be a mapping of keys, e.g. `tenant: contoso`; "
        "found a list",
    ),
    "duplicate_tenant_name": (
        ["duplicate_tenant_name/site-a", "duplicate_tenant_name/site-b"],
        "duplicate_tenant_name/site-b/acme/tenant.yaml:1:9: tenant: tenant 'acme' is defined twice; "
        "also at duplicate_tenant_name/site-a/acme/tenant.yaml:1:9; tenant names must be unique",
    ),
    "alias_bomb": (
        None,
        "alias_bomb/acme/tenant.yaml:6:1: aliases expand to more than 10,000 nodes (an alias bomb?)",
    ),
}


def test_every_case_has_a_data_folder() -> None:
    assert sorted(p.name for p in BAD.iterdir() if p.is_dir()) == sorted(CASES)


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_refused_with_its_position(case: str, reconcile: Any) -> None:
    paths, expected = CASES[case]
    outcome = reconcile(["validate", *(paths or [case])], cwd=BAD)
    assert outcome.exit_code == 1
    assert outcome.stdout == ""
    problems = [line for line in outcome.stderr.splitlines() if not line.startswith("error:")]
    assert len(problems) == 1, outcome.stderr
    assert problems[0].startswith(expected), problems[0]
    assert outcome.stderr.rstrip().endswith("nothing was sent to any API")
    assert "Traceback" not in outcome.stderr
    assert "pydantic" not in outcome.stderr  # no pydantic URLs or class names


def test_plain_text_secret_value_is_never_echoed(reconcile: Any) -> None:
    outcome = reconcile(["validate", "plain_text_secret"], cwd=BAD)
    assert "hunter2" not in outcome.stderr + outcome.stdout


def test_problems_of_several_bad_files_come_in_one_run(reconcile: Any, write_tree: Any, acme: str) -> None:
    # Each tenant names its own secrets (ONE_..., TWO_...): another tenant's would be a problem too.
    one = acme.replace("tenant: acme", "tenant: one").replace("ACME_", "ONE_")
    one = one.replace("https://acme.crm", "http://acme.crm", 1)
    one = one.replace("  instance: production", "  instanse: production")
    two = acme.replace("tenant: acme", "tenant: two").replace("ACME_", "TWO_")
    root = write_tree(
        {
            "tenants/one/tenant.yaml": one,
            "tenants/two/tenant.yaml": two,
            "tenants/two/more.yaml": "technicians_extra:\n\t- user: x@acme.com\n",
        }
    )
    outcome = reconcile(["validate", "tenants"], cwd=root)
    assert outcome.exit_code == 1
    lines = outcome.stderr.splitlines()
    assert lines == [
        "tenants/one/tenant.yaml:4:14: connection.dynamics.org_url: 'http://acme.crm.dynamics.com' uses http://; "
        "only https:// URLs are allowed (TLS is always on)",
        "tenants/one/tenant.yaml:13:1: integration.instance: missing required key 'instance'",
        "tenants/one/tenant.yaml:14:3: integration.instanse: unknown key 'instanse'; did you mean 'instance'?",
        "tenants/two/more.yaml:2:1: tabs are not allowed for indentation; use spaces",
        "error: 4 problems in the tenant files; nothing was sent to any API",
    ]
