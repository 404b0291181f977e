"""The Graph emulator's group members: transitive listing, the user cast as an advanced query
(ConsistencyLevel + $count on every page), paging, errors, permissions, members with limited
information; and the product's GraphClient following nextLink over real HTTPS."""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from conftest import demo_seed_with_passwords, http_client, ssl_context, token_for

from reconciler.errors import ProtocolError
from reconciler.providers.graph import GraphClient, read_group
from reconciler.providers.http import ClientSettings, RequestStats
from rescue_sandbox import SandboxHandle, running_sandbox
from rescue_sandbox.tenant import SandboxTenant

ROOT = "5d0b2f3e-8c1a-4e6b-9f70-1a2b3c4d5e01"  # "Rescue technicians" (holds Tier 1 as a nested group)
TIER1 = "5d0b2f3e-8c1a-4e6b-9f70-1a2b3c4d5e02"
BIG = "5d0b2f3e-8c1a-4e6b-9f70-1a2b3c4d5eff"  # 250 users, nested inside itself (a loop)
MISSING = "00000000-0000-4000-8000-000000000000"
USER_CAST = "/microsoft.graph.user"
EVENTUAL = {"ConsistencyLevel": "eventual"}


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxHandle]:
    seed = demo_seed_with_passwords()
    directory = seed["tenants"]["contoso"]["identity"]["directory"]
    users = [f"user{i:03d}@contoso.com" for i in range(250)]
    directory["users"] += [{"upn": u, "mail": u} for u in users]
    directory["groups"].append({"id": BIG, "display_name": "Many", "users": users, "groups": [BIG, TIER1]})
    with running_sandbox(seed) as handle:
        yield handle


@pytest.fixture(scope="module")
def http(sandbox: SandboxHandle) -> Iterator[httpx.Client]:
    token = token_for(sandbox, "contoso", "https://graph.microsoft.com")
    with http_client(sandbox, headers={"Authorization": f"Bearer {token}"}) as client:
        yield client


def _members(
    http: httpx.Client,
    sandbox: SandboxHandle,
    group: str,
    cast: str = "",
    *,
    advanced: bool = True,
    **params: str,
) -> httpx.Response:
    """A listing; with ``advanced`` (the default) a cast goes with the documented advanced query
    parameters: ``ConsistencyLevel: eventual`` and ``$count=true``."""
    url = f"{sandbox.info['tenants']['contoso']['graph_url']}/v1.0/groups/{group}/transitiveMembers{cast}"
    if cast and advanced:
        return http.get(url, params={"$count": "true", **params}, headers=EVENTUAL)
    return http.get(url, params=params)


def test_transitive_members_flatten_nested_groups(http: httpx.Client, sandbox: SandboxHandle) -> None:
    everything = _members(http, sandbox, ROOT).json()["value"]
    assert {(m["@odata.type"], m.get("userPrincipalName") or m["displayName"]) for m in everything} == {
        ("#microsoft.graph.user", "alice@contoso.com"),
        ("#microsoft.graph.user", "bob@contoso.com"),
        ("#microsoft.graph.user", "carol@contoso.com"),
        ("#microsoft.graph.group", "Tier 1 technicians"),
    }
    users = _members(http, sandbox, ROOT, USER_CAST, **{"$select": "id,userPrincipalName,mail"})
    assert users.status_code == 200
    assert users.json()["@odata.count"] == 3
    assert [set(u) for u in users.json()["value"]] == [{"id", "userPrincipalName", "mail"}] * 3
    assert {u["mail"] for u in users.json()["value"]} == {
        "alice@contoso.com",
        "bob@contoso.com",
        "carol.jones@contoso.com",
    }


def test_pages_of_100_by_default_then_top_and_opaque_skiptoken(
    http: httpx.Client, sandbox: SandboxHandle
) -> None:
    page = _members(http, sandbox, BIG, USER_CAST).json()
    counts = [page.get("@odata.count")]
    sizes, seen = [len(page["value"])], [u["id"] for u in page["value"]]
    while "@odata.nextLink" in page:
        assert "$skiptoken=" in page["@odata.nextLink"] and "$count=true" in page["@odata.nextLink"]
        page = http.get(page["@odata.nextLink"], headers=EVENTUAL).json()
        counts.append(page.get("@odata.count"))
        sizes.append(len(page["value"]))
        seen += [u["id"] for u in page["value"]]
    assert sizes == [100, 100, 53]  # 250 + alice, bob, carol through Tier 1; the loop adds nobody
    assert counts == [253, None, None]  # @odata.count on the first page only
    assert len(set(seen)) == 253
    assert "@odata.nextLink" not in _members(http, sandbox, BIG, USER_CAST, **{"$top": "999"}).json()
    for top in ("0", "1000", "x"):
        bad = _members(http, sandbox, BIG, USER_CAST, **{"$top": top})
        assert (bad.status_code, bad.json()["error"]["code"]) == (400, "Request_BadRequest")
    forged = _members(http, sandbox, BIG, USER_CAST, **{"$skiptoken": "100"})
    assert forged.status_code == 400


