"""Microsoft's ``msgraph-sdk`` lists a group's transitive user members from the sandbox over HTTPS.

A client we did not write, with its own URL template (``/transitiveMembers/graph.user``: the
namespace alias) and the request the "List group transitive members" page documents for an OData
cast: ``ConsistencyLevel: eventual`` in its request configuration's headers and ``count=True``.
It follows ``odata_next_link`` with ``with_url`` and the same configuration (Graph does not carry
the header to the next page; the SDK does not either). Its token comes from msal against the
sandbox's identity, and its httpx client trusts only the sandbox CA.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import msal
import pytest
import requests
from conftest import demo_seed_with_passwords
from kiota_abstractions.authentication import (
    AccessTokenProvider,
    AllowedHostsValidator,
    BaseBearerTokenAuthenticationProvider,
)
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph import GraphServiceClient
from msgraph.generated.groups.item.transitive_members.graph_user.graph_user_request_builder import (
    GraphUserRequestBuilder,
)
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.graph_request_adapter import GraphRequestAdapter
from msgraph_core import GraphClientFactory

from rescue_sandbox import SandboxHandle, running_sandbox

pytestmark = pytest.mark.integration

GROUP = "7a1c0e52-3d4b-4f6a-8e9d-0b1c2d3e4f50"
TIER1 = "5d0b2f3e-8c1a-4e6b-9f70-1a2b3c4d5e02"  # the demo seed's alice, bob and carol
# Few members in small pages: the SDK deserialises each user slowly (its model classes), and three
# pages show the paging as well as thirty would.
MEMBERS = 9
PAGE = 5


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxHandle]:
    seed = demo_seed_with_passwords()
    directory = seed["tenants"]["contoso"]["identity"]["directory"]
    users = [f"sdk{i:03d}@contoso.com" for i in range(MEMBERS)]
    directory["users"] += [{"upn": u, "mail": u, "display_name": u} for u in users]
    directory["groups"].append({"id": GROUP, "display_name": "SDK", "users": users, "groups": [TIER1]})
    with running_sandbox(seed) as handle:
        yield handle


class MsalTokens(AccessTokenProvider):
    """Graph tokens from msal's client-credentials flow against the sandbox's authority."""

    def __init__(self, handle: SandboxHandle, session: requests.Session) -> None:
        info = handle.info["tenants"]["contoso"]
        self.app = msal.ConfidentialClientApplication(
            info["client_id"],
            client_credential=info["client_secret"],
            authority=info["authority"],
            instance_discovery=False,
            http_client=session,
        )
        self.host = str(urlsplit(handle.url).hostname)

    async def get_authorization_token(
        self, uri: str, additional_authentication_context: dict[str, Any] | None = None
    ) -> str:
        result = self.app.acquire_token_for_client(scopes=["https://graph.microsoft.com/.default"])
        assert "access_token" in result, result
        return str(result["access_token"])

    def get_allowed_hosts_validator(self) -> AllowedHostsValidator:
        return AllowedHostsValidator([self.host])


def _documented() -> RequestConfiguration[GraphUserRequestBuilder.GraphUserRequestBuilderGetQueryParameters]:
    """The documented request for a cast, as the SDK's own request configuration."""
    config = RequestConfiguration(
        query_parameters=GraphUserRequestBuilder.GraphUserRequestBuilderGetQueryParameters(
            count=True, select=["id", "userPrincipalName", "mail"], top=PAGE
        )
    )
    config.headers.add("ConsistencyLevel", "eventual")
    return config


def _list(handle: SandboxHandle, *, header_on_next_pages: bool) -> tuple[list[str], list[int | None]]:
    """Every page's users (UPNs) and each page's ``@odata.count``, as an SDK caller pages."""
    with requests.Session() as session:
        session.trust_env = False
        session.verify = str(handle.ca_file)
        tokens = MsalTokens(handle, session)

        async def run() -> tuple[list[str], list[int | None]]:
            verify = ssl.create_default_context(cafile=str(handle.ca_file))
            # Ours, closed here: the SDK wraps the client's transport in its middleware, whose
            # close does not reach the connection pool.
            transport = httpx.AsyncHTTPTransport(verify=verify)
            try:
                async with httpx.AsyncClient(transport=transport, trust_env=False) as http:
                    return await _pages(handle, tokens, http, header_on_next_pages)
            finally:
                await transport.aclose()

        return asyncio.run(run())


async def _pages(
    handle: SandboxHandle, tokens: MsalTokens, http: httpx.AsyncClient, header_on_next_pages: bool
) -> tuple[list[str], list[int | None]]:
    client = GraphClientFactory.create_with_default_middleware(client=http)
    adapter = GraphRequestAdapter(BaseBearerTokenAuthenticationProvider(tokens), client)
    adapter.base_url = f"{handle.info['tenants']['contoso']['graph_url']}/v1.0"
    builder = (
        GraphServiceClient(request_adapter=adapter).groups.by_group_id(GROUP).transitive_members.graph_user
    )
    page = await builder.get(request_configuration=_documented())
    upns: list[str] = []
    counts: list[int | None] = []
    while page is not None:
        upns += [str(u.user_principal_name) for u in page.value or []]
        counts.append(page.odata_count)
        if not page.odata_next_link:
            break
        next_config = _documented() if header_on_next_pages else None
        page = await builder.with_url(page.odata_next_link).get(request_configuration=next_config)
    return upns, counts


def test_msgraph_sdk_lists_transitive_members_with_the_documented_request(sandbox: SandboxHandle) -> None:
    upns, counts = _list(sandbox, header_on_next_pages=True)
    expected = {f"sdk{i:03d}@contoso.com" for i in range(MEMBERS)}
    expected |= {"alice@contoso.com", "bob@contoso.com", "carol@contoso.com"}  # through Tier 1
    assert len(upns) == len(expected) == 12 and set(upns) == expected
    assert counts == [12, None, None]  # 5 + 5 + 2; @odata.count on the first page only


def test_a_next_page_without_the_header_is_refused_as_graph_documents(sandbox: SandboxHandle) -> None:
    with pytest.raises(ODataError) as refused:
        _list(sandbox, header_on_next_pages=False)
    assert refused.value.response_status_code == 400
    assert refused.value.error is not None and refused.value.error.code == "Request_UnsupportedQuery"
