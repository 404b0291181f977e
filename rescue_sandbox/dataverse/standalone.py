"""Serve the Dataverse emulator alone over HTTPS on 127.0.0.1, in a background thread.

The full sandbox server (identity + Dataverse + Rescue) is the normal way to run it; this
smaller harness exists so the emulator can be exercised by independent clients (raw httpx,
Microsoft's SDK) with nothing else running. It makes a throw-away CA and a server certificate
for 127.0.0.1 at start, mounts the app at ``/dataverse`` exactly like the sandbox server does,
and stops uvicorn cleanly on exit.
"""

from __future__ import annotations

import ssl
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import trustme
import uvicorn
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.routing import Mount

from rescue_sandbox.dataverse.app import DataverseApp, create_dataverse_app
from rescue_sandbox.dataverse.limits import ServiceLimits
from rescue_sandbox.dataverse.org import DataverseOrg

_START_TIMEOUT = 10.0
LOCAL_APP_ID = "3f2a1b4c-5d6e-4f70-8a91-b2c3d4e5f607"  # the app LocalTokens mints for by default


class LocalTokens:
    """Signs and verifies RS256 access tokens shaped like the sandbox identity's.

    Claims: ``aud`` (the resource), ``iss``, ``tid``, ``appid``/``azp``, ``oid``, ``iat``, ``exp``.
    """

    def __init__(self, tenant_id: str = "00000000-0000-4000-8000-000000000001") -> None:
        self.tenant_id = tenant_id
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def mint(
        self,
        audience: str,
        *,
        oid: str | None = None,
        app_id: str = LOCAL_APP_ID,
        lifetime: float = 3600.0,
    ) -> str:
        now = int(time.time())
        claims = {
            "aud": audience,
            "iss": f"https://127.0.0.1/{self.tenant_id}/v2.0",
            "tid": self.tenant_id,
            "appid": app_id,
            "azp": app_id,
            "oid": oid or str(uuid.uuid4()),
            "iat": now,
            "exp": now + int(lifetime),
        }
        return jwt.encode(claims, self._key, algorithm="RS256")

    def verify(self, token: str) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._key.public_key(),
                algorithms=["RS256"],
                options={"verify_aud": False, "require": ["exp", "aud", "oid"]},
            )
        except jwt.PyJWTError as exc:
            raise ValueError(str(exc)) from exc
        return claims


@dataclass
class StandaloneServer:
    url: str  # https://127.0.0.1:PORT
    ca_file: str  # PEM of the CA that signed the server certificate
    app: DataverseApp

    def dataverse_url(self, host: str) -> str:
        """What ``sandbox.json`` calls ``dataverse_url``: the API root minus ``/api/data/v9.2``."""
        return f"{self.url}/dataverse/{host}"

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_file)


@contextmanager
def serve_standalone(
    orgs: Mapping[str, DataverseOrg],
    verify_token: Callable[[str], Mapping[str, Any]],
    limits: ServiceLimits | None = None,
    *,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[StandaloneServer]:
    """Run the emulator for ``orgs`` on an ephemeral port until the block exits."""
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    bound: dict[str, str] = {}
    app = create_dataverse_app(orgs, verify_token, limits, lambda: bound["url"], clock=clock)
    asgi = Starlette(routes=[Mount("/dataverse", app=app)])
    with tempfile.TemporaryDirectory(prefix="dataverse-standalone-") as tmp:
        folder = Path(tmp)
        ca_file, cert_file, key_file = folder / "ca.pem", folder / "server.pem", folder / "server.key"
        ca.cert_pem.write_to_path(str(ca_file))
        cert.private_key_pem.write_to_path(str(key_file))
        cert.cert_chain_pems[0].write_to_path(str(cert_file))
        for extra in cert.cert_chain_pems[1:]:
            extra.write_to_path(str(cert_file), append=True)
        config = uvicorn.Config(
            asgi,
            host="127.0.0.1",
            port=0,
            ssl_certfile=str(cert_file),
            ssl_keyfile=str(key_file),
            log_level="warning",
            lifespan="off",
            ws="none",
            access_log=False,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, name="dataverse-standalone", daemon=True)
        thread.start()
        deadline = time.monotonic() + _START_TIMEOUT
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                server.should_exit = True
                raise RuntimeError("the standalone Dataverse emulator did not start")
            time.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        bound["url"] = f"https://127.0.0.1:{port}"
        try:
            yield StandaloneServer(bound["url"], str(ca_file), app)
        finally:
            server.should_exit = True
            thread.join(timeout=_START_TIMEOUT)
