"""The sandbox server: composes the emulators into one ASGI app and serves it over HTTPS.

Layout of the app (one host, one port, like several services behind one proxy):
``/identity`` Entra ID, ``/dataverse`` one org per tenant, ``/rescue`` one company per tenant,
``/graph`` service principals, ``/keyvault`` the vaults' secrets, ``/_sandbox`` the controls. A middleware in front logs every
request to an emulated API and injects the configured faults.

The server runs uvicorn in a thread on 127.0.0.1 (ephemeral port by default), with a CA kept in
the state directory and a fresh server certificate. :func:`running_sandbox` is the in-process
form (tests, ``reconcile demo``); :func:`serve` is the foreground form behind
``reconcile sandbox serve`` (Ctrl-C / SIGTERM stop it cleanly and persist the state).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import shutil
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.routing import Mount

from rescue_sandbox import tls
from rescue_sandbox.controls import create_controls_app
from rescue_sandbox.dataverse import ServiceLimits, create_dataverse_app
from rescue_sandbox.errors import InputError
from rescue_sandbox.faults import fault_response, parse_spec
from rescue_sandbox.forbidden import Answer, caller_id, forbidden_batch, forbidden_response
from rescue_sandbox.graph.api import GraphService
from rescue_sandbox.keyvault.controls import create_keyvault_controls
from rescue_sandbox.keyvault.seeding import KeyVaultSeed, build_keyvault, restore_keyvault
from rescue_sandbox.requestlog import split_path, template_of
from rescue_sandbox.rescue import RescueService
from rescue_sandbox.seed import build_tenant, check_seed, demo_seed_path, load_seed
from rescue_sandbox.state import STATE_FILE, STATE_VERSION, SandboxState, save_state
from rescue_sandbox.tenant import SandboxTenant

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

INFO_FILE = "sandbox.json"


class Sandbox(SandboxState):
    """Every tenant of one sandbox and the ASGI app that serves them."""

    def __init__(
        self,
        tenants: Mapping[str, SandboxTenant],
        signing_key: Any = None,
        *,
        limits: ServiceLimits | None = None,
        keyvault: KeyVaultSeed | None = None,
    ) -> None:
        super().__init__(tenants, signing_key, keyvault)
        router = Starlette(
            routes=[
                Mount("/identity", app=self.identity.app()),
                Mount(
                    "/dataverse",
                    app=create_dataverse_app(
                        {t.org_host: t.org for t in self.tenants.values()},
                        self.identity.verify_token,
                        limits or ServiceLimits(),
                        base_url=lambda: self.base_url,
                    ),
                ),
                Mount(
                    "/rescue",
                    app=RescueService({t.rescue.company_id: t.rescue for t in self.tenants.values()}).app(),
                ),
                Mount("/graph", app=GraphService(self.identity, lambda: self.base_url).app()),
                Mount("/keyvault", app=self.keyvault.app()),
                Mount("/_sandbox/keyvault", app=create_keyvault_controls(self.keyvault.vaults)),
                Mount("/_sandbox", app=create_controls_app(self)),
            ]
        )
        self.app: ASGIApp = _SandboxMiddleware(router, self)

    @classmethod
    def from_seed(cls, seed: Mapping[str, Any], *, limits: ServiceLimits | None = None) -> Sandbox:
        check_seed(seed)
        tenants = {str(name): build_tenant(str(name), raw) for name, raw in seed["tenants"].items()}
        _check_unique(tenants)
        return cls(tenants, limits=limits, keyvault=build_keyvault(seed.get("keyvault"), tenants))

    @classmethod
    def restore(cls, state: Mapping[str, Any], *, limits: ServiceLimits | None = None) -> Sandbox:
        if state.get("version") != STATE_VERSION:
            raise InputError(f"sandbox state version {state.get('version')!r} is not supported")
        tenants = {t["name"]: SandboxTenant.restore(t) for t in state["tenants"]}
        keyvault = restore_keyvault(state.get("keyvault"), tenants)
        return cls(tenants, tls.key_from_pem(state["signing_key"]), limits=limits, keyvault=keyvault)


def _check_unique(tenants: Mapping[str, SandboxTenant]) -> None:
    seen: dict[tuple[str, str], str] = {}
    for tenant in tenants.values():
        for kind, value in (
            ("org host", tenant.org_host.lower()),
            ("Rescue company id", tenant.rescue.company_id),
            ("Entra tenant id", tenant.identity.tenant_id.lower()),
        ):
            other = seen.setdefault((kind, value), tenant.name)
            if other != tenant.name:
                raise InputError(f"seed: tenants {other} and {tenant.name} share the {kind} {value}")


class _SandboxMiddleware:
    """Logs each request to an emulated API and applies the fault rules before it is answered."""

    def __init__(self, app: ASGIApp, sandbox: Sandbox) -> None:
        self.app = app
        self.sandbox = sandbox

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        service, segment, rest = (
            split_path(scope.get("path", "")) if scope["type"] == "http" else ("", "", "")
        )
        if not service:
            await self.app(scope, receive, send)
            return
        method, template = scope["method"], template_of(service, rest)
        tenant = self.sandbox.tenant_for(service, segment)
        decision = self.sandbox.faults.decide(service, method, template)
        if decision.latency:
            await asyncio.sleep(decision.latency)
        if decision.kind == "drop":
            self.sandbox.requests.record(service, tenant, method, template, 0)
            await _drop_connection(send, receive)
            return
        if decision.kind == "reply_lost":
            await self._process_then_drop(scope, receive, send, (service, tenant, method, template))
            return
        if decision.kind is not None:
            if decision.kind == "403":
                status, headers, body = await self._forbidden(scope, receive, service, tenant, template)
            else:
                status, headers, body = fault_response(service, decision.kind, decision.retry_after)
            raw_headers = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
            raw_headers.append((b"content-length", str(len(body)).encode()))
            await send({"type": "http.response.start", "status": status, "headers": raw_headers})
            await send({"type": "http.response.body", "body": body})
            self.sandbox.requests.record(service, tenant, method, template, status)
            return
        seen = {"status": 0}

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start":
                seen["status"] = int(message["status"])
            await send(message)

        scope.setdefault("state", {})
        try:
            await self.app(scope, receive, watch)
        finally:
            tenant = tenant or str(scope["state"].get("sandbox_tenant", ""))
            self.sandbox.requests.record(service, tenant, method, template, seen["status"])

    async def _process_then_drop(
        self, scope: Scope, receive: Receive, send: Send, entry: tuple[str, str, str, str]
    ) -> None:
        """The ``reply_lost`` fault: the app handles the request (its changes stay), then the
        connection closes before any byte of the reply; logged with status 0 like a drop."""
        service, tenant, method, template = entry
        seen = {"status": 0}

        async def swallow(message: Message) -> None:
            if message["type"] == "http.response.start":
                seen["status"] = int(message["status"])

        scope.setdefault("state", {})
        try:
            await self.app(scope, receive, swallow)
        except Exception:
            log.exception("sandbox: %s %s failed while its reply was to be lost", method, template)
        tenant = tenant or str(scope["state"].get("sandbox_tenant", ""))
        self.sandbox.requests.record(service, tenant, method, template, 0)
        log.info(
            "sandbox: %s %s answered HTTP %s; the reply is lost on purpose", method, template, seen["status"]
        )
        await _drop_connection(send, receive)

    async def _forbidden(
        self, scope: Scope, receive: Receive, service: str, tenant: str, template: str
    ) -> Answer:
        """The ``403`` fault's answer; a Dataverse ``$batch`` is read to name its operations."""
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        known = self.sandbox.tenants.get(tenant)
        org = known.org if known is not None and service == "dataverse" else None
        caller = caller_id(headers.get("authorization"), f"{service}|{tenant}")
        method = str(scope["method"]).upper()
        if service == "dataverse" and method == "POST" and template == "/$batch":
            body = await _read_body(receive)
            return forbidden_batch(
                org, body, headers.get("content-type", ""), headers.get("prefer", ""), caller
            )
        return forbidden_response(service, method, template, org=org, caller=caller)


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(bytes(message.get("body", b"")))
        if not message.get("more_body"):
            break
    return b"".join(chunks)


