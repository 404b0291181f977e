"""Key Vault controls (``/_sandbox/keyvault/...``, JSON): what a vault administrator changes in
the portal, for tests and demos.

- ``PUT  {vault}/secrets/{name}`` ``{"value", "enabled"?, "exp"?, "nbf"?}``: a new current version;
- ``PATCH {vault}/secrets/{name}`` ``{"enabled"?, "exp"?, "nbf"?}``: the current version's attributes;
- ``DELETE {vault}/secrets/{name}``: the secret and all its versions;
- ``PUT`` / ``DELETE {vault}/readers/{client_id}``: assign or remove the Key Vault Secrets User role.

``{vault}`` is the vault's host (``msp-fleet.vault.azure.net``). Answers never hold a value.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from rescue_sandbox.errors import InputError
from rescue_sandbox.keyvault.vault import SecretVersion, Vault

_ATTRIBUTES = {"enabled": bool, "exp": int, "nbf": int}


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _attributes(body: Mapping[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, kind in _ATTRIBUTES.items():
        if key in body:
            value = body[key]
            if value is not None and (
                not isinstance(value, kind) or (kind is int and isinstance(value, bool))
            ):
                raise _Refused(
                    400, f"{key!r} must be {'true or false' if kind is bool else 'seconds since 1970'}"
                )
            found[key] = value
    return found


def _described(vault: Vault, name: str, version: SecretVersion) -> dict[str, Any]:
    return {
        "id": f"https://{vault.host}/secrets/{name}/{version.version}",
        "enabled": version.enabled,
        "exp": version.exp,
        "nbf": version.nbf,
    }


def create_keyvault_controls(vaults: Mapping[str, Vault]) -> Starlette:
    """The controls app, mounted at ``/_sandbox/keyvault``."""

    def vault_of(request: Request) -> Vault:
        found = vaults.get(str(request.path_params["vault"]).lower())
        if found is None:
            raise _Refused(
                404, f"no vault {request.path_params['vault']!r} (known: {', '.join(sorted(vaults))})"
            )
        return found

    async def body_of(request: Request) -> dict[str, Any]:
        if not await request.body():
            return {}
        try:
            data = await request.json()
        except ValueError:
            raise _Refused(400, "the body must be JSON") from None
        if not isinstance(data, dict):
            raise _Refused(400, "the body must be a JSON object")
        return data

    async def put_secret(request: Request) -> Any:
        vault, name = vault_of(request), str(request.path_params["name"])
        body = await body_of(request)
        if not isinstance(body.get("value"), str):
            raise _Refused(400, 'give {"value": "..."}')
        return _described(vault, name, vault.put(name, body["value"], **_attributes(body)))

    async def patch_secret(request: Request) -> Any:
        vault, name = vault_of(request), str(request.path_params["name"])
        current = vault.find(name, None)
        if current is None:
            raise _Refused(404, f"no secret {name!r} in {vault.host}")
        for key, value in _attributes(await body_of(request)).items():
            setattr(current, key, value)
        return _described(vault, name, current)

    async def delete_secret(request: Request) -> Any:
        vault, name = vault_of(request), str(request.path_params["name"])
        if vault.secrets.pop(name.lower(), None) is None:
            raise _Refused(404, f"no secret {name!r} in {vault.host}")
        return {"deleted": name}

    async def put_reader(request: Request) -> Any:
        vault = vault_of(request)
        vault.readers.add(str(request.path_params["client_id"]).lower())
        return {"readers": sorted(vault.readers)}

    async def delete_reader(request: Request) -> Any:
        vault = vault_of(request)
        vault.readers.discard(str(request.path_params["client_id"]).lower())
        return {"readers": sorted(vault.readers)}

    def route(path: str, handler: Callable[[Request], Awaitable[Any]], method: str) -> Route:
        async def endpoint(request: Request) -> Response:
            try:
                return JSONResponse(await handler(request))
            except _Refused as exc:
                return JSONResponse({"error": exc.message}, status_code=exc.status)
            except InputError as exc:
                return JSONResponse({"error": exc.message}, status_code=400)

        return Route(path, endpoint, methods=[method])

    return Starlette(
        routes=[
            route("/{vault}/secrets/{name}", put_secret, "PUT"),
            route("/{vault}/secrets/{name}", patch_secret, "PATCH"),
            route("/{vault}/secrets/{name}", delete_secret, "DELETE"),
            route("/{vault}/readers/{client_id}", put_reader, "PUT"),
            route("/{vault}/readers/{client_id}", delete_reader, "DELETE"),
        ]
    )
