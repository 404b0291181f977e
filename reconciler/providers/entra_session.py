"""The ``requests.Session`` MSAL sends through: explicit trust, no environment, a timeout, counted.

Separate from ``entra`` so that importing the token provider does not import requests (the
provider imports this module in its worker thread, on the first token request).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from reconciler.providers.entra import SERVICE, refuse_temporary
from reconciler.providers.http import RequestStats, path_template


class _TimeoutAdapter(HTTPAdapter):
    """MSAL ignores its ``timeout`` when given an ``http_client``: apply one per request here."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self._timeout = timeout

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: Any = None,
        proxies: Any = None,
    ) -> requests.Response:
        return super().send(
            request,
            stream=stream,
            timeout=self._timeout if timeout is None else timeout,
            verify=verify,
            cert=cert,
            proxies=proxies,
        )


def make_session(ca_file: Path | None, timeout: float, stats: RequestStats | None = None) -> requests.Session:
    """The HTTP client MSAL uses: explicit trust, no environment overrides, a timeout, counted requests."""
    session = requests.Session()
    session.trust_env = False
    session.verify = str(ca_file) if ca_file is not None else True
    session.mount("https://", _TimeoutAdapter(timeout))
    if stats is not None:

        def count(response: requests.Response, *args: Any, **kwargs: Any) -> None:
            method = response.request.method or "GET"
            stats.record(
                SERVICE, method, path_template(urlsplit(response.url).path.lstrip("/")), response.status_code
            )

        session.hooks["response"].append(count)
    session.hooks["response"].append(refuse_temporary)  # after counting: the answer was seen
    return session