def _error(reply: httpx.Response) -> tuple[int, str, str]:
    error = reply.json()["error"]
    return reply.status_code, error["code"], error["message"]


UNSUPPORTED = (400, "Request_UnsupportedQuery", "Invalid search request.")


@pytest.mark.parametrize("cast", ["/microsoft.graph.user", "/graph.user"])
def test_a_cast_is_served_only_as_an_advanced_query_on_every_page(
    http: httpx.Client, sandbox: SandboxHandle, cast: str
) -> None:
    """Both spellings of the cast (namespace and alias) need the header and $count=true; the
    nextLink keeps $count, never the header, so a next page without the header is refused."""
    assert _error(_members(http, sandbox, ROOT, cast, advanced=False)) == UNSUPPORTED
    header_only = _members(http, sandbox, ROOT, cast, advanced=False, **{"$count": "false"})
    assert _error(header_only) == UNSUPPORTED
    url = f"{sandbox.info['tenants']['contoso']['graph_url']}/v1.0/groups/{ROOT}/transitiveMembers{cast}"
    assert _error(http.get(url, headers=EVENTUAL)) == UNSUPPORTED  # no $count
    assert _error(http.get(url, params={"$count": "true"})) == UNSUPPORTED  # no header
    first = _members(http, sandbox, BIG, cast, **{"$top": "200"})
    assert first.status_code == 200 and first.json()["@odata.count"] == 253
    link = first.json()["@odata.nextLink"]
    assert link.startswith(url.replace(ROOT, BIG) + "?") and "$count=true" in link
    assert _error(http.get(link)) == UNSUPPORTED
    assert len(http.get(link, headers=EVENTUAL).json()["value"]) == 53
    assert _error(_members(http, sandbox, ROOT, cast, **{"$count": "yes"}))[:2] == (400, "Request_BadRequest")


def test_count_without_a_cast_needs_the_header_or_is_ignored(
    http: httpx.Client, sandbox: SandboxHandle
) -> None:
    ignored = _members(http, sandbox, ROOT, **{"$count": "true"})
    assert ignored.status_code == 200 and "@odata.count" not in ignored.json()
    counted = http.get(ignored.url, headers=EVENTUAL).json()
    assert counted["@odata.count"] == len(counted["value"]) == 4


def test_errors_as_graph_answers_them(http: httpx.Client, sandbox: SandboxHandle) -> None:
    def code(reply: httpx.Response) -> tuple[int, str]:
        return reply.status_code, reply.json()["error"]["code"]

    assert code(_members(http, sandbox, MISSING, USER_CAST)) == (
        404,
        "Request_ResourceNotFound",
    )
    for bad in ("/microsoft.graph.banana", "/graph.banana", "/microsoft.graph.User", "/contoso.user"):
        assert code(_members(http, sandbox, ROOT, bad)) == (400, "Request_UnsupportedQuery")
    assert code(_members(http, sandbox, ROOT, "", **{"$filter": "id eq 'x'"})) == (
        400,
        "Request_UnsupportedQuery",
    )
    # fabrikam's app has no Graph permission: group members are denied.
    fabrikam = token_for(sandbox, "fabrikam", "https://graph.microsoft.com")
    url = f"{sandbox.info['tenants']['fabrikam']['graph_url']}/v1.0/groups/{ROOT}/transitiveMembers"
    denied = http.get(url, headers={"Authorization": f"Bearer {fabrikam}"})
    assert code(denied) == (403, "Authorization_RequestDenied")


class _Token:
    def __init__(self, token: str) -> None:
        self.value = token

    async def token(self) -> str:
        return self.value


def _read(sandbox: SandboxHandle, tenant: str, group: str, page_size: int) -> tuple[Any, RequestStats]:
    stats = RequestStats()
    tokens = _Token(token_for(sandbox, tenant, "https://graph.microsoft.com"))
    context: ssl.SSLContext = ssl_context(sandbox)

    async def run() -> Any:
        client = GraphClient(
            sandbox.info["tenants"][tenant]["graph_url"],
            tokens=tokens,
            ssl_context=context,
            settings=ClientSettings(page_size=page_size, max_retries=0),
            stats=stats,
            tenant=tenant,
        )
        async with client:
            return await read_group(client, group)

    return asyncio.run(run()), stats


