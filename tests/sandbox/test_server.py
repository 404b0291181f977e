"""The sandbox server: sandbox.json, HTTPS only, `reconcile sandbox serve`, and --state-dir persistence."""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import msal
import pytest
import requests
from azure.core.credentials import AccessToken
from click.testing import CliRunner
from PowerPlatform.Dataverse.client import DataverseClient

from reconciler.cli.sandbox_cmd import sandbox as sandbox_group
from reconciler.errors import InputError
from rescue_sandbox import SandboxHandle, running_sandbox

pytestmark = pytest.mark.integration


def test_sandbox_json_is_the_design_shape(demo: SandboxHandle) -> None:
    info = json.loads(demo.info_path.read_text())
    assert info == demo.info
    assert oct(demo.info_path.stat().st_mode & 0o777) == "0o600"
    url = info["url"]
    assert url.startswith("https://127.0.0.1:") and Path(info["ca_file"]).is_file()
    contoso = info["tenants"]["contoso"]
    assert contoso["dataverse_url"] == f"{url}/dataverse/contoso.crm.dynamics.com"
    assert contoso["authority"] == f"{url}/identity/6c1f4d5e-2a7b-4c1d-9e3f-0a1b2c3d4e5f"
    assert contoso["rescue_url"] == f"{url}/rescue/1234567/API"
    assert contoso["graph_url"] == f"{url}/graph"
    assert contoso["client_id"] == "3f2a1b4c-5d6e-4f70-8a91-b2c3d4e5f607"
    assert contoso["client_secret"] and contoso["rescue_authcode"]
    assert (contoso["org_url"], contoso["company_id"]) == ("https://contoso.crm.dynamics.com", "1234567")
    assert "certificate" not in contoso
    assert set(info["tenants"]["fabrikam"]["certificate"]) == {"private_key_file", "thumbprint"}


def test_the_demo_seed_provides_every_secret_of_the_example_tenants(demo: SandboxHandle) -> None:
    expected = {
        "contoso": {
            "env:CONTOSO_DYNAMICS_CLIENT_SECRET",
            "env:CONTOSO_RESCUE_AUTHCODE",
            "env:CONTOSO_RESCUE_SSO_PASSWORD",
            "env:CONTOSO_RESCUE_ADMIN_PASSWORD",  # connection.rescue.reports (health)
        },
        "fabrikam": {
            "file:/etc/reconciler/fabrikam.key.pem",
            "env:FABRIKAM_RESCUE_AUTHCODE",
            "file:/etc/reconciler/fabrikam-sso-password",
        },
    }
    for tenant, refs in expected.items():
        entry = demo.info["tenants"][tenant]
        assert set(entry["secrets"]) == refs
        assert entry["secrets"][next(r for r in refs if "AUTHCODE" in r)] == entry["rescue_authcode"]
    contoso = demo.info["tenants"]["contoso"]
    assert contoso["secrets"]["env:CONTOSO_DYNAMICS_CLIENT_SECRET"] == contoso["client_secret"]


def test_https_only(demo: SandboxHandle) -> None:
    port = int(demo.url.rsplit(":", 1)[1])
    with pytest.raises(httpx.HTTPError), httpx.Client(trust_env=False) as plain:
        plain.get(f"http://127.0.0.1:{port}/_sandbox/tenants")
    with pytest.raises(httpx.ConnectError), httpx.Client(trust_env=False) as untrusting:
        untrusting.get(f"{demo.url}/_sandbox/tenants")  # the sandbox CA is not trusted by default


def test_unknown_paths_are_404(client: httpx.Client) -> None:
    assert client.get("/nothing/here").status_code == 404


