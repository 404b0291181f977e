"""Shared helpers for the sandbox conformance tests.

Each test module starts at most one sandbox (module-scoped fixtures): starting one costs a few
RSA keys and a thread, so sharing keeps the suite fast. Clients trust the sandbox only through
its CA file, as the product code does (an ``ssl.SSLContext`` for httpx).
"""

from __future__ import annotations

import copy
import ssl
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from dataverse_harness import API_PATH, HOST, ODATA_HEADERS

from rescue_sandbox import SandboxHandle, load_seed, running_sandbox
from rescue_sandbox.dataverse import DataverseOrg
from rescue_sandbox.dataverse.standalone import LocalTokens, StandaloneServer, serve_standalone
from rescue_sandbox.seed import demo_seed_path

# Passwords a test needs for requestAuthCode (the demo seed generates them).
ADMIN_PASSWORD = "Adm1n-pass"
TECH_PASSWORD = "Tech-pass-1"


def ssl_context(handle: SandboxHandle) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(handle.ca_file))


def http_client(handle: SandboxHandle, **kwargs: Any) -> httpx.Client:
    """An httpx client that trusts the sandbox CA and nothing from the environment."""
    return httpx.Client(
        base_url=handle.url, verify=ssl_context(handle), trust_env=False, timeout=30, **kwargs
    )


def demo_seed_with_passwords() -> dict[str, Any]:
    """The demo seed plus known Rescue passwords (admins and alice), for requestAuthCode tests."""
    seed = copy.deepcopy(load_seed(demo_seed_path()))
    for tenant in seed["tenants"].values():
        tenant["rescue"]["admin"]["password"] = ADMIN_PASSWORD
    tier1 = seed["tenants"]["contoso"]["rescue"]["groups"][0]["children"][0]
    tier1["technicians"][0]["password"] = TECH_PASSWORD
    return dict(seed)


def token_for(handle: SandboxHandle, tenant: str, resource: str) -> str:
    """A client-credentials token for ``resource`` (raw OAuth2, no msal)."""
    info = handle.info["tenants"][tenant]
    with http_client(handle) as client:
        reply = client.post(
            f"{info['authority']}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": info["client_id"],
                "client_secret": info["client_secret"],
                "scope": f"{resource}/.default",
            },
        )
    assert reply.status_code == 200, reply.text
    return str(reply.json()["access_token"])


@pytest.fixture(scope="module")
def demo() -> Iterator[SandboxHandle]:
    """The demo sandbox with known Rescue passwords, one per test module."""
    with running_sandbox(demo_seed_with_passwords()) as handle:
        yield handle


@pytest.fixture(scope="module")
def client(demo: SandboxHandle) -> Iterator[httpx.Client]:
    with http_client(demo) as c:
        yield c


@pytest.fixture(scope="session")
def passwords() -> dict[str, str]:
    return {"admin": ADMIN_PASSWORD, "alice": TECH_PASSWORD}


@pytest.fixture(scope="session")
def new_client() -> Callable[..., httpx.Client]:
    return http_client


@pytest.fixture(scope="session")
def get_token() -> Callable[[SandboxHandle, str, str], str]:
    return token_for


@pytest.fixture()
def demo_seed() -> dict[str, Any]:
    """A fresh copy of the demo seed with known Rescue passwords."""
    return demo_seed_with_passwords()


# ---------------------------------------------------------------------------- Dataverse emulator
# For the raw-HTTP conformance modules (see dataverse_harness.py): each defines its own ``org``.


@pytest.fixture(scope="module")
def tokens() -> LocalTokens:
    """Signs the access tokens the standalone Dataverse emulator accepts."""
    return LocalTokens()


@pytest.fixture(scope="module")
def server(tokens: LocalTokens) -> Iterator[StandaloneServer]:
    """The standalone Dataverse emulator, one per module; tests install their org into it."""
    with serve_standalone({}, tokens.verify) as srv:
        yield srv


@pytest.fixture
def api_headers() -> dict[str, str]:
    """The headers ``api`` sends with the token; a module overrides this to send others."""
    return dict(ODATA_HEADERS)


@pytest.fixture
def api(
    server: StandaloneServer, tokens: LocalTokens, org: DataverseOrg, api_headers: dict[str, str]
) -> Iterator[httpx.Client]:
    """A client of the Web API root of the module's ``org``, with a valid token for it."""
    headers = {"Authorization": f"Bearer {tokens.mint(f'https://{HOST}')}", **api_headers}
    base = f"{server.dataverse_url(HOST)}{API_PATH}"
    with httpx.Client(base_url=base, headers=headers, verify=server.ssl_context(), trust_env=False) as client:
        yield client
