"""The event loop a run uses: uvloop where it is installed (Linux, macOS), else asyncio's own.

uvloop cuts the CPU the loop itself spends per request (benchmarks/cpu_per_request_results.md);
it has no Windows build, so it is optional and asyncio's loop is the fallback.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)`` on uvloop when available."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)
