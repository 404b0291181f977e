"""Sandbox controls: changes made "by hand" show up through the emulated APIs, as they would live."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from rescue_sandbox import SandboxHandle

pytestmark = pytest.mark.integration

LOGMEIN_APP = "1e2716f5-fee6-4370-a121-baea6d360668"


class Api:
    """Raw Dataverse reads with a real token, to see what a client would see."""

    def __init__(self, client: httpx.Client, demo: SandboxHandle, tenant: str, token: str) -> None:
        self.client = client
        self.root = f"{demo.info['tenants'][tenant]['dataverse_url']}/api/data/v9.2"
        self.headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/json",
            "OData-Version": "4.0",
        }

    def get(self, path: str, **params: str) -> Any:
        reply = self.client.get(f"{self.root}/{path}", params=params, headers=self.headers)
        assert reply.status_code == 200, reply.text
        return reply.json()

    def user_id(self, upn: str) -> str:
        rows = self.get("systemusers", **{"$select": "systemuserid", "$filter": f"domainname eq '{upn}'"})[
            "value"
        ]
        return str(rows[0]["systemuserid"])

    def settings(self, upn: str) -> list[dict[str, Any]]:
        user = self.user_id(upn)
        return list(self.get("lmi_logmeinsettingses", **{"$filter": f"_lmi_userid_value eq {user}"})["value"])


@pytest.fixture(scope="module")
def contoso(
    client: httpx.Client, demo: SandboxHandle, get_token: Callable[[SandboxHandle, str, str], str]
) -> Api:
    return Api(
        client, demo, "contoso", get_token(demo, "contoso", demo.info["tenants"]["contoso"]["dataverse_url"])
    )


@pytest.fixture(scope="module")
def fabrikam(
    client: httpx.Client, demo: SandboxHandle, get_token: Callable[[SandboxHandle, str, str], str]
) -> Api:
    return Api(
        client,
        demo,
        "fabrikam",
        get_token(demo, "fabrikam", demo.info["tenants"]["fabrikam"]["dataverse_url"]),
    )


def control(client: httpx.Client, method: str, path: str, **kwargs: Any) -> httpx.Response:
    return client.request(method, f"/_sandbox/tenants/{path}", **kwargs)


def test_tenants_and_state_dump(client: httpx.Client) -> None:
    tenants = client.get("/_sandbox/tenants").json()["tenants"]
    assert tenants["fabrikam"] == {
        "org_host": "fabrikam.crm4.dynamics.com",
        "tenant_id": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
        "company_id": "7654321",
    }
    state = control(client, "GET", "contoso/state").json()
    assert {g["path"] for g in state["rescue"]["groups"]} == {"Support", "Support/Tier 1", "Support/Tier 2"}
    assert "lmi_rescueconfiguration" in state["dataverse"]["tables"]
    assert control(client, "GET", "nowhere/state").status_code == 404
    assert client.post("/_sandbox/save").status_code == 409  # no state directory


def test_flip_an_integration_option(client: httpx.Client, contoso: Api) -> None:
    before = contoso.get("lmi_rescueconfigurations")["value"][0]
    assert before["lmi_closeticketonsessionend"] is True
    reply = control(
        client,
        "PATCH",
        "contoso/dynamics/integration",
        json={"fields": {"close_ticket_on_session_end": False}},
    )
    assert reply.status_code == 200, reply.text
    after = contoso.get("lmi_rescueconfigurations")["value"][0]
    assert after["lmi_closeticketonsessionend"] is False
    assert after["@odata.etag"] != before["@odata.etag"]
    reply = control(
        client, "PATCH", "contoso/dynamics/integration", json={"field": "instance", "value": "beta"}
    )
    assert reply.status_code == 200
    assert contoso.get("lmi_rescueconfigurations")["value"][0]["lmi_instance"] == 100000001
    control(
        client,
        "PATCH",
        "contoso/dynamics/integration",
        json={"fields": {"instance": "production", "close_ticket_on_session_end": True}},
    )
    for bad in (
        {"fields": {"colour": 1}},
        {"fields": {"close_ticket_on_session_end": "yes"}},
        {"fields": {"instance": "x"}},
        {},
    ):
        assert control(client, "PATCH", "contoso/dynamics/integration", json=bad).status_code == 400


def test_settings_rows_by_hand(client: httpx.Client, contoso: Api, fabrikam: Api) -> None:
    assert contoso.settings("dave@contoso.com") == []
    reply = control(
        client,
        "PATCH",
        "contoso/dynamics/settings/dave@contoso.com",
        json={"technician_id": "41004", "sso_id": "dave"},
    )
    assert reply.status_code == 200, reply.text
    (row,) = contoso.settings("dave@contoso.com")
    assert (row["lmi_technicianid"], row["lmi_ssoid"]) == ("41004", "dave")
    assert control(client, "DELETE", "contoso/dynamics/settings/dave@contoso.com/sso_id").status_code == 200
    assert contoso.settings("dave@contoso.com")[0]["lmi_ssoid"] is None
    assert control(client, "DELETE", "contoso/dynamics/settings/dave@contoso.com").status_code == 200
    assert contoso.settings("dave@contoso.com") == []
    assert control(client, "DELETE", "contoso/dynamics/settings/dave@contoso.com").status_code == 404
    assert (
        control(
            client, "PATCH", "contoso/dynamics/settings/nobody@contoso.com", json={"sso_id": "x"}
        ).status_code
        == 404
    )
    assert (
        control(
            client, "PATCH", "contoso/dynamics/settings/alice@contoso.com", json={"colour": "x"}
        ).status_code
        == 400
    )
    # Fabrikam's profile renames the SSO ID column: the control follows the profile.
    control(client, "PATCH", "fabrikam/dynamics/settings/henry.ng@fabrikam.com", json={"sso_id": "henry"})
    assert fabrikam.settings("henry.ng@fabrikam.com")[0]["lmi_rescuessoid"] == "henry"
    control(client, "PATCH", "fabrikam/dynamics/settings/henry.ng@fabrikam.com", json={"sso_id": "hng"})


def test_application_user_roles(client: httpx.Client, contoso: Api) -> None:
    app_user = contoso.get(
        "systemusers", **{"$select": "systemuserid", "$filter": f"applicationid eq {LOGMEIN_APP}"}
    )
    user_id = app_user["value"][0]["systemuserid"]

    def roles() -> set[str]:
        return {
            r["name"]
            for r in contoso.get(
                f"systemusers({user_id})/systemuserroles_association", **{"$select": "name"}
            )["value"]
        }

    assert roles() == set()
    assert control(client, "POST", "contoso/dynamics/application-user/roles", json={}).status_code == 200
    assert roles() == {"LogMeIn Integration User"}
    duplicate = control(
        client, "POST", "contoso/dynamics/application-user/roles", json={"role": "LogMeIn Integration User"}
    )
    assert duplicate.status_code == 412 and "duplicate" in duplicate.json()["error"]
    assert (
        control(
            client, "DELETE", "contoso/dynamics/application-user/roles/LogMeIn Integration User"
        ).status_code
        == 200
    )
    assert roles() == set()
    assert (
        control(client, "POST", "contoso/dynamics/application-user/roles", json={"role": "Nope"}).status_code
        == 404
    )


def test_session_key_failed_leaves_a_failed_index_job(client: httpx.Client, contoso: Api) -> None:
    reply = control(
        client,
        "POST",
        "contoso/dynamics/session-key",
        json={"status": "Failed", "error": "Duplicate key values"},
    )
    assert reply.status_code == 200, reply.text
    job_id = reply.json()["async_job"]
    (key,) = contoso.get("EntityDefinitions(LogicalName='lmi_logmeinsession')/Keys")["value"]
    assert key["EntityKeyIndexStatus"] == "Failed" and key["AsyncJob"] == job_id
    job = contoso.get(f"asyncoperations({job_id})")
    assert (job["operationtype"], job["statuscode"], job["statecode"]) == (63, 31, 3)
    assert (
        control(client, "POST", "contoso/dynamics/session-key", json={"status": "Active"}).json()["status"]
        == "Active"
    )
    assert (
        control(client, "POST", "contoso/dynamics/session-key", json={"status": "Broken"}).status_code == 400
    )


def test_rescue_technician_by_hand(client: httpx.Client, demo: SandboxHandle) -> None:
    info = demo.info["tenants"]["contoso"]
    reply = control(
        client,
        "PATCH",
        "contoso/rescue/technicians/bob@contoso.com",
        json={"ssoid": "robert", "status": "Busy"},
    )
    assert reply.json() == {"node_id": 41002, "ssoid": "robert", "status": "Busy", "name": "Bob Baker"}
    user = client.get(
        f"{info['rescue_url']}/getUser_v3.aspx", params={"authcode": info["rescue_authcode"], "node": "41002"}
    )
    assert "SSOID:robert" in user.text and "STATUS:Busy" in user.text
    control(
        client,
        "PATCH",
        "contoso/rescue/technicians/bob@contoso.com",
        json={"ssoid": "bob", "status": "Offline"},
    )
    assert (
        control(
            client, "PATCH", "contoso/rescue/technicians/zed@contoso.com", json={"ssoid": "z"}
        ).status_code
        == 404
    )
    assert (
        control(
            client, "PATCH", "contoso/rescue/technicians/bob@contoso.com", json={"status": "Asleep"}
        ).status_code
        == 400
    )


def test_group_export_settings_only_through_controls(client: httpx.Client) -> None:
    def exports() -> dict[str, Any]:
        return {
            g["path"]: g["export"] for g in control(client, "GET", "contoso/rescue/groups").json()["groups"]
        }

    assert exports()["Support/Tier 2"] is None
    assert exports()["Support/Tier 1"] == {
        "url": "https://dynamics.logmeinrescue.com/api/integration",
        "at_session_start": False,
        "at_session_end": True,
        "format": "form",
    }
    wanted = {"url": "https://dynamics.logmeinrescue.com/api/integration", "at_session_end": True}
    reply = control(
        client, "PUT", "contoso/rescue/groups/export", json={"path": "Support/Tier 2", "export": wanted}
    )
    assert reply.status_code == 200
    assert exports()["Support/Tier 2"] == wanted | {"at_session_start": False, "format": "form"}
    control(
        client,
        "PUT",
        "contoso/rescue/groups/export",
        json={"path": "Support", "export": wanted | {"format": "xml"}, "apply_to_subgroups": True},
    )
    assert {e["format"] for e in exports().values()} == {"xml"}
    assert (
        control(
            client, "DELETE", "contoso/rescue/groups/export", params={"path": "Support/Tier 2"}
        ).status_code
        == 200
    )
    assert exports()["Support/Tier 2"] is None
    assert (
        control(
            client, "PUT", "contoso/rescue/groups/export", json={"path": "Nope", "export": wanted}
        ).status_code
        == 404
    )
    assert (
        control(
            client,
            "PUT",
            "contoso/rescue/groups/export",
            json={"path": "Support", "export": {"format": "xml"}},
        ).status_code
        == 400
    )
    control(
        client,
        "PUT",
        "contoso/rescue/groups/export",
        json={"path": "Support/Tier 1", "export": wanted | {"format": "form"}},
    )


def test_pin_request_creates_the_empty_settings_row(client: httpx.Client, contoso: Api) -> None:
    first = control(client, "POST", "contoso/rescue/pin", json={"email": "erin@contoso.com"}).json()
    assert first["status"] == "OK" and len(first["pincode"]) == 6 and first["settings_row_created"] is True
    (row,) = contoso.settings("erin@contoso.com")
    assert row["lmi_technicianid"] == "41005" and row["lmi_ssoid"] is None and row["lmi_authcode"] is None
    again = control(client, "POST", "contoso/rescue/pin", json={"email": "erin@contoso.com"}).json()
    assert again == {"status": "POLLRATEEXCEEDED", "settings_row_created": False}
    assert len(contoso.settings("erin@contoso.com")) == 1
    offline = control(
        client, "POST", "contoso/rescue/pin", json={"email": "dave@contoso.com", "notechconsole": 0}
    ).json()
    assert offline["status"] == "NOTECHCONSOLERUNNING" and offline["settings_row_created"] is True
    assert (
        control(client, "POST", "contoso/rescue/pin", json={"email": "nobody@contoso.com"}).status_code == 404
    )
    for upn in ("erin@contoso.com", "dave@contoso.com"):
        control(client, "DELETE", f"contoso/dynamics/settings/{upn}")


def test_consent_revoke_and_grant(
    client: httpx.Client, demo: SandboxHandle, get_token: Callable[[SandboxHandle, str, str], str]
) -> None:
    token = get_token(demo, "fabrikam", "https://graph.microsoft.com")

    def principals() -> list[Any]:
        reply = client.get(
            f"{demo.url}/graph/v1.0/servicePrincipals",
            params={"$filter": f"appId eq '{LOGMEIN_APP}'"},
            headers={"Authorization": f"Bearer {token}"},
        )
        return list(reply.json()["value"])

    assert len(principals()) == 1
    assert control(client, "DELETE", f"fabrikam/identity/service-principals/{LOGMEIN_APP}").status_code == 200
    assert principals() == []
    assert (
        control(
            client, "POST", "fabrikam/identity/service-principals", json={"display_name": "LogMeIn"}
        ).status_code
        == 200
    )
    assert len(principals()) == 1
