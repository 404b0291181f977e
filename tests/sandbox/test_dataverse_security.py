"""Who may call an org and with which privileges: application users, roles and their
privileges, RetrieveUserPrivileges, and the controls that take them away."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from dataverse_harness import HOST, error_of, install_org

from rescue_sandbox import SandboxHandle
from rescue_sandbox.dataverse import DataverseOrg
from rescue_sandbox.dataverse.standalone import LOCAL_APP_ID, StandaloneServer

pytestmark = pytest.mark.integration

SEED: dict[str, Any] = {
    "org_url": f"https://{HOST}",
    "roles": ["Reader"],
    "role_privileges": {"Reader": ["prvReadUser", "prvReadRole"]},
    "users": [{"domainname": "alice@contoso.com"}],
    "reconciler_user": {"app_id": LOCAL_APP_ID, "roles": ["Reader"]},
}


@pytest.fixture
def org(server: StandaloneServer) -> DataverseOrg:
    return install_org(server, SEED)


def test_an_app_without_application_user_is_not_a_member(api: httpx.Client, server: StandaloneServer) -> None:
    install_org(server, {**SEED, "reconciler_user": False})
    for reply in (api.get("WhoAmI"), api.get("systemusers")):
        assert reply.status_code == 403
        assert error_of(reply) == {
            "code": "0x80072560",
            "message": "The user is not a member of the organization.",
        }


def test_a_disabled_application_user_is_refused(api: httpx.Client, server: StandaloneServer) -> None:
    install_org(server, {**SEED, "reconciler_user": {**SEED["reconciler_user"], "isdisabled": True}})
    reply = api.get("WhoAmI")
    assert reply.status_code == 403
    error = error_of(reply)
    assert error["code"] == "0x80040225" and "is disabled" in error["message"]


def test_each_request_needs_its_privilege(api: httpx.Client, org: DataverseOrg) -> None:
    assert api.get("systemusers?$select=domainname").status_code == 200
    who = api.get("WhoAmI").json()  # needs no privilege
    denied = api.get("businessunits")
    assert denied.status_code == 403
    error = error_of(denied)
    assert error["code"] == "0x80040220"
    assert f"Principal user (Id={who['UserId']}" in error["message"]
    assert "is missing prvReadBusinessUnit privilege" in error["message"]
    assert "for entity 'businessunit'" in error["message"]
    created = api.post("systemusers", json={"applicationid": "0f7c9a10-0000-4000-8000-000000000001"})
    assert created.status_code == 403 and "prvCreateUser" in error_of(created)["message"]
    assert api.get("EntityDefinitions").status_code == 403  # prvReadEntity
    assert org.find("systemuser", "applicationid", "0f7c9a10-0000-4000-8000-000000000001") == []


def test_retrieve_user_privileges_lists_what_the_roles_give(api: httpx.Client, org: DataverseOrg) -> None:
    user_id = api.get("WhoAmI").json()["UserId"]
    body = api.get(f"systemusers({user_id})/Microsoft.Dynamics.CRM.RetrieveUserPrivileges()").json()
    names = sorted(p["PrivilegeName"] for p in body["RolePrivileges"])
    assert names == ["prvReadRole", "prvReadUser"]
    assert {p["Depth"] for p in body["RolePrivileges"]} == {"Global"}


def test_a_bad_role_privilege_in_a_seed_is_named(server: StandaloneServer) -> None:
    with pytest.raises(ValueError, match=r"dataverse\.role_privileges\.Reader: unknown privilege"):
        install_org(server, {**SEED, "role_privileges": {"Reader": ["prvReadNothing"]}})


def _raw(client: httpx.Client, demo: SandboxHandle, token: str, path: str) -> httpx.Response:
    root = f"{demo.info['tenants']['contoso']['dataverse_url']}/api/data/v9.2"
    return client.get(f"{root}/{path}", headers={"Authorization": f"Bearer {token}"})


def test_controls_take_a_privilege_and_the_user_away(
    client: httpx.Client, demo: SandboxHandle, get_token: Callable[[SandboxHandle, str, str], str]
) -> None:
    token = get_token(demo, "contoso", demo.info["tenants"]["contoso"]["dataverse_url"])
    controls = "/_sandbox/tenants/contoso/dynamics"
    assert _raw(client, demo, token, "lmi_logmeinsettingses").status_code == 200
    removed = client.delete(f"{controls}/privileges/prvReadlmi_logmeinsettings")
    assert removed.json()["removed_from"] == ["System Administrator"]
    denied = _raw(client, demo, token, "lmi_logmeinsettingses")
    assert denied.status_code == 403 and "prvReadlmi_logmeinsettings" in denied.json()["error"]["message"]
    client.post(f"{controls}/privileges", json={"privilege": "prvReadlmi_logmeinsettings"})
    assert _raw(client, demo, token, "lmi_logmeinsettingses").status_code == 200
    client.patch(f"{controls}/reconciler-user", json={"isdisabled": True})
    assert _raw(client, demo, token, "WhoAmI").json()["error"]["code"] == "0x80040225"
    client.patch(f"{controls}/reconciler-user", json={"isdisabled": False})
    assert client.delete(f"{controls}/reconciler-user").status_code == 200
    assert _raw(client, demo, token, "WhoAmI").json()["error"]["code"] == "0x80072560"
