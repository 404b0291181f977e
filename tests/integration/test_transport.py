"""The aiohttp transport under the clients, over real HTTPS: TLS trust, and what a lost
connection means for a retry (a read is repeated; a create is never repeated, maybe applied)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import aiohttp
import httpx
import pytest
import trustme

from reconciler.engine.connection import SandboxInfo, sandbox_connection
from reconciler.providers.http import ClientSettings, RequestStats, make_ssl_context
from reconciler.providers.rescue.client import RescueClient
from reconciler.providers.rescue.records import HierarchyResponse
from reconciler.providers.retry import ClientTransportError
from reconciler.providers.transport import _httpx_error
from rescue_sandbox import SandboxHandle

from .conftest import control

T = TypeVar("T")
QUICK = ClientSettings(backoff_base=0.01, backoff_cap=0.02)


def _call(
    handle: SandboxHandle, body: Callable[[RescueClient], Awaitable[T]], *, ca_file: Path | None = None
) -> tuple[T | BaseException, RequestStats]:
    conn = sandbox_connection("contoso", SandboxInfo.load(handle.state_dir))
    stats = RequestStats()
    ctx = make_ssl_context(ca_file or conn.ca_file)

    async def main() -> T | BaseException:
        client = RescueClient(
            conn.rescue_url, conn.authcode, ssl_context=ctx, settings=QUICK, stats=stats, tenant="contoso"
        )
        async with client:
            try:
                return await body(client)
            except ClientTransportError as exc:
                return exc

    return asyncio.run(main()), stats


def _faults(handle: SandboxHandle, spec: str) -> None:
    control(handle, "POST", "/faults", {"spec": spec})


def test_a_read_whose_connection_drops_is_retried(shared_demo: SandboxHandle) -> None:
    _faults(shared_demo, "rescue:drop=1,count=1,path=getHierarchy_v2.aspx")
    result, stats = _call(shared_demo, lambda c: c.get_hierarchy())
    assert isinstance(result, HierarchyResponse) and result.blocks and not result.odd
    assert (stats.total("rescue"), stats.retries("rescue")) == (2, 1)


def test_a_create_whose_connection_drops_is_maybe_applied_and_sent_once(shared_demo: SandboxHandle) -> None:
    _faults(shared_demo, "rescue:drop=1,count=1,path=createGroup.aspx")

    async def create(client: RescueClient) -> str:
        parent = next(
            b["NODEID"] for b in (await client.get_hierarchy()).blocks if b.get("TYPE") == "TechnicianGroup"
        )
        return await client.create_group(parent)

    result, stats = _call(shared_demo, create)
    assert isinstance(result, ClientTransportError) and result.maybe_applied, result
    assert stats.as_dict()["rescue"]["endpoints"]["POST createGroup"] == {"requests": 1, "retries": 0}


def test_a_certificate_of_another_ca_is_a_tls_failure_not_retried(
    shared_demo: SandboxHandle, tmp_path: Path
) -> None:
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    result, stats = _call(shared_demo, lambda c: c.get_hierarchy(), ca_file=other)
    assert isinstance(result, ClientTransportError) and "TLS failure" in result.message, result
    assert not result.maybe_applied and stats.total("rescue") == 1


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        (aiohttp.ClientConnectorError(None, OSError(111, "refused")), httpx.ConnectError),  # type: ignore[arg-type]
        (aiohttp.ConnectionTimeoutError(), httpx.ConnectTimeout),
        (aiohttp.SocketTimeoutError(), httpx.ReadTimeout),
        (aiohttp.ServerDisconnectedError(), httpx.ReadError),
        (aiohttp.ClientPayloadError(), httpx.ReadError),
        (aiohttp.ClientOSError(104, "reset"), httpx.ReadError),
        (TimeoutError(), httpx.ReadTimeout),
    ],
)
def test_only_a_failed_connect_counts_as_not_sent(failure: BaseException, expected: type[Exception]) -> None:
    assert _httpx_error(failure) is expected