def test_client_follows_next_links_one_request_per_page(sandbox: SandboxHandle) -> None:
    group, stats = _read(sandbox, "contoso", BIG, page_size=100)
    assert group.members is not None and len(group.members) == 253
    assert stats.as_dict()["graph"]["requests"] == 3
    group, stats = _read(sandbox, "contoso", BIG, page_size=5000)  # $top=999: one page
    assert group.members is not None and len(group.members) == 253
    assert stats.as_dict()["graph"]["requests"] == 1


def test_client_reports_an_unreadable_group_never_part_of_it(sandbox: SandboxHandle) -> None:
    missing, _ = _read(sandbox, "contoso", MISSING, page_size=100)
    assert missing.members is None and "does not exist" in missing.error
    denied, _ = _read(sandbox, "fabrikam", ROOT, page_size=100)
    assert denied.members is None and "GroupMember.Read.All" in denied.error


def test_without_user_read_all_user_members_come_with_limited_information(
    http: httpx.Client, sandbox: SandboxHandle
) -> None:
    """GroupMember.Read.All alone lists user members with their type and ID, every other property
    present as null (groups stay readable); User.ReadBasic.All does not lift it here (unverified for
    an app: the stricter choice); Directory.Read.All does, and lists members on its own."""
    granted = sandbox.sandbox.tenants["contoso"].identity.directory.app_permissions
    app = next(iter(granted))
    before = list(granted[app])
    try:
        for permissions in (["GroupMember.Read.All"], ["GroupMember.Read.All", "User.ReadBasic.All"]):
            granted[app] = permissions
            everything = _members(http, sandbox, ROOT).json()["value"]
            users = [m for m in everything if m["@odata.type"] == "#microsoft.graph.user"]
            assert len(users) == 3
            for user in users:
                assert user == {
                    "@odata.type": "#microsoft.graph.user",
                    "id": user["id"],
                    "userPrincipalName": None,
                    "mail": None,
                    "displayName": None,
                    "accountEnabled": None,
                }
            [group] = [m for m in everything if m["@odata.type"] == "#microsoft.graph.group"]
            assert group["displayName"] == "Tier 1 technicians"
            cast = _members(http, sandbox, ROOT, "/graph.user", **{"$select": "id,userPrincipalName,mail"})
            assert [set(m.items()) - {("id", m["id"])} for m in cast.json()["value"]] == [
                {("@odata.type", "#microsoft.graph.user"), ("userPrincipalName", None), ("mail", None)}
            ] * 3
        granted[app] = ["Directory.Read.All"]
        full = _members(http, sandbox, ROOT, USER_CAST, **{"$select": "id,userPrincipalName"}).json()
        assert sorted(u["userPrincipalName"] for u in full["value"]) == [
            "alice@contoso.com",
            "bob@contoso.com",
            "carol@contoso.com",
        ]
        # The product's client: every page asked with the advanced query header (the sandbox
        # refuses a page without it), and a group with limited members is never read as smaller.
        granted[app] = ["GroupMember.Read.All"]
        group, stats = _read(sandbox, "contoso", BIG, page_size=100)
        assert group.members == () and len(group.limited) == 253
        assert stats.as_dict()["graph"]["requests"] == 3
    finally:
        granted[app] = before


def test_client_refuses_a_foreign_next_link() -> None:
    async def run() -> None:
        def reply(request: httpx.Request) -> httpx.Response:
            return httpx.Response(200, json={"value": [], "@odata.nextLink": "https://evil.example/v1.0/x"})

        client = GraphClient(
            "https://graph.example",
            tokens=_Token("t"),
            ssl_context=ssl.create_default_context(),
            settings=ClientSettings(max_retries=0),
            stats=RequestStats(),
            tenant="t",
            transport=httpx.MockTransport(reply),
        )
        async with client:
            with pytest.raises(ProtocolError, match="foreign"):
                await client.group_users(ROOT)

    asyncio.run(run())


def test_the_directory_survives_a_save_and_restore(sandbox: SandboxHandle) -> None:
    tenant = sandbox.sandbox.tenants["contoso"]
    restored = SandboxTenant.restore(json.loads(json.dumps(tenant.snapshot())))
    assert restored.identity.directory == tenant.identity.directory
    assert restored.identity.directory.app_permissions == {
        tenant.client.client_id.lower(): ["GroupMember.Read.All", "User.Read.All"]
    }
