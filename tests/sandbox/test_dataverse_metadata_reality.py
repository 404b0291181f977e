"""Issue 18 point 7: the org's metadata as a real org has it (docs/sandbox.md, "Metadata as a
real org has it"): the system columns of a user-owned custom table, virtual name columns with an
empty DisplayName, ``UserLocalizedLabel`` in the caller's UI language (null when there is no
label in it), and a solution holding other component types than tables and columns. Also a seed's
``dataverse:`` mapping refuses keys nobody reads (issue 18 point 8)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from dataverse_harness import HOST, install_org
from test_dataverse_actions import solution

from rescue_sandbox.dataverse import DataverseOrg
from rescue_sandbox.dataverse.standalone import StandaloneServer

pytestmark = pytest.mark.integration

SEED: dict[str, Any] = {
    "org_url": f"https://{HOST}",
    "solutions": [{"uniquename": "LogMeInRescueIntegration", "version": "2.1.0.0"}],
}
SETTINGS = "EntityDefinitions(LogicalName='lmi_logmeinsettings')"


@pytest.fixture
def org(server: StandaloneServer) -> DataverseOrg:
    return install_org(server, SEED)


def _attributes(api: httpx.Client) -> dict[str, dict[str, Any]]:
    body = api.get(
        SETTINGS,
        params={
            "$select": "LogicalName",
            "$expand": "Attributes($select=LogicalName,AttributeType,IsCustomAttribute,AttributeOf,DisplayName)",
        },
    ).json()
    return {a["LogicalName"]: a for a in body["Attributes"]}


def _english(attribute: dict[str, Any]) -> str | None:
    return next(
        (i["Label"] for i in attribute["DisplayName"]["LocalizedLabels"] if i["LanguageCode"] == 1033), None
    )


def test_a_custom_table_carries_the_system_columns_of_a_user_owned_table(
    api: httpx.Client, org: DataverseOrg
) -> None:
    attrs = _attributes(api)
    system = {
        "ownerid": ("Owner", "Owner"),
        "owninguser": ("Lookup", "Owning User"),
        "owningteam": ("Lookup", "Owning Team"),
        "owningbusinessunit": ("Lookup", "Owning Business Unit"),
        "createdby": ("Lookup", "Created By"),
        "createdonbehalfby": ("Lookup", "Created By (Delegate)"),
        "modifiedby": ("Lookup", "Modified By"),
        "modifiedonbehalfby": ("Lookup", "Modified By (Delegate)"),
        "statecode": ("State", "Status"),
        "statuscode": ("Status", "Status Reason"),
        "versionnumber": ("BigInt", "Version Number"),
        "createdon": ("DateTime", "Created On"),
        "overriddencreatedon": ("DateTime", "Record Created On"),
        "importsequencenumber": ("Integer", "Import Sequence Number"),
    }
    for name, (kind, label) in system.items():
        assert (attrs[name]["AttributeType"], _english(attrs[name])) == (kind, label), name
        assert attrs[name]["IsCustomAttribute"] is False and attrs[name]["AttributeOf"] is None, name
    for virtual, of in {
        "createdbyname": "createdby",
        "createdbyyominame": "createdby",
        "modifiedbyname": "modifiedby",
        "owneridname": "ownerid",
        "owneridyominame": "ownerid",
        "owningbusinessunitname": "owningbusinessunit",
        "lmi_useridname": "lmi_userid",  # the solution's own lookup has its virtual names too
        "lmi_useridyominame": "lmi_userid",
    }.items():
        assert attrs[virtual]["AttributeOf"] == of, virtual
        assert attrs[virtual]["DisplayName"] == {"LocalizedLabels": [], "UserLocalizedLabel": None}, virtual
    assert attrs["lmi_useridname"]["IsCustomAttribute"] is True
    assert (
        attrs["lmi_ssoid"]["IsCustomAttribute"] is True and attrs["lmi_userid"]["IsCustomAttribute"] is True
    )
    lookups = api.get(f"{SETTINGS}/Attributes/Microsoft.Dynamics.CRM.LookupAttributeMetadata").json()["value"]
    targets = {a["LogicalName"]: a["Targets"] for a in lookups}
    assert targets["ownerid"] == ["systemuser", "team"]
    assert {n for n, t in targets.items() if t == ["systemuser"]} == {
        "lmi_userid",
        "owninguser",
        "createdby",
        "createdonbehalfby",
        "modifiedby",
        "modifiedonbehalfby",
    }
    # Their values are not stored by the sandbox: a query naming one is refused, never answered empty.
    assert api.get("lmi_logmeinsettingses", params={"$select": "createdbyname"}).status_code == 400


def test_the_solution_holds_roles_forms_views_web_resources_and_plug_in_steps(
    api: httpx.Client, org: DataverseOrg
) -> None:
    installed = solution(api)
    assert installed is not None
    query = f"$select=componenttype,ismetadata&$filter=_solutionid_value eq {installed['solutionid']}"
    rows = api.get(f"solutioncomponents?{query}").json()["value"]
    kinds = {r["componenttype"] for r in rows}
    assert kinds == {1, 2, 14, 20, 26, 60, 61, 90, 91, 92}
    assert sum(1 for r in rows if r["componenttype"] == 1) == 3
    assert all(r["ismetadata"] is (r["componenttype"] in (1, 2, 14)) for r in rows)


def test_user_localized_label_follows_the_callers_ui_language(
    api: httpx.Client, server: StandaloneServer
) -> None:
    install_org(server, {**SEED, "base_language": 1040, "ui_language": 1040})
    attrs = _attributes(api)
    assert attrs["lmi_ssoid"]["DisplayName"]["UserLocalizedLabel"]["Label"] == "ID SSO"
    # English only (the sandbox's system columns): no label in the caller's language.
    created = attrs["createdby"]["DisplayName"]
    assert created["UserLocalizedLabel"] is None and created["LocalizedLabels"][0]["Label"] == "Created By"
    keys = api.get("EntityDefinitions(LogicalName='lmi_logmeinsession')/Keys").json()["value"]
    assert keys[0]["DisplayName"]["UserLocalizedLabel"]["Label"] == "Chiave di sessione"
    org = server.app.orgs[HOST]
    restored = DataverseOrg.restore(org.snapshot())  # --state-dir keeps the languages
    assert (restored.base_language, restored.ui_languages) == (1040, org.ui_languages)
    assert set(org.ui_languages.values()) == {1040}
    install_org(server, SEED)  # English caller: English labels
    assert _attributes(api)["lmi_ssoid"]["DisplayName"]["UserLocalizedLabel"]["Label"] == "SSO ID"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"solution_schema": {}}, "dataverse.solution_schema: belongs at tenants.<name>.solution_schema"),
        ({"solutons": []}, "dataverse: unknown key 'solutons'; did you mean 'solutions'?"),
        ({"ui_language": "it"}, "dataverse.ui_language: a language code"),
    ],
)
def test_a_dataverse_seed_refuses_keys_nobody_reads(extra: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as info:
        DataverseOrg.from_seed({**SEED, **extra})
    assert message in str(info.value)
