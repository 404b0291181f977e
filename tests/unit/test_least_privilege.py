"""The least-privilege list and doctor's grouping of missing privileges (pure): rows as the
security role editor shows them (table x access level), depths read from RetrieveUserPrivileges,
and every field of TenantNeeds shown (a field added later is not left out)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from tenant_models import tenant_model

from reconciler.engine.doctor_privileges import held_depths, missing_privileges
from reconciler.engine.needs import tenant_needs
from reconciler.kinds.needs import TenantNeeds
from reconciler.profile import effective_profile
from reconciler.render.least_privilege import (
    NOT_GRANTS,
    listing_lines,
    need_sections,
    privilege_rows,
    render_markdown,
    split_privilege,
)

PROFILE = effective_profile({})


@pytest.mark.parametrize(
    ("name", "split"),
    [
        ("prvAppendTolmi_logmeinsettings", ("AppendTo", "lmi_logmeinsettings")),
        ("prvAppendUser", ("Append", "User")),
        ("prvReadEntity", ("Read", "Entity")),
        ("prvCreateEntityKey", ("Create", "EntityKey")),
        ("prvImportCustomization", None),
        ("prvRead", None),
        ("ReadUser", None),
    ],
)
def test_a_privilege_splits_into_verb_and_table(name: str, split: tuple[str, str] | None) -> None:
    assert split_privilege(name) == split


def test_privileges_are_grouped_by_table_in_the_editors_verb_order() -> None:
    why = {
        "prvWritelmi_logmeinsettings": ["table lmi_logmeinsettings: technicians"],
        "prvReadlmi_logmeinsettings": ["table lmi_logmeinsettings: every plan lists the settings rows"],
        "prvAppendToUser": ["table User: technicians"],
        "prvImportCustomization": ["solution import (solution.package)"],
    }
    rows = privilege_rows(list(why), why, PROFILE)
    assert [row.text for row in rows] == [
        "User (systemuser): Append To at Organization level",
        "LogMeIn Settings (lmi_logmeinsettings): Read, Write at Organization level",
        "Import Customizations (prvImportCustomization, a miscellaneous privilege) at Organization level",
    ]
    assert rows[1].why == ("every plan lists the settings rows", "technicians")
    assert rows[1].privileges == ("prvReadlmi_logmeinsettings", "prvWritelmi_logmeinsettings")


def test_a_profile_override_names_the_solution_table_it_points_at() -> None:
    profile = effective_profile({"technician_settings": {"table": "new_logmeinsettings"}})
    [row] = privilege_rows(["prvReadnew_LogMeInSettings"], {}, profile)
    assert row.text == "LogMeIn Settings (new_logmeinsettings): Read at Organization level"


def test_only_organization_level_counts_as_held() -> None:
    held = held_depths(
        [
            {"PrivilegeName": "prvReadUser", "Depth": "Local"},
            {"PrivilegeName": "prvReadUser", "Depth": "Global"},  # another role holds it wider
            {"PrivilegeName": "prvWritelmi_logmeinsettings", "Depth": "Basic"},
            {"PrivilegeName": "prvReadRole", "Depth": 2},
            {"PrivilegeName": "prvReadSolution", "Depth": "Sideways"},
            {"Depth": "Global"},
        ]
    )
    assert held == {"prvreaduser": "Global", "prvwritelmi_logmeinsettings": "Basic", "prvreadrole": "Deep"}
    needed = ["prvReadUser", "prvWritelmi_logmeinsettings", "prvReadRole", "prvReadSolution"]
    assert missing_privileges(needed, held) == {
        "prvWritelmi_logmeinsettings": "User",
        "prvReadRole": "Parent: Child Business Units",
        "prvReadSolution": None,
    }


def test_every_field_of_the_needs_is_listed_or_said_not_to_be_a_grant() -> None:
    @dataclasses.dataclass
    class MoreNeeds(TenantNeeds):  # another stream's needs, added later
        key_vault: dict[str, list[str]] = dataclasses.field(default_factory=dict)

    @dataclasses.dataclass(frozen=True)
    class Call:  # a need named by a record (the Rescue call and the role it needs)
        method: str
        role: str = "Administrator"
        group: str = ""

    @dataclasses.dataclass
    class WithCalls(MoreNeeds):
        rescue: dict[Call, list[str]] = dataclasses.field(default_factory=dict)

    needs = WithCalls()
    needs.privilege("prvReadUser", "table User: every plan")
    needs.key_vault["secrets/get on vault-x"] = ["connection.rescue.authcode"]
    needs.rescue[Call("getHierarchy_v2")] = ["every plan"]
    sections = {s.key: s for s in need_sections(needs, PROFILE)}
    assert sections["key_vault"].entries == (("secrets/get on vault-x", ("connection.rescue.authcode",)),)
    assert sections["rescue"].entries == (("getHierarchy_v2 (role: Administrator)", ("every plan",)),)
    assert list(sections) == ["dataverse", "graph", "rescue", "key_vault"]  # in field order; empty: not shown
    assert set(NOT_GRANTS) <= {f.name for f in dataclasses.fields(TenantNeeds)}


def test_the_list_escapes_what_it_quotes_and_fences_it_in_markdown() -> None:
    needs = TenantNeeds()
    needs.graph_permission("Application.Read.All", "a rule named ```x\n# heading")
    lines = listing_lines(need_sections(needs, PROFILE))
    assert "    for: a rule named ```x\\n# heading" in lines  # the line break shown, not obeyed
    markdown = render_markdown(need_sections(needs, PROFILE)).splitlines()
    assert markdown[0] == "````text" and markdown[-1] == "````"  # longer than any run inside


def _rules(**declared: Any) -> list[str]:
    model = tenant_model(**declared)
    return listing_lines(need_sections(tenant_needs(model, PROFILE), PROFILE))


def test_an_entra_rule_adds_the_group_members_permission_to_the_list() -> None:
    lines = _rules(technician_rules=[{"entra_group": "5d0b2f3e-8c1a-4e6b-9f70-1a2b3c4d5e01"}])
    assert "  GroupMember.Read.All" in lines


def test_the_cli_prints_the_list_without_a_request(monkeypatch: pytest.MonkeyPatch) -> None:
    from pathlib import Path

    from click.testing import CliRunner

    from reconciler.cli import cli

    examples = Path(__file__).resolve().parents[2] / "tenants"
    monkeypatch.setenv("RECONCILE_GRAPH_URL", "https://graph.invalid")  # nothing may be asked
    runner = CliRunner()
    listed = runner.invoke(cli, ["doctor", str(examples), "--least-privilege", "--format", "json"])
    assert listed.exit_code == 0, listed.output
    tenants = {t["tenant"]: t for t in json.loads(listed.stdout)["tenants"]}
    assert set(tenants) == {"contoso", "fabrikam"}
    grants = [row["grant"] for row in tenants["contoso"]["dataverse"]]
    assert (
        "LogMeIn Settings (lmi_logmeinsettings): Create, Read, Write, Append at Organization level" in grants
    )
    assert [row["grant"] for row in tenants["contoso"]["graph"]] == ["Application.Read.All"]
    markdown = runner.invoke(cli, ["doctor", str(examples), "--least-privilege", "--format", "markdown"])
    assert markdown.exit_code == 0 and markdown.stdout.startswith("### contoso\n\n```text\n")
    refused = runner.invoke(cli, ["doctor", str(examples), "--format", "markdown"])
    assert refused.exit_code != 0 and "--least-privilege" in refused.output
