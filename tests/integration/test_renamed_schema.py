"""An org whose solution uses other logical names (another prefix, other columns, Italian labels
only): plan with the default profile stops naming each missing name and writes nothing;
`profile discover --write` fixes the tenant file; plan then apply converge."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from rescue_sandbox import load_seed, running_sandbox
from rescue_sandbox.seed import demo_seed_path

from .conftest import EXAMPLE_TENANTS, control, invoke

pytestmark = pytest.mark.integration


def italian(**labels: str) -> dict[str, dict[int, str]]:
    return {role: {1040: text} for role, text in labels.items()}


RENAMED: dict[str, Any] = {
    "integration": {
        "table": "xyz_configurazione",
        "entity_set": "xyz_configuraziones",
        "id_column": "xyz_configurazioneid",
        "columns": {
            "instance": "xyz_istanza",
            "endpoint": "xyz_endpoint",
            "company_id": "xyz_idazienda",
            "sso_password": "xyz_passwordsso",
            "org_url": "xyz_urlorg",
            "office365_tenant_id": "xyz_idtenant",
            "require_active_technician_console": "xyz_consoleattiva",
            "close_ticket_on_session_end": "xyz_chiuditicket",
            "reassign_case_on_session_start": "xyz_riassegnacaso",
            "do_not_pass_custom_field_1": "xyz_noncampo1",
        },
        "instance_values": {"production": 876540000, "beta": 876540001},
        "labels": italian(
            table="Configurazione di LogMeIn Rescue",
            instance="Istanza",
            endpoint="Endpoint",
            company_id="ID azienda",
            sso_password="Password SSO",
            org_url="URL dell'organizzazione",
            office365_tenant_id="ID tenant di Office 365",
            require_active_technician_console="Richiedi la console del tecnico attiva",
            close_ticket_on_session_end="Chiudi il ticket al termine della sessione",
            reassign_case_on_session_start="Riassegna il caso all'avvio della sessione",
            do_not_pass_custom_field_1="Non passare il campo personalizzato 1",
            production="Produzione",
            beta="Beta",
        ),
    },
    "technician_settings": {
        "table": "xyz_impostazioni",
        "entity_set": "xyz_impostazionis",
        "id_column": "xyz_impostazioniid",
        "user_lookup": "xyz_utente",
        "user_navigation": "xyz_Utente",
        "columns": {"technician_id": "xyz_idtecnico", "sso_id": "xyz_idsso", "auth_code": "xyz_codice"},
        "labels": italian(
            table="Impostazioni LogMeIn",
            user_lookup="Utente",
            technician_id="ID del tecnico",
            sso_id="ID SSO",
            auth_code="codice di autenticazione",
        ),
    },
    "session": {
        "table": "xyz_sessione",
        "entity_set": "xyz_sessiones",
        "id_column": "xyz_sessioneid",
        "key_logical_name": "xyz_chiavesessione",
        "key_schema_name": "xyz_ChiaveSessione",
        "key_columns": ["xyz_idsessione"],
        "columns": {"technician_id": "xyz_tecnico", "start_time": "xyz_inizio", "end_time": "xyz_fine"},
        "case_lookup": "xyz_caso",
        "case_navigation": "xyz_Caso",
        "labels": italian(
            table="Sessione LogMeIn",
            key="Chiave di sessione",
            xyz_idsessione="ID della sessione",
            technician_id="ID del tecnico",
            start_time="Ora di inizio",
            end_time="Ora di fine",
            case_lookup="Caso",
        ),
    },
}


def test_plan_stops_discover_writes_the_profile_then_plan_and_apply_converge(tmp_path: Path) -> None:
    seed = copy.deepcopy(load_seed(demo_seed_path()))
    seed["tenants"]["contoso"]["solution_schema"] = RENAMED
    tenants = tmp_path / "tenants"
    shutil.copytree(EXAMPLE_TENANTS, tenants)
    path = tenants / "contoso" / "tenant.yaml"
    original = path.read_text()
    with running_sandbox(seed, index_job_seconds=0.05) as handle:
        sandbox = str(handle.state_dir)
        control(handle, "DELETE", "/requests")
        stopped = invoke("plan", str(tenants), "--tenant", "contoso", "--sandbox", sandbox)
        assert stopped.code == 1
        for name in ("lmi_rescueconfiguration", "lmi_logmeinsettings", "lmi_logmeinsession"):
            assert f"the org has no table {name!r}" in stopped.output
        assert "profile discover --tenant contoso --write" in stopped.output
        writes = [e for e in control(handle, "GET", "/requests")["entries"] if e["method"] != "GET"]
        assert all(e["service"] == "identity" or e["template"].startswith("get") for e in writes), writes

        found = invoke(
            "profile", "discover", "--tenant", "contoso", "--sandbox", sandbox, "--write", str(tenants)
        )
        assert found.code == 0, found.output
        assert "label 'ID SSO' (it)" in found.output
        written = path.read_text()
        assert written.startswith(original.rstrip("\n"))  # comments and layout of the rest kept
        profile = yaml.safe_load(written)["profile"]
        assert profile["technician_settings"]["columns"]["sso_id"] == "xyz_idsso"
        assert profile["integration"]["instance_values"] == {"production": 876540000, "beta": 876540001}
        assert profile["session"]["key_columns"] == ["xyz_idsessione"]
        assert profile["session"]["columns"] == {
            "technician_id": "xyz_tecnico",
            "start_time": "xyz_inizio",
            "end_time": "xyz_fine",
        }
        assert (profile["session"]["case_lookup"], profile["session"]["case_navigation"]) == (
            "xyz_caso",
            "xyz_Caso",
        )
        assert "application_user" not in profile  # only what differs from the defaults

        assert invoke("plan", str(tenants), "--tenant", "contoso", "--sandbox", sandbox).code in (0, 2)
        applied = invoke(
            "apply", str(tenants), "--tenant", "contoso", "--sandbox", sandbox, "--auto-approve", "--force"
        )
        assert applied.code == 0, applied.output
        again = invoke(
            "plan", str(tenants), "--tenant", "contoso", "--sandbox", sandbox, "--detailed-exitcode"
        )
        assert again.code == 0, again.output


def test_ambiguous_and_missing_roles_are_reported_and_nothing_is_written(tmp_path: Path) -> None:
    seed = copy.deepcopy(load_seed(demo_seed_path()))
    # Two tables labelled "Impostazioni LogMeIn", none "Sessione LogMeIn"; no "ID SSO" column.
    seed["tenants"]["contoso"]["solution_schema"] = {
        "session": {"labels": {"table": {1040: "Impostazioni LogMeIn"}}},
        "technician_settings": {"labels": {"sso_id": {1033: "Single sign-on"}}},
    }
    tenants = tmp_path / "tenants"
    shutil.copytree(EXAMPLE_TENANTS, tenants)
    before = (tenants / "contoso" / "tenant.yaml").read_text()
    with running_sandbox(seed, index_job_seconds=0.05) as handle:
        run = invoke(
            "profile",
            "discover",
            "--tenant",
            "contoso",
            "--sandbox",
            str(handle.state_dir),
            "--write",
            str(tenants),
        )
    assert run.code == 1, run.output
    assert (
        "technician_settings.table: 2 candidates for table labelled 'LogMeIn Settings', not guessing"
        in run.output
    )
    assert "session.table: no table labelled 'LogMeIn Session' found" in run.output
    assert "Not written" in run.output
    assert (tenants / "contoso" / "tenant.yaml").read_text() == before
