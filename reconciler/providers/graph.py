"""A minimal Microsoft Graph client: is the LogMeIn app's service principal in the tenant (consent)?
Who are the user members of a group, transitively (technicians by rule)?

The member listing casts to ``microsoft.graph.user``: an advanced query, which Graph serves only
with ``ConsistencyLevel: eventual`` and ``$count=true``; the header goes on every page (Graph does
not carry it to ``@odata.nextLink``; the link keeps ``$count``). Sources: docs/sandbox.md.

Same policy as the Dataverse client (retries, typed errors, counted requests under service
"graph"); it only reads, so every request is safe to repeat. The bearer token comes from an
``MsalTokenProvider`` with the Graph scope (``https://graph.microsoft.com/.default``, or the
sandbox's graph URL + ``/.default``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Unpack

import httpx

from reconciler.diff.rules import EntraGroup, EntraUser
from reconciler.errors import AuthError, InputError, ProtocolError, ProviderError
from reconciler.kinds.needs import GROUP_MEMBERS_PERMISSION
from reconciler.providers.base import ApiClient, ClientOptions
from reconciler.providers.entra import TokenProvider
from reconciler.providers.http import (
    api_error,
    encode_query,
    error_payload,
    odata_page,
    require_https,
)

SERVICE = "graph"
DEFAULT_GRAPH_URL = "https://graph.microsoft.com"

# Graph's largest page of directory objects; the default is 100.
MAX_PAGE_SIZE = 999
MEMBER_SELECT = "id,userPrincipalName,mail"
# The advanced query parameters an OData cast needs: the header on every request of a listing.
ADVANCED_QUERY = {"ConsistencyLevel": "eventual"}
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


class GraphClient(ApiClient):
    """Async Microsoft Graph client (``/v1.0``): the consent check and group members."""

    def __init__(
        self, graph_url: str = DEFAULT_GRAPH_URL, *, tokens: TokenProvider, **options: Unpack[ClientOptions]
    ) -> None:
        self.graph_url = require_https(graph_url, setting="graph_url")
        super().__init__(SERVICE, tokens, **options)

    async def _get(
        self, path: str, params: dict[str, str], template: str, *, permission: str = "Application.Read.All"
    ) -> dict[str, Any]:
        return await self._get_url(f"{self.graph_url}/{path}?{encode_query(params)}", template, permission)

    async def _get_url(
        self, url: str, template: str, permission: str, headers: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        response = await self._exchange(
            "GET",
            url,
            template=template,
            idempotent=True,
            headers={"Accept": "application/json", **(headers or {})},
        )
        where = f"GET {template}"
        if not response.is_success:
            raise self._error(response, where, permission)
        return self._json(response, where)

    def _error(self, response: httpx.Response, where: str, permission: str) -> ProviderError:
        code, message = error_payload(response)
        status = response.status_code
        if status == 401:
            return AuthError(
                f"{where}: Microsoft Graph refused the access token (HTTP 401): check "
                "connection.dynamics.tenant_id, client_id and credential",
                service=SERVICE,
                tenant=self.tenant,
            )
        if status == 403:
            return api_error(
                status,
                code,
                f"{message} (this read needs the Graph application permission "
                f"{permission} granted to the reconciler's app registration)",
                where=where,
                service=SERVICE,
                tenant=self.tenant,
            )
        return api_error(status, code, message, where=where, service=SERVICE, tenant=self.tenant)

    async def find_service_principal(self, app_id: str) -> dict[str, Any] | None:
        """The service principal of ``app_id`` (id, appId, displayName), or None when not consented."""
        if not _GUID.match(app_id):
            raise InputError(f"application ID {app_id!r} is not a GUID")
        params = {"$filter": f"appId eq '{app_id.lower()}'", "$select": "id,appId,displayName"}
        data = await self._get("v1.0/servicePrincipals", params, "v1.0/servicePrincipals")
        value = data.get("value")
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise ProtocolError(
                "GET v1.0/servicePrincipals: the reply has no 'value' list",
                service=SERVICE,
                tenant=self.tenant,
            )
        if len(value) > 1:
            raise ProtocolError(
                f"GET v1.0/servicePrincipals: {len(value)} service principals for one appId",
                service=SERVICE,
                tenant=self.tenant,
            )
        return value[0] if value else None

    async def group_users(self, group_id: str) -> list[dict[str, Any]]:
        """Every user member of a group, directly or through nested groups (id,
        userPrincipalName, mail), page by page following ``@odata.nextLink`` as given, each page
        with the advanced query header.

        All or nothing: a page that fails after retries raises, so a caller never mistakes part
        of a group for the whole of it. Needs GroupMember.Read.All (or a higher permission); a
        member's properties need User.Read.All (without it a row has only ``id``).
        """
        if not _GUID.match(group_id):
            raise InputError(f"group ID {group_id!r} is not a GUID")
        template = "v1.0/groups/{id}/transitiveMembers/microsoft.graph.user"
        params = {
            "$select": MEMBER_SELECT,
            "$top": str(min(self.settings.page_size, MAX_PAGE_SIZE)),
            "$count": "true",
        }
        url: str | None = (
            f"{self.graph_url}/v1.0/groups/{group_id.lower()}/transitiveMembers/microsoft.graph.user"
            f"?{encode_query(params)}"
        )
        users: list[dict[str, Any]] = []
        seen: set[str] = set()
        while url is not None:
            page = await self._get_url(url, template, GROUP_MEMBERS_PERMISSION, ADVANCED_QUERY)
            value, url = odata_page(
                page,  # never send the token elsewhere, never loop
                f"GET {template}",
                seen,
                service=SERVICE,
                tenant=self.tenant,
                base=self.graph_url + "/v1.0/",
            )
            users.extend(value)
        return users


async def read_group(client: GraphClient, group_id: str) -> EntraGroup:
    """A group's transitive user members, or why they could not be read (never part of them)."""
    try:
        rows = await client.group_users(group_id)
    except AuthError:
        raise
    except ProviderError as exc:
        return EntraGroup(None, exc.message)
    return entra_group(rows)


def entra_group(rows: Sequence[Mapping[str, Any]]) -> EntraGroup:
    """The members as the rules take them. A member without ``userPrincipalName`` is one Graph
    showed with limited information (the app may not read users): it goes to ``limited`` by its
    ID, never into the members with an empty UPN (the rule decides what that means)."""
    users: list[EntraUser] = []
    limited: list[str] = []
    for row in rows:
        upn, mail = row.get("userPrincipalName"), row.get("mail")
        if not isinstance(upn, str) or not upn:
            limited.append(str(row.get("id", "")))
            continue
        users.append(
            EntraUser(str(row.get("id", "")), upn.lower(), mail.lower() if isinstance(mail, str) else "")
        )
    return EntraGroup(tuple(users), limited=tuple(limited))
