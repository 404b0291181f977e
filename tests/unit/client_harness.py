"""Running an API client against ``httpx.MockTransport``, as the client unit tests do.

A test scripts the replies (``recorder``), builds its client from ``mock_options`` (the mock
transport, a sleep that records instead of waiting, fixed jitter) and runs one coroutine with it
inside ``async with`` (``run_client``). Nothing here touches the network.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import httpx

from reconciler.providers.base import ApiClient, ClientOptions
from reconciler.providers.http import ClientSettings, RequestStats
from reconciler.providers.retry import Timing

Handler = Callable[[httpx.Request], Any]
"""A MockTransport handler: returns (or, when async, resolves to) an ``httpx.Response``."""

Client = TypeVar("Client", bound=ApiClient)


class FakeSleep:
    """Records the delays the retry loop asks for instead of waiting."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


class FakeTokens:
    """A token provider that always hands out the same bearer token."""

    def __init__(self, token: str = "t") -> None:
        self._token = token

    async def token(self) -> str:
        return self._token


class ConcurrencyProbe:
    """An async handler that tracks how many requests are in flight at once (``peak``).

    Each request yields to the event loop a few times before ``reply()`` answers it, so that
    concurrent requests overlap as far as the client lets them.
    """

    def __init__(self, reply: Callable[[], httpx.Response]) -> None:
        self.reply = reply
        self.in_flight = 0
        self.peak = 0

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        for _ in range(3):
            await asyncio.sleep(0)
        self.in_flight -= 1
        return self.reply()


def recorder(*steps: httpx.Response | type[Exception]) -> tuple[Handler, list[httpx.Request]]:
    """A handler playing ``steps`` in order, repeating the last; an exception class is raised.

    Also returns the list of requests it saw, for the test to inspect.
    """
    seen: list[httpx.Request] = []
    queue = list(steps)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        step = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(step, httpx.Response):
            return step
        raise step("simulated", request=request)  # type: ignore[call-arg]

    return handler, seen


def mock_options(
    handler: Handler | None = None,
    *,
    settings: ClientSettings | None = None,
    stats: RequestStats | None = None,
    sleep: FakeSleep | None = None,
    tenant: str = "contoso",
) -> ClientOptions:
    """A client's keyword arguments; with a ``handler``, its transport and a timing that never waits."""
    options: ClientOptions = {
        "ssl_context": ssl.create_default_context(),
        "settings": settings or ClientSettings(),
        "stats": stats or RequestStats(),
        "tenant": tenant,
    }
    if handler is not None:
        options["transport"] = httpx.MockTransport(handler)
        options["timing"] = Timing(sleep=sleep or FakeSleep(), rand=lambda: 0.5)
    return options


def run_client(
    make_client: Callable[[ClientOptions], Client],
    handler: Handler,
    body: Callable[[Client], Awaitable[Any]],
    *,
    settings: ClientSettings | None = None,
    stats: RequestStats | None = None,
    sleep: FakeSleep | None = None,
) -> Any:
    """``body(client)`` inside ``async with client``, on a fresh event loop; what it returns.

    The client is ``make_client(mock_options(handler, ...))``: a test module binds its own
    ``make_client`` once (``run = partial(run_client, new_client)``).
    """

    async def main() -> Any:
        client = make_client(mock_options(handler, settings=settings, stats=stats, sleep=sleep))
        async with client:
            return await body(client)

    return asyncio.run(main())


def cause_chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc``, then what it was raised from, and so on: every error a secret could leak through."""
    chain: BaseException | None = exc
    while chain is not None:
        yield chain
        chain = chain.__cause__
