"""The ASGI app: ``/{org host}/api/data/v9.2/...`` for every emulated org.

It checks the bearer token (401 for a missing, invalid or expired token, or one issued for
another resource: ``aud`` must be the org's real URL or its sandbox URL), applies the service
protection limits per user (the token's ``oid``), then runs the request on a worker thread so
slow requests overlap like they do against the real service (which is what the concurrency
limit counts). Mounted by the sandbox server at ``/dataverse``.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl

from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from rescue_sandbox.dataverse import batch, errors, jobs, router, security
from rescue_sandbox.dataverse.limits import Admission, ServiceLimits, ServiceProtection
from rescue_sandbox.dataverse.org import DataverseOrg
from rescue_sandbox.dataverse.protocol import API_PREFIX, ApiRequest, ApiResponse, error_response

log = logging.getLogger(__name__)
_PATH = re.compile(r"^/([^/]+)" + re.escape(API_PREFIX) + r"(?:/(.*))?$")


def _route_path(scope: Scope) -> str:
    path: str = scope["path"]
    root = scope.get("root_path", "")
    if root and path.startswith(root):
        return path[len(root) :] or "/"
    return path


def _norm(url: str) -> str:
    return url.rstrip("/").lower()


class DataverseApp:
    """ASGI callable; ``orgs`` is read at each request, so orgs added later are served."""

    def __init__(
        self,
        orgs: Mapping[str, DataverseOrg],
        verify_token: Callable[[str], Mapping[str, Any]],
        limits: ServiceLimits,
        base_url: Callable[[], str] | None,
        clock: Callable[[], float],
    ) -> None:
        self.orgs = orgs
        self.verify_token = verify_token
        self.base_url = base_url
        self.protection = ServiceProtection(limits, clock)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        response = await self._respond(scope, receive)
        request_id = str(uuid.uuid4())
        headers = [*response.headers, ("x-ms-service-request-id", request_id), ("REQ_ID", request_id)]
        if response.status not in (204, 304):
            headers.append(("Content-Length", str(len(response.body))))
        await send(
            {
                "type": "http.response.start",
                "status": response.status,
                "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers],
            }
        )
        await send({"type": "http.response.body", "body": response.body})

    def _origin(self, scope: Scope) -> str:
        if self.base_url is not None:
            return self.base_url().rstrip("/")
        host = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"host"), "127.0.0.1")
        return f"{scope.get('scheme', 'https')}://{host}"

    async def _respond(self, scope: Scope, receive: Receive) -> ApiResponse:
        match = _PATH.match(_route_path(scope))
        if match is None:
            return error_response(errors.segment_not_found(_route_path(scope).strip("/") or "/"))
        host = match.group(1).lower()
        org = self.orgs.get(host)
        if org is None:
            return error_response(
                errors.DataverseError(
                    404, errors.BAD_SEGMENT, f"There is no Dataverse organization at {host}."
                )
            )
        org_base = f"{self._origin(scope)}{scope.get('root_path', '')}/{host}"
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            claims = self._authenticate(headers.get("authorization"), org, org_base)
            admission = self.protection.admit(
                str(claims.get("oid") or claims.get("appid") or claims.get("sub"))
            )
        except errors.DataverseError as exc:
            return error_response(exc)
        started = time.perf_counter()
        try:
            body = await _read_body(receive)
            request = ApiRequest(
                method=scope["method"].upper(),
                path=match.group(2) or "",
                params=parse_qsl(
                    scope.get("query_string", b"").decode("utf-8", "replace"), keep_blank_values=True
                ),
                headers=headers,
                body=body,
                api_root=f"{org_base}{API_PREFIX}",
                caller=claims,
            )
            if request.method == "POST" and request.path == "ImportSolution":
                response = await self._import_synchronously(org, request)
            else:
                response = await run_in_threadpool(self._dispatch, org, request)
        finally:
            self.protection.release(admission, time.perf_counter() - started)
        return self._with_usage(response, admission)

    async def _import_synchronously(self, org: DataverseOrg, request: ApiRequest) -> ApiResponse:
        """The synchronous import runs as long as the import takes (without the org lock), and
        holds the one-import-at-a-time lock from its arrival to its answer."""
        token = str(uuid.uuid4())
        with org.lock:
            running = jobs.running_import(org)
            if running is None:
                jobs.begin_sync_import(org, token)
        if running is not None:
            return error_response(errors.import_running())
        try:
            await asyncio.sleep(org.import_seconds(len(request.body) * 3 // 4))
            return await run_in_threadpool(self._dispatch, org, request)
        finally:
            with org.lock:
                jobs.end_sync_import(org, token)

    @staticmethod
    def _dispatch(org: DataverseOrg, request: ApiRequest) -> ApiResponse:
        try:
            with org.lock:
                security.caller_user(org, request.caller)  # the app must be a user of the org
        except errors.DataverseError as exc:
            return error_response(exc)
        if request.path == "$batch":
            if request.method != "POST":
                return error_response(
                    errors.DataverseError(405, errors.BAD_SEGMENT, "$batch accepts only POST requests.")
                )
            return batch.execute(org, request, router.handle)
        return router.handle(org, request)

    @staticmethod
    def _with_usage(response: ApiResponse, admission: Admission) -> ApiResponse:
        response.headers += [
            ("x-ms-ratelimit-burst-remaining-xrm-requests", str(admission.remaining_requests)),
            ("x-ms-ratelimit-time-remaining-xrm-requests", f"{admission.remaining_seconds:.2f}"),
        ]
        return response

    def _authenticate(self, authorization: str | None, org: DataverseOrg, org_base: str) -> Mapping[str, Any]:
        def refuse(message: str) -> errors.DataverseError:
            challenge = (
                "Bearer authorization_uri=https://login.microsoftonline.com/common/oauth2/authorize, "
                f"resource_id={org.org_url}/"
            )
            return errors.DataverseError(
                401, errors.UNAUTHENTICATED, message, {"WWW-Authenticate": challenge}
            )

        if not authorization or not authorization[:7].lower() == "bearer " or not authorization[7:].strip():
            raise refuse("The request has no bearer access token (Authorization: Bearer <token>).")
        try:
            claims = self.verify_token(authorization[7:].strip())
        except Exception as exc:
            raise refuse(f"The access token is not valid: {exc}") from exc
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        allowed = {_norm(org.org_url), _norm(org_base)}
        if not any(isinstance(a, str) and _norm(a) in allowed for a in audiences):
            raise refuse(
                f"The access token was issued for another resource (aud={audience!r}), not {org.org_url}."
            )
        return claims


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def create_dataverse_app(
    orgs: Mapping[str, DataverseOrg],
    verify_token: Callable[[str], Mapping[str, Any]],
    limits: ServiceLimits | None = None,
    base_url: Callable[[], str] | None = None,
    *,
    clock: Callable[[], float] = time.monotonic,
) -> DataverseApp:
    """The Dataverse Web API emulator for ``orgs`` (keyed by org host), to mount at ``/dataverse``.

    ``verify_token`` returns the claims of a valid token and raises for a bad or expired one.
    ``base_url`` returns ``https://127.0.0.1:PORT`` (known after bind) for the URLs the API
    hands out (``OData-EntityId``, ``@odata.nextLink``); without it the request's Host is used.
    """
    return DataverseApp(orgs, verify_token, limits or ServiceLimits(), base_url, clock)
