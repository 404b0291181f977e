"""Progress on a terminal: one self-overwriting status line on stderr while reading and applying.

Only when stderr is a terminal (never in a pipe, a CI log or a file, so JSON and markdown output
and saved logs stay clean); at most ten redraws a second; cleared before anything else is
printed. The line shows counts only, never tenant data, so it has nothing to escape.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

from reconciler.plan import Outcome

MIN_INTERVAL_S = 0.1  # at most 10 redraws a second
_CLEAR = "\r\x1b[K"  # carriage return + erase to the end of the line


def _terminal() -> TextIO | None:
    """stderr when it is a terminal, else None (a seam for tests)."""
    return sys.stderr if sys.stderr.isatty() else None


class StatusLine:
    """One line rewritten in place. Thread-safe: MSAL counts its requests from a worker thread."""

    def __init__(self, stream: TextIO, clock: Callable[[], float] = time.monotonic) -> None:
        self._stream = stream
        self._clock = clock
        self._last = float("-inf")
        self._shown = False
        self._lock = threading.Lock()

    def show(self, text: str, *, force: bool = False) -> None:
        with self._lock:
            now = self._clock()
            if not force and now - self._last < MIN_INTERVAL_S:
                return
            self._last = now
            self._stream.write(_CLEAR + text)
            self._stream.flush()
            self._shown = True

    def clear(self) -> None:
        with self._lock:
            if self._shown:
                self._stream.write(_CLEAR)
                self._stream.flush()
                self._shown = False


class ReadProgress:
    """``reading: tenants 3/100 done, 12,345 requests`` (the planner's ``ReadListener``)."""

    def __init__(self, line: StatusLine, tenants: int) -> None:
        self._line = line
        self._tenants = tenants
        self._done = 0
        self._requests = 0

    def _show(self, force: bool = False) -> None:
        self._line.show(
            f"reading: tenants {self._done}/{self._tenants} done, {self._requests:,} requests", force=force
        )

    def request_done(self) -> None:
        self._requests += 1
        self._show()

    def tenant_done(self) -> None:
        self._done += 1
        self._show(force=self._done == self._tenants)


class ApplyProgress:
    """``applying: changes 40/1,200`` (the applier's per-outcome callback)."""

    def __init__(self, line: StatusLine, changes: int) -> None:
        self._line = line
        self._changes = changes
        self._done = 0

    def __call__(self, tenant: str, outcome: Outcome) -> None:
        self._done += 1
        self._changes = max(self._changes, self._done)  # a change may report more than one outcome
        self._line.show(
            f"applying: changes {self._done:,}/{self._changes:,}", force=self._done == self._changes
        )


@contextmanager
def status_line() -> Iterator[StatusLine | None]:
    """A status line on a terminal's stderr (None when stderr is not one), cleared on exit."""
    stream = _terminal()
    if stream is None:
        yield None
        return
    line = StatusLine(stream)
    try:
        yield line
    finally:
        line.clear()