def wait_for(path: Path, process: subprocess.Popen[str], timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.is_file():
            return dict(json.loads(path.read_text()))
        if process.poll() is not None:
            raise AssertionError(f"serve exited early: {process.communicate()}")
        time.sleep(0.05)
    raise AssertionError(f"{path} did not appear")


class MsalCredential:
    """A TokenCredential for Microsoft's SDK backed by msal: two independent clients together."""

    def __init__(self, app: msal.ConfidentialClientApplication) -> None:
        self.app = app

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        result = self.app.acquire_token_for_client(scopes=list(scopes))
        return AccessToken(result["access_token"], int(time.time()) + int(result["expires_in"]))


def test_serve_subprocess_writes_sandbox_json_and_stops_on_sigint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "state"
    port_file = tmp_path / "port"
    code = "from reconciler.cli.sandbox_cmd import sandbox; sandbox(prog_name='reconcile sandbox')"
    env = {k: v for k, v in os.environ.items() if not k.endswith("_CA_BUNDLE")}
    process = subprocess.Popen(
        [sys.executable, "-c", code, "serve", "--state-dir", str(state), "--port-file", str(port_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        info = wait_for(state / "sandbox.json", process)
        port = int(port_file.read_text())
        assert info["url"] == f"https://127.0.0.1:{port}"
        # A client needs nothing but sandbox.json: msal with its CA, then httpx to Rescue.
        contoso = info["tenants"]["contoso"]
        with requests.Session() as session:
            session.trust_env = False
            session.verify = info["ca_file"]
            app = msal.ConfidentialClientApplication(
                contoso["client_id"],
                client_credential=contoso["client_secret"],
                authority=contoso["authority"],
                instance_discovery=False,
                http_client=session,
            )
            assert "access_token" in app.acquire_token_for_client(
                scopes=[f"{contoso['dataverse_url']}/.default"]
            )
            # Microsoft's SDK finds the CA only through REQUESTS_CA_BUNDLE.
            monkeypatch.setenv("REQUESTS_CA_BUNDLE", info["ca_file"])
            with DataverseClient(contoso["dataverse_url"], MsalCredential(app)) as sdk:
                users = sdk.records.list(
                    "systemuser", filter="domainname eq 'alice@contoso.com'", select=["firstname"]
                )
                assert [u["firstname"] for u in users] == ["Alice"]
        with httpx.Client(verify=ssl.create_default_context(cafile=info["ca_file"]), trust_env=False) as c:
            reply = c.get(
                f"{contoso['rescue_url']}/getUser_v3.aspx",
                params={"authcode": contoso["rescue_authcode"], "node": "41001"},
            )
            assert reply.text.startswith("OK\n\n")
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert f"sandbox listening on https://127.0.0.1:{port}" in out and "sandbox stopped" in out
    assert (state / "state.json").is_file() and not (state / "sandbox.json").exists()


def test_state_dir_persists_across_a_restart(tmp_path: Path, new_client: Callable[..., httpx.Client]) -> None:
    state = tmp_path / "state"
    with running_sandbox(state_dir=state) as first, new_client(first) as c:
        ca_before = first.ca_file.read_text()
        secret, authcode = (
            first.info["tenants"]["contoso"]["client_secret"],
            first.info["tenants"]["contoso"]["rescue_authcode"],
        )
        c.patch("/_sandbox/tenants/contoso/rescue/technicians/bob@contoso.com", json={"ssoid": "robert"})
        c.patch(
            "/_sandbox/tenants/contoso/dynamics/settings/dave@contoso.com",
            json={"technician_id": "41004", "sso_id": "dave"},
        )
        c.put(
            "/_sandbox/tenants/contoso/rescue/groups/export",
            json={"path": "Support/Tier 2", "export": {"url": "https://x.example/i"}},
        )
        rescue = first.info["tenants"]["contoso"]["rescue_url"]
        new_group = c.get(
            f"{rescue}/createGroup.aspx", params={"authcode": authcode, "parent": "41100"}
        ).text.split("\n\n")[1]
        assert c.post("/_sandbox/save").status_code == 200
    assert oct((state / "state.json").stat().st_mode & 0o777) == "0o600"
    with running_sandbox(state_dir=state) as second, new_client(second) as c:
        assert second.ca_file.read_text() == ca_before
        contoso = second.info["tenants"]["contoso"]
        assert (contoso["client_secret"], contoso["rescue_authcode"]) == (secret, authcode)
        user = c.get(
            f"{contoso['rescue_url']}/getUser_v3.aspx", params={"authcode": authcode, "node": "41002"}
        )
        assert "SSOID:robert" in user.text
        assert c.get(
            f"{contoso['rescue_url']}/getGroup_v2.aspx", params={"authcode": authcode, "node": new_group}
        ).text.startswith("OK")
        groups = {
            g["path"]: g["export"] for g in c.get("/_sandbox/tenants/contoso/rescue/groups").json()["groups"]
        }
        assert groups["Support/Tier 2"]["url"] == "https://x.example/i"
        dave = c.get("/_sandbox/tenants/contoso/state").json()["dataverse"]["tables"]["lmi_logmeinsettings"]
        assert any(row.get("lmi_technicianid") == "41004" for row in dave)


def test_bad_inputs(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read seed"), running_sandbox(tmp_path / "missing.yaml"):
        pass
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "tenants: {x: {identity: {tenant_id: nope, client_id: nope}, dataverse: {}, rescue: {}}}\n"
    )
    with pytest.raises(InputError, match=r"identity\.tenant_id: a GUID is required"), running_sandbox(bad):
        pass
    with pytest.raises(InputError, match="unknown service"), running_sandbox(faults="mail:429=1"):
        pass
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(InputError, match="cannot listen"), running_sandbox(port=taken.getsockname()[1]):
            pass


def test_cli_serve_refuses_bad_options(tmp_path: Path) -> None:
    result = CliRunner().invoke(sandbox_group, ["serve", "--seed", str(tmp_path / "none.yaml")])
    assert isinstance(result.exception, InputError) and "no such file" in str(result.exception)
    result = CliRunner().invoke(sandbox_group, ["serve", "--port", "70000"])
    assert isinstance(result.exception, InputError)
