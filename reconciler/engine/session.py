"""The clients of one tenant, opened together and closed together, sharing one request counter."""

from __future__ import annotations

from contextlib import AsyncExitStack
from types import TracebackType

from reconciler.engine.connection import TenantConnection
from reconciler.providers.dynamics.client import DataverseClient
from reconciler.providers.entra import MsalTokenProvider
from reconciler.providers.graph import GraphClient
from reconciler.providers.http import ClientSettings, RequestStats, make_ssl_context
from reconciler.providers.rescue.client import RescueClient


class TenantSession:
    """``async with TenantSession(conn, settings, stats) as s:`` gives ``s.dataverse``,
    ``s.rescue`` and ``s.graph``; tokens are fetched lazily, once, on first use."""

    def __init__(self, conn: TenantConnection, settings: ClientSettings, stats: RequestStats) -> None:
        ssl_context = make_ssl_context(conn.ca_file)
        self.conn = conn
        self._stack = AsyncExitStack()
        self._token_providers = [
            MsalTokenProvider(
                conn.authority,
                conn.client_id,
                conn.credential,
                scope,
                ca_file=conn.ca_file,
                instance_discovery=conn.instance_discovery,
                tenant=conn.tenant,
                stats=stats,
                settings=settings,
            )
            for scope in (conn.dataverse_scope, conn.graph_scope)
        ]
        self.dataverse = DataverseClient(
            conn.dataverse_url,
            self._token_providers[0],
            ssl_context=ssl_context,
            settings=settings,
            stats=stats,
            tenant=conn.tenant,
        )
        self.rescue = RescueClient(
            conn.rescue_url,
            conn.authcode,
            ssl_context=ssl_context,
            settings=settings,
            stats=stats,
            tenant=conn.tenant,
        )
        self.graph = GraphClient(
            conn.graph_url,
            tokens=self._token_providers[1],
            ssl_context=ssl_context,
            settings=settings,
            stats=stats,
            tenant=conn.tenant,
        )

    async def __aenter__(self) -> TenantSession:
        await self._stack.__aenter__()
        for client in (self.dataverse, self.rescue, self.graph):
            await self._stack.enter_async_context(client)
        for tokens in self._token_providers:
            self._stack.push_async_callback(tokens.aclose)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._stack.__aexit__(exc_type, exc, tb)
