"""The standalone Dataverse emulator as the raw-HTTP conformance modules (``test_dataverse_*``) use it.

Each of those modules serves one org, built from its own seed, at ``HOST``; the ``tokens``,
``server`` and ``api`` fixtures in conftest.py start the server once per module and hand every
test a client of the Web API root. What a module chooses is its ``org`` fixture (usually
``install_org(server, SEED)``) and, when it needs other default headers, ``api_headers``.
"""

from __future__ import annotations

from typing import Any

import httpx

from rescue_sandbox.dataverse import DataverseOrg
from rescue_sandbox.dataverse.standalone import LOCAL_APP_ID, StandaloneServer

HOST = "contoso.crm.dynamics.com"
API_PATH = "/api/data/v9.2/"
ODATA_HEADERS = {"Accept": "application/json", "OData-MaxVersion": "4.0", "OData-Version": "4.0"}
"""What the reference's request examples send besides the token."""


def install_org(server: StandaloneServer, seed: dict[str, Any], **options: Any) -> DataverseOrg:
    """A fresh org built from ``seed``, served at ``HOST`` in place of the previous test's.

    ``options`` go to ``DataverseOrg.from_seed`` (``clock``, ``index_job_seconds``).
    """
    fresh = DataverseOrg.from_seed(with_caller(seed), **options)
    server.app.orgs[HOST] = fresh  # type: ignore[index]
    return fresh


def with_caller(seed: dict[str, Any]) -> dict[str, Any]:
    """The seed with an application user for the app ``LocalTokens`` mints for (unless it says)."""
    return seed if "reconciler_user" in seed else {**seed, "reconciler_user": {"app_id": LOCAL_APP_ID}}


def error_of(response: httpx.Response) -> dict[str, str]:
    """The ``error`` object of a Dataverse error reply, checking its shape on the way."""
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"].startswith("0x")
    return dict(body["error"])