async def _drop_connection(send: Send, receive: Receive) -> None:
    """Close the TCP connection without any answer (the client sees a transport error)."""
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is None:  # not uvicorn's h11/httptools cycle: break off after the headers instead
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"1024")]})
        return
    transport.close()
    # Wait until the server has noticed, so it does not try to answer with a 500 itself.
    with contextlib.suppress(asyncio.TimeoutError):
        async with asyncio.timeout(5):
            while (await receive())["type"] != "http.disconnect":
                pass


@dataclass
class SandboxHandle:
    """A running sandbox: where it listens and how clients find it."""

    url: str
    ca_file: Path
    state_dir: Path
    info: dict[str, Any]
    info_path: Path
    sandbox: Sandbox


class _ServerThread:
    """uvicorn in a daemon thread, bound before start so the port is known at once."""

    def __init__(self, app: ASGIApp, port: int, certfile: Path, keyfile: Path) -> None:
        # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only then, else every reply waits for a
        # delayed ACK (~40 ms per request).
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.sock.bind(("127.0.0.1", port))
        except OSError as exc:
            self.sock.close()
            raise InputError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror}") from exc
        self.sock.listen(128)
        self.port = int(self.sock.getsockname()[1])
        config = uvicorn.Config(
            app,
            ssl_certfile=str(certfile),
            ssl_keyfile=str(keyfile),
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=3,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, name="sandbox-server", daemon=True
        )

    def start(self, timeout: float = 15.0) -> None:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the sandbox server did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


