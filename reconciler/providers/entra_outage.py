"""What a run learnt about the identity service, so that an outage costs one line per tenant.

A token endpoint that keeps failing was retried by every read of every tenant: 3 tenants took
3 min 27 s and printed 24 identical Unknown lines each (issue 18, point 10). A run remembers:

- per tenant and authority, the sign-in that failed after its bounded retries: every later
  token request of that tenant at that authority (the other scope, a later read) fails at once
  with the same cause, without a request;
- per identity host, how many sign-ins in a row failed after their retries: from
  ``OUTAGE_AFTER`` on, a sign-in at that host gets one attempt and no retry until one succeeds,
  so a fleet under a persistent outage costs about one request per tenant, not the full backoff
  each (a host that answers again closes it at once: every tenant still makes its attempt).

"The run" is the event loop the command runs in (each command runs one): two runs in one
process (tests, a long-lived caller) never share what they learnt, and no state outlives a run.
"""

from __future__ import annotations

import asyncio
import copy
import weakref
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from reconciler.errors import ProviderError

# Sign-ins at one host failed in a row (each after its own retries) before the rest of the run
# stops retrying at that host: two, so one unlucky tenant does not take the others' retries away.
OUTAGE_AFTER = 2


def identity_host(authority: str) -> str:
    return urlsplit(authority).netloc.casefold()


@dataclass
class IdentityMemory:
    """The failed sign-ins of one run (see the module docstring)."""

    failed: dict[tuple[str, str], ProviderError] = field(default_factory=dict)
    failing_in_a_row: dict[str, int] = field(default_factory=dict)

    def failure(self, tenant: str, authority: str) -> ProviderError | None:
        """A fresh copy of the failure remembered for this tenant and authority, if any."""
        found = self.failed.get((tenant, authority.casefold()))
        return copy.copy(found) if found is not None else None

    def remember(self, tenant: str, authority: str, error: ProviderError, *, outage: bool = True) -> None:
        """``outage``: the host failed (counted towards ``OUTAGE_AFTER``), rather than refused."""
        self.failed[(tenant, authority.casefold())] = error
        if outage:
            host = identity_host(authority)
            self.failing_in_a_row[host] = self.failing_in_a_row.get(host, 0) + 1

    def succeeded(self, authority: str) -> None:
        self.failing_in_a_row.pop(identity_host(authority), None)

    def outage(self, authority: str) -> int:
        """How many sign-ins in a row failed at the authority's host when that makes an outage
        (``OUTAGE_AFTER`` or more), else 0."""
        count = self.failing_in_a_row.get(identity_host(authority), 0)
        return count if count >= OUTAGE_AFTER else 0


_RUNS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, IdentityMemory] = weakref.WeakKeyDictionary()


def run_memory() -> IdentityMemory:
    """The memory of the run in progress (the running event loop's)."""
    loop = asyncio.get_running_loop()
    memory = _RUNS.get(loop)
    if memory is None:
        memory = _RUNS[loop] = IdentityMemory()
    return memory
