"""The request log: every request to an emulated API, with its path as a template.

Benchmarks and tests count requests per endpoint ("reads cost O(pages), not O(objects)"), so
ids are replaced by placeholders: ``/systemusers(<guid>)`` is logged as ``/systemusers({id})``,
an alternate key ``(LogicalName='x')`` as ``({key})``; Rescue methods are logged by page name
(``getUser_v3.aspx``). Requests to ``/_sandbox/`` controls are not logged.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import unquote

SERVICES = ("identity", "dataverse", "rescue", "graph", "keyvault")
_GUID = re.compile(r"^\{?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\}?$")
_PARENS = re.compile(r"\(([^()]*)\)")
_DATAVERSE_ROOT = "/api/data/v9.2"


@dataclass(frozen=True)
class RequestEntry:
    time: float
    service: str
    tenant: str
    method: str
    template: str
    status: int  # 0 when the connection was dropped without an answer


def _placeholder(match: re.Match[str]) -> str:
    inner = match.group(1)
    if not inner:
        return "()"
    return "({id})" if _GUID.match(inner) else "({key})"


def split_path(path: str) -> tuple[str, str, str]:
    """(service, tenant segment, rest) of a request path; service is "" for unknown roots."""
    parts = path.split("/", 3)
    if len(parts) < 2 or parts[1] not in SERVICES:
        return "", "", path
    service = parts[1]
    if service == "graph":
        return service, "", "/" + "/".join(parts[2:])
    segment = parts[2] if len(parts) > 2 else ""
    rest = "/" + parts[3] if len(parts) > 3 else ""
    return service, segment, rest


def template_of(service: str, rest: str) -> str:
    """The path template of a request, relative to the service's API root."""
    rest = unquote(rest)
    if service == "dataverse" and rest.startswith(_DATAVERSE_ROOT):
        rest = rest[len(_DATAVERSE_ROOT) :] or "/"
    elif service == "rescue":
        return rest.rsplit("/", 1)[-1]
    return _PARENS.sub(_placeholder, rest)


class RequestLog:
    """Thread-safe log of requests; ``summary`` gives counts per (service, method, template)."""

    def __init__(self, max_entries: int = 200_000) -> None:
        self._entries: list[RequestEntry] = []
        self._counts: Counter[tuple[str, str, str, str, int]] = Counter()
        self._lock = threading.Lock()
        self._max = max_entries

    def record(self, service: str, tenant: str, method: str, template: str, status: int) -> None:
        entry = RequestEntry(time.time(), service, tenant, method, template, status)
        with self._lock:
            self._counts[(service, tenant, method, template, status)] += 1
            self._entries.append(entry)
            if len(self._entries) > self._max:
                del self._entries[: len(self._entries) - self._max]

    def reset(self) -> None:
        with self._lock:
            self._entries.clear()
            self._counts.clear()

    def entries(self, *, tenant: str | None = None, service: str | None = None) -> list[RequestEntry]:
        with self._lock:
            return [
                e
                for e in self._entries
                if (tenant is None or e.tenant == tenant) and (service is None or e.service == service)
            ]

    def summary(self, *, tenant: str | None = None, service: str | None = None) -> dict[str, Any]:
        """JSON-ready: the entries (last ones kept) and counts over every request since the reset."""
        with self._lock:
            counts: Counter[tuple[str, str, str]] = Counter()
            statuses: dict[tuple[str, str, str], Counter[int]] = {}
            total = 0
            for (svc, ten, method, template, status), n in self._counts.items():
                if (tenant is not None and ten != tenant) or (service is not None and svc != service):
                    continue
                key = (svc, method, template)
                counts[key] += n
                statuses.setdefault(key, Counter())[status] += n
                total += n
        entries = self.entries(tenant=tenant, service=service)
        return {
            "total": total,
            "counts": [
                {
                    "service": svc,
                    "method": method,
                    "template": template,
                    "count": n,
                    "statuses": {str(s): c for s, c in sorted(statuses[(svc, method, template)].items())},
                }
                for (svc, method, template), n in sorted(counts.items())
            ],
            "entries": [asdict(e) for e in entries],
        }


def tenant_segments(tenants: Mapping[str, Mapping[str, str]]) -> dict[tuple[str, str], str]:
    """(service, path segment) -> tenant name, from each tenant's org host / company / Entra id."""
    found: dict[tuple[str, str], str] = {}
    for name, ids in tenants.items():
        for service, segment in ids.items():
            found[(service, segment.lower())] = name
    return found