def _load(seed: Path | Mapping[str, Any] | None, state_dir: Path, limits: ServiceLimits | None) -> Sandbox:
    state_file = state_dir / STATE_FILE
    if state_file.is_file():
        if seed is not None:
            log.warning("sandbox: %s exists, so the seed is ignored (remove it to start afresh)", state_file)
        try:
            state = json.loads(state_file.read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot read sandbox state {state_file}: {exc}") from exc
        return Sandbox.restore(state, limits=limits)
    if seed is None or isinstance(seed, Path | str):
        data = load_seed(Path(seed) if seed is not None else demo_seed_path())
    else:
        data = dict(seed)
    return Sandbox.from_seed(data, limits=limits)


@contextlib.contextmanager
def running_sandbox(
    seed: Path | Mapping[str, Any] | None = None,
    *,
    state_dir: Path | None = None,
    faults: str | None = None,
    limits: ServiceLimits | None = None,
    port: int = 0,
    index_job_seconds: float | None = None,
    report_interval: float | None = None,
) -> Iterator[SandboxHandle]:
    """Start a sandbox in a thread; yields once it accepts connections, stops it on exit.

    ``seed=None`` is the built-in demo seed. With ``state_dir`` the state is read from and saved
    to that directory; without it a temporary directory is used and removed afterwards.
    """
    persistent = state_dir is not None
    directory = (
        Path(state_dir) if state_dir is not None else Path(tempfile.mkdtemp(prefix="reconcile-sandbox-"))
    )
    server: _ServerThread | None = None
    sandbox: Sandbox | None = None
    try:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / INFO_FILE).unlink(missing_ok=True)  # never leave a stale one for pollers
        rules = parse_spec(faults) if faults else None
        sandbox = _load(seed, directory, limits)
        if index_job_seconds is not None:  # how long a submitted index / import job runs
            for tenant in sandbox.tenants.values():
                tenant.org.index_job_seconds = index_job_seconds
        if report_interval is not None:  # seconds between two Rescue reports (real: 60)
            for tenant in sandbox.tenants.values():
                tenant.rescue.book.report_interval = report_interval
        ca = tls.CertificateAuthority.load_or_create(directory / "ca.pem", directory / "ca-key.pem")
        chain, key = ca.issue_server_cert()
        certfile, keyfile = directory / "server.pem", directory / "server-key.pem"
        certfile.write_text(chain, "ascii")
        tls.write_private(keyfile, key)
        if persistent:
            sandbox.state_dir = directory
        server = _ServerThread(sandbox.app, port, certfile, keyfile)
        sandbox.base_url = f"https://127.0.0.1:{server.port}"
        if rules is not None:
            sandbox.faults.configure(*rules)
        server.start()
        info = sandbox.info(directory / "ca.pem", directory)
        info_path = directory / INFO_FILE
        # Atomic, so a client polling for the file never reads half of it.
        tls.write_private(info_path.with_suffix(".tmp"), json.dumps(info, indent=2) + "\n")
        info_path.with_suffix(".tmp").replace(info_path)
        yield SandboxHandle(sandbox.base_url, directory / "ca.pem", directory, info, info_path, sandbox)
    finally:
        if server is not None:
            server.stop()
        (directory / INFO_FILE).unlink(missing_ok=True)  # it describes a server that is gone
        if persistent and sandbox is not None and server is not None:
            save_state(sandbox, directory)
        if not persistent:
            shutil.rmtree(directory, ignore_errors=True)


def serve(
    seed: Path | None = None,
    *,
    state_dir: Path | None = None,
    port: int = 0,
    faults: str | None = None,
    port_file: Path | None = None,
    limits: ServiceLimits | None = None,
    on_ready: Callable[[SandboxHandle], None] | None = None,
) -> int:
    """Run in the foreground until SIGINT or SIGTERM, then stop cleanly; returns the exit code 0."""
    stop = threading.Event()

    def _on_signal(signum: int, frame: Any) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with running_sandbox(seed, state_dir=state_dir, faults=faults, limits=limits, port=port) as handle:
            if port_file is not None:
                port_file.write_text(f"{handle.url.rsplit(':', 1)[1]}\n", "ascii")
            if on_ready is not None:
                on_ready(handle)
            while not stop.wait(0.5):
                pass
            log.info("sandbox: stopping")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
