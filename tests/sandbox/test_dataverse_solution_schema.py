"""The sandbox's own solution schema: labels per language, solution components, $expand of a
table's attributes and keys, and a seed that renames everything (Italian labels only)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from dataverse_harness import HOST, install_org

from rescue_sandbox.dataverse import DataverseOrg
from rescue_sandbox.dataverse.solution_schema import default_schema, schema_from_seed
from rescue_sandbox.dataverse.standalone import StandaloneServer

pytestmark = pytest.mark.integration

SEED: dict[str, Any] = {
    "org_url": f"https://{HOST}",
    "solutions": [{"uniquename": "LogMeInRescueIntegration", "version": "2.1.0.0"}],
}
RENAMED: dict[str, Any] = {
    "technician_settings": {
        "table": "xyz_impostazioni",
        "entity_set": "xyz_impostazionis",
        "id_column": "xyz_impostazioniid",
        "user_lookup": "xyz_utente",
        "user_navigation": "xyz_Utente",
        "columns": {"technician_id": "xyz_idtecnico", "sso_id": "xyz_idsso", "auth_code": "xyz_codice"},
        "labels": {
            "table": {1040: "Impostazioni LogMeIn"},
            "user_lookup": {1040: "Utente"},
            "technician_id": {1040: "ID del tecnico"},
            "sso_id": {1040: "ID SSO"},
            "auth_code": {1040: "codice di autenticazione"},
        },
    }
}


@pytest.fixture
def org(server: StandaloneServer) -> DataverseOrg:
    return install_org(server, SEED)


def _languages(label: dict[str, Any]) -> dict[int, str]:
    return {item["LanguageCode"]: item["Label"] for item in label["LocalizedLabels"]}


def test_components_lead_to_tables_with_labels_in_each_language(api: httpx.Client, org: DataverseOrg) -> None:
    [solution] = api.get(
        "solutions?$select=solutionid&$filter=uniquename eq 'LogMeInRescueIntegration'"
    ).json()["value"]
    components = api.get(
        "solutioncomponents?$select=objectid,componenttype"
        f"&$filter=_solutionid_value eq {solution['solutionid']} and componenttype eq 1"
    ).json()["value"]
    assert len(components) == 3
    names = {}
    for component in components:
        table = api.get(
            f"EntityDefinitions({component['objectid']})?$select=LogicalName,DisplayName"
            "&$expand=Attributes($select=LogicalName,AttributeType,DisplayName),Keys"
        ).json()
        names[table["LogicalName"]] = _languages(table["DisplayName"])
        if table["LogicalName"] == "lmi_logmeinsession":
            [key] = table["Keys"]
            assert _languages(key["DisplayName"]) == {1033: "Session Key", 1040: "Chiave di sessione"}
        if table["LogicalName"] == "lmi_logmeinsettings":
            attrs = {a["LogicalName"]: a for a in table["Attributes"]}
            assert attrs["lmi_userid"]["AttributeType"] == "Lookup" and "Targets" not in attrs["lmi_userid"]
            assert _languages(attrs["lmi_technicianid"]["DisplayName"])[1040] == "ID del tecnico"
            assert set(attrs["lmi_ssoid"]) == {
                "@odata.type",
                "MetadataId",
                "LogicalName",
                "AttributeType",
                "DisplayName",
            }
    assert names["lmi_logmeinsession"] == {1033: "LogMeIn Session", 1040: "Sessione LogMeIn"}
    assert names["lmi_rescueconfiguration"][1040] == "Configurazione di LogMeIn Rescue"


def test_components_are_read_only_and_expand_refuses_what_it_cannot_do(
    api: httpx.Client, org: DataverseOrg
) -> None:
    assert api.post("solutioncomponents", json={"componenttype": 1}).status_code in (400, 405)
    reply = api.get("EntityDefinitions(LogicalName='lmi_logmeinsession')?$expand=Attributes($filter=x)")
    assert reply.status_code == 400
    # Targets belongs to LookupAttributeMetadata: not selectable on the base type.
    reply = api.get(
        "EntityDefinitions(LogicalName='lmi_logmeinsettings')?$expand=Attributes($select=Targets)"
    )
    assert reply.status_code == 400
    lookup = api.get(
        "EntityDefinitions(LogicalName='lmi_logmeinsettings')/Attributes(LogicalName='lmi_userid')"
        "/Microsoft.Dynamics.CRM.LookupAttributeMetadata?$select=Targets"
    ).json()
    assert lookup["Targets"] == ["systemuser"]


def test_a_seed_renames_the_solution_and_keeps_only_italian_labels(
    api: httpx.Client, server: StandaloneServer
) -> None:
    install_org(server, {**SEED, "settings": []}, schema=schema_from_seed(RENAMED))
    table = api.get(
        "EntityDefinitions(LogicalName='xyz_impostazioni')?$select=LogicalName,DisplayName"
        "&$expand=Attributes($select=LogicalName,DisplayName)"
    ).json()
    assert _languages(table["DisplayName"]) == {1040: "Impostazioni LogMeIn"}
    # The caller's UI language is English (the default): it has no label in it.
    assert table["DisplayName"]["UserLocalizedLabel"] is None
    attrs = {a["LogicalName"]: _languages(a["DisplayName"]) for a in table["Attributes"]}
    assert attrs["xyz_idsso"] == {1040: "ID SSO"}
    assert api.get("EntityDefinitions(LogicalName='lmi_logmeinsettings')").status_code == 404
    # Parts the seed leaves alone keep the sandbox's defaults.
    assert api.get("EntityDefinitions(LogicalName='lmi_logmeinsession')").status_code == 200


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"nosuch": {}}, "solution_schema.nosuch: unknown section"),
        ({"session": {"key_columns": []}}, "solution_schema.session.key_columns"),
        ({"technician_settings": {"columns": {"sso": "x"}}}, "unknown role(s) sso"),
        ({"integration": {"labels": {"table": {"en": "x"}}}}, "solution_schema.integration.labels.table.en"),
    ],
)
def test_a_bad_schema_section_is_named(section: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        schema_from_seed(section)


def test_the_default_schema_has_english_and_italian_labels_for_every_role() -> None:
    schema = default_schema()
    for part in schema.tables:
        for role in ("table", *part.columns):
            assert set(part.label(role)) == {1033, 1040}, (part.table, role)
