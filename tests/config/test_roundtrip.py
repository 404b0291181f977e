"""merge_export: live values replace what was written; what only a person knows stays."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.config.roundtrip import merge_export
from reconciler.errors import InputError

WRITTEN = """\
# header comment
tenant: acme   # the name
integration:
  company_id: "0123"   # from the Admin Center
  options:
    close_ticket_on_session_end: false
technicians:
  - user: alice@acme.com
    rescue_email: a@acme.com
    sso_id: alice
    create: {group: Support, name: Alice}
  - user: gone@acme.com
rescue_groups:
  - path: Support
    export:
      url: https://example.com/post
    confirmed: 2026-10-01   # checked by hand
"""
EXPORTED = """\
tenant: acme
integration:
  company_id: "0123"
  options:
    close_ticket_on_session_end: true
application_user:
  first_name: LogMeIn
  roles: [Other Role]
technicians:
  - user: alice@acme.com
    technician_id: "41001"
    sso_id: alice2
  - user: new@acme.com
rescue_groups:
  - path: support
  - path: Support/Tier 9
"""


def test_live_values_replace_and_person_knowledge_stays() -> None:
    path = Path("tenant.yaml")
    result = merge_export({path: WRITTEN}, EXPORTED, defaults={"application_user": {"first_name": "LogMeIn"}})
    assert (
        result.texts[path]
        == """\
# header comment
tenant: acme   # the name
integration:
  company_id: "0123"   # from the Admin Center
  options:
    close_ticket_on_session_end: true
technicians:
  - user: alice@acme.com
    sso_id: alice2
    create: {group: Support, name: Alice}
    technician_id: "41001"
  - user: gone@acme.com
  - user: new@acme.com
rescue_groups:
  - path: Support
    export:
      url: https://example.com/post
    confirmed: 2026-10-01   # checked by hand
  - path: Support/Tier 9
application_user:
  roles: [Other Role]
"""
    )
    assert result.kept == ["technicians: gone@acme.com"]


def test_each_key_is_updated_in_the_file_that_sets_it() -> None:
    main, groups = Path("tenant.yaml"), Path("groups.yaml")
    head, tail = WRITTEN.split("rescue_groups:\n")
    result = merge_export({main: head, groups: "rescue_groups:\n" + tail}, EXPORTED)
    assert "rescue_groups" not in result.texts[main]
    assert result.texts[groups].endswith("  - path: Support/Tier 9\n")
    assert "confirmed: 2026-10-01   # checked by hand" in result.texts[groups]


def test_nothing_changes_when_the_files_match() -> None:
    assert merge_export({Path("t.yaml"): WRITTEN}, "tenant: acme\n").texts == {}


def test_a_file_that_is_not_a_mapping_is_refused() -> None:
    with pytest.raises(InputError, match="is not a mapping"):
        merge_export({Path("t.yaml"): "- a\n"}, EXPORTED)


def test_a_key_added_at_the_end_of_a_mapping_keeps_the_blank_line_after_it() -> None:
    path = Path("t.yaml")
    written = "solution:\n  min_version: 2.0.3\n\napplication_user:\n  email: a@acme.com\n\ntechnicians: []\n"
    exported = "solution:\n  min_version: 2.0.3.0\napplication_user:\n  email: a@acme.com\n  roles: []\n"
    assert merge_export({path: written}, exported).texts[path] == (
        "solution:\n  min_version: 2.0.3\n\n"  # a person's floor, not the installed version
        "application_user:\n  email: a@acme.com\n  roles: []\n\ntechnicians: []\n"
    )
