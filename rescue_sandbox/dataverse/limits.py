"""Service protection limits, per user (the token's ``oid``) over a sliding window.

Dataverse answers 429 with ``Retry-After`` (seconds) when a user exceeds, within the window
(default 300 s): the number of requests (6,000, ``0x80072322``), the combined execution time
(1,200 s, ``0x80072321``), or at any moment the number of concurrent requests (52,
``0x80072326``, refused at once). A ``$batch`` or a bulk action (``CreateMultiple`` ...) counts
as one request; its work (every part or target) counts against execution time. Requests refused
with 429 are not counted. Limits are configurable so tests can reach them with a handful of
requests.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from rescue_sandbox.dataverse import errors


@dataclass(frozen=True)
class ServiceLimits:
    requests_per_window: int = 6000
    window_seconds: float = 300.0
    max_concurrent: int = 52
    execution_seconds: float = 1200.0


@dataclass
class _UserUsage:
    requests: deque[float] = field(default_factory=deque)
    executions: deque[tuple[float, float]] = field(default_factory=deque)
    execution_total: float = 0.0
    in_flight: int = 0


@dataclass(frozen=True)
class Admission:
    user: str
    remaining_requests: int
    remaining_seconds: float


def _too_many(code: str, message: str, retry_after: float) -> errors.DataverseError:
    seconds = max(1, math.ceil(retry_after))
    return errors.DataverseError(429, code, message, {"Retry-After": str(seconds)})


class ServiceProtection:
    """Admits or refuses requests; call :meth:`release` when an admitted request ends."""

    def __init__(self, limits: ServiceLimits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self.clock = clock
        self._lock = threading.Lock()
        self._users: dict[str, _UserUsage] = {}

    def _prune(self, usage: _UserUsage, now: float) -> None:
        horizon = now - self.limits.window_seconds
        while usage.requests and usage.requests[0] <= horizon:
            usage.requests.popleft()
        while usage.executions and usage.executions[0][0] <= horizon:
            usage.execution_total -= usage.executions.popleft()[1]

    def admit(self, user: str) -> Admission:
        limits = self.limits
        with self._lock:
            now = self.clock()
            usage = self._users.setdefault(user, _UserUsage())
            self._prune(usage, now)
            if usage.in_flight >= limits.max_concurrent:
                raise _too_many(
                    errors.RATE_CONCURRENCY,
                    f"Number of concurrent requests exceeded the limit of {limits.max_concurrent}.",
                    1,
                )
            if len(usage.requests) >= limits.requests_per_window:
                raise _too_many(
                    errors.RATE_REQUESTS,
                    f"Number of requests exceeded the limit of {limits.requests_per_window} over time window "
                    f"of {limits.window_seconds:g} seconds.",
                    usage.requests[0] + limits.window_seconds - now,
                )
            if usage.execution_total >= limits.execution_seconds:
                excess = usage.execution_total - limits.execution_seconds
                wait = 0.0
                for start, duration in usage.executions:
                    wait = start + limits.window_seconds - now
                    excess -= duration
                    if excess < 0:
                        break
                raise _too_many(
                    errors.RATE_EXECUTION,
                    f"Combined execution time of incoming requests exceeded limit of "
                    f"{limits.execution_seconds * 1000:,.0f} milliseconds over time window of "
                    f"{limits.window_seconds:g} seconds. Decrease number of concurrent requests or reduce the "
                    "duration of requests and try again later.",
                    wait,
                )
            usage.requests.append(now)
            usage.in_flight += 1
            return Admission(
                user,
                limits.requests_per_window - len(usage.requests),
                max(0.0, limits.execution_seconds - usage.execution_total),
            )

    def release(self, admission: Admission, duration: float) -> None:
        with self._lock:
            usage = self._users[admission.user]
            usage.in_flight -= 1
            usage.executions.append((self.clock(), duration))
            usage.execution_total += duration

    def in_flight(self, user: str) -> int:
        with self._lock:
            usage = self._users.get(user)
            return usage.in_flight if usage else 0
