"""Key Vault secrets of one run: read once each, with the fleet's identity, before a tenant's
connection is made.

A tenant's ``{keyvault: ...}`` references are read here, asynchronously, right before its
connection (``connect``) resolves its secrets: late, and never before the tenant is processed.
``VaultCache`` belongs to one run (``RunOptions.vault``): a secret several tenants name, or a
tenant's plan and then its apply, costs one request. A failure is kept too, so every tenant
that names the secret fails the same way without asking the vault again.

The vault token comes from the vault's own directory (``connection.keyvault.tenant_id``, the
MSP's), asked with the app registration and credential of ``connection.dynamics`` (one identity
for the fleet): Key Vault refuses a token of any other directory (401 AKV10032). In sandbox mode
the sandbox's vaults answer, and its Key Vault directory signs in the tenant file's federated
credential, or the app sandbox.json names.

Errors keep the Unknown rule of every read: throttling or a lost connection that outlasts the
retries is temporary (the tenant is incomplete, exit 3); a refused token, a missing role, a
missing or disabled secret fail the tenant (exit 1). Each message says where the reference is
written (file:line:col and key), the vault and the secret; never a value.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import os
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import SecretStr

from reconciler.config import LoadedTenant, SecretResolver, secret_refs
from reconciler.config.hosts import key_vault_resource
from reconciler.config.problems import dotted
from reconciler.config.types import KeyVaultSecret, SecretRef
from reconciler.config.yamlpos import YamlPath
from reconciler.engine.connection import (
    SandboxInfo,
    TenantConnection,
    client_id_for,
    connect,
    tenant_credential,
)
from reconciler.errors import (
    InputError,
    Problem,
    RateLimitedError,
    ReconcileError,
    SecretError,
    TransportError,
)
from reconciler.providers.entra import ClientCredential, ClientSecret, MsalTokenProvider
from reconciler.providers.http import ClientSettings, RequestStats, make_ssl_context
from reconciler.providers.keyvault import KeyVaultClient, VaultSecret


@dataclasses.dataclass(frozen=True)
class VaultSignIn:
    """How the fleet's identity reads vaults: the directory's authority, the app, its credential,
    and where each vault's requests go (the sandbox's vault in sandbox mode)."""

    authority: str
    client_id: str
    credential: ClientCredential = dataclasses.field(repr=False)
    ca_file: Path | None = None
    instance_discovery: bool = True
    sandbox_url: str | None = None

    def endpoint(self, vault: str) -> str:
        if self.sandbox_url is None:
            return vault
        return f"{self.sandbox_url}/keyvault/{urlsplit(vault).hostname}"


def vault_sign_in(loaded: LoadedTenant, sandbox: SandboxInfo | None) -> VaultSignIn:
    """The fleet identity's vault sign-in for ``loaded`` (validation made sure it is configured)."""
    model = loaded.model
    dyn, sign_in = model.connection.dynamics, model.connection.keyvault
    if sign_in is None:
        raise InputError(f"tenant {loaded.name}: a Key Vault secret needs connection.keyvault.tenant_id")
    resolver = SecretResolver(loaded.folder, owner=loaded.name)
    client_id = client_id_for(dyn.client_id, os.environ)
    if sandbox is None:
        return VaultSignIn(
            f"{dyn.authority_host}/{sign_in.tenant_id}", client_id, tenant_credential(loaded, resolver)
        )
    directory = sandbox.keyvault
    if directory is None:
        raise InputError(f"--sandbox: {sandbox.path} has no Key Vault (a seed's `keyvault` section)")
    credential: ClientCredential
    if directory.get("sign_in") == "tenant_file" and dyn.credential.federated_token_file is not None:
        credential = tenant_credential(loaded, resolver)  # the seed trusts the tenant file's issuer
    else:
        client_id, credential = (
            str(directory["client_id"]),
            ClientSecret(SecretStr(str(directory["client_secret"]))),
        )
    return VaultSignIn(
        f"{sandbox.url}/identity/{sign_in.tenant_id}",
        client_id,
        credential,
        ca_file=sandbox.ca_file,
        instance_discovery=False,
        sandbox_url=sandbox.url,
    )


@dataclasses.dataclass(frozen=True)
class _Failure:
    temporary: bool
    message: str


class VaultCache:
    """Every Key Vault secret one run has read (or failed to), by reference handle."""

    def __init__(self) -> None:
        self._read: dict[str, VaultSecret | _Failure] = {}
        self._pending: dict[str, asyncio.Task[VaultSecret | _Failure]] = {}
        self._tokens: dict[tuple[str, str], MsalTokenProvider] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._active = 0  # reads under way; at 0 the sign-in's HTTP sessions are let go

    def __repr__(self) -> str:
        return f"VaultCache(read={len(self._read)})"

    def expires_at(self, ref: SecretRef) -> dt.datetime | None:
        """The ``exp`` of a secret this run has read (None when it has none or was not read)."""
        found = self._read.get(ref.ref)
        return found.expires_at if isinstance(found, VaultSecret) else None

    def was_read(self, ref: SecretRef) -> bool:
        return isinstance(self._read.get(ref.ref), VaultSecret)

    def _tokens_for(
        self, sign_in: VaultSignIn, scope: str, settings: ClientSettings, stats: RequestStats
    ) -> MsalTokenProvider:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a new event loop (apply after plan): locks do not cross loops
            for provider in self._tokens.values():
                provider.close()
            self._tokens, self._pending, self._loop = {}, {}, loop
        key = (sign_in.authority, sign_in.client_id + " " + scope)
        cached = self._tokens.get(key)
        if cached is None:
            cached = MsalTokenProvider(
                sign_in.authority,
                sign_in.client_id,
                sign_in.credential,
                scope,
                ca_file=sign_in.ca_file,
                instance_discovery=sign_in.instance_discovery,
                setting_prefix="connection.keyvault",
                scope_setting="keyvault.vault",
                timeout=settings.timeout,
                stats=stats,
                settings=settings,
            )
            self._tokens[key] = cached
        return cached

    async def read(
        self,
        loaded: LoadedTenant,
        refs: Sequence[tuple[YamlPath, SecretRef]],
        sign_in: VaultSignIn,
        settings: ClientSettings,
        stats: RequestStats,
    ) -> dict[str, SecretStr]:
        """The values of ``refs`` (Key Vault references of ``loaded``), by handle; the first
        failure raises, located at its reference."""
        by_vault: dict[str, list[KeyVaultSecret]] = {}
        for _, ref in refs:
            assert ref.keyvault is not None
            if ref.ref not in self._read and ref.keyvault not in by_vault.get(ref.keyvault.vault, []):
                by_vault.setdefault(ref.keyvault.vault, []).append(ref.keyvault)
        if by_vault:
            self._active += 1
            try:
                await asyncio.gather(
                    *(self._read_vault(v, s, sign_in, settings, stats) for v, s in by_vault.items())
                )
            finally:
                self._active -= 1
                if self._active == 0:
                    # No read is under way: release the identity endpoint's connections (the token
                    # stays cached in the provider), so nothing stays open after the run.
                    for provider in self._tokens.values():
                        provider.close()
        values: dict[str, SecretStr] = {}
        for path, ref in refs:
            found = self._read[ref.ref]
            if isinstance(found, _Failure):
                located = f"{loaded.locate(path)}: {dotted(path)}: {found.message}"
                if found.temporary:
                    raise TransportError(located, service="keyvault")
                raise SecretError(located)
            values[ref.ref] = found.value
        return values

    async def _read_vault(
        self,
        vault: str,
        wanted: list[KeyVaultSecret],
        sign_in: VaultSignIn,
        settings: ClientSettings,
        stats: RequestStats,
    ) -> None:
        resource = key_vault_resource(vault)
        if resource is None:  # validation refuses it unless an operator allowed the host
            resource = "https://vault.azure.net"
        tokens = self._tokens_for(sign_in, resource + "/.default", settings, stats)
        client = KeyVaultClient(
            sign_in.endpoint(vault),
            vault=vault,
            tokens=tokens,
            ssl_context=make_ssl_context(sign_in.ca_file),
            settings=settings,
            stats=stats,
            tenant="",
        )
        async with client:
            tasks = []
            for secret in wanted:
                handle = f"keyvault:{secret.url}"
                task = self._pending.get(handle)
                if task is None:
                    task = asyncio.ensure_future(_fetch(client, secret))
                    self._pending[handle] = task
                tasks.append((handle, task))
            for handle, task in tasks:
                self._read[handle] = await task


async def _fetch(client: KeyVaultClient, secret: KeyVaultSecret) -> VaultSecret | _Failure:
    try:
        return await client.get_secret(secret.secret, secret.version)
    except (TransportError, RateLimitedError) as exc:
        return _Failure(True, f"Key Vault secret {secret.secret} in {secret.vault}: {exc.message}")
    except ReconcileError as exc:
        # The vault's sign-in names its settings under connection.keyvault; only the directory
        # is set there: the app and its credential are connection.dynamics' (one identity).
        text = exc.message
        for setting in ("client_id", "credential"):
            text = text.replace(f"connection.keyvault.{setting}", f"connection.dynamics.{setting}")
        named = secret.secret in text and secret.vault in text
        return _Failure(
            False, text if named else f"Key Vault secret {secret.secret} in {secret.vault}: {text}"
        )


async def vault_problems(
    tenants: Sequence[LoadedTenant], sandbox: SandboxInfo | None, settings: ClientSettings
) -> list[Problem]:
    """Read every Key Vault secret ``tenants`` name (``validate --check-secrets``, ``doctor``):
    one located problem per reference that cannot be read, never a value."""
    cache = VaultCache()
    problems: list[Problem] = []
    for loaded in tenants:
        refs = vault_refs(loaded)
        if not refs:
            continue
        try:
            sign_in = vault_sign_in(loaded, sandbox)
        except ReconcileError as exc:
            problems += [Problem(loaded.locate(path), dotted(path), exc.message) for path, _ in refs]
            continue
        for path, ref in refs:
            try:
                await cache.read(loaded, [(path, ref)], sign_in, settings, RequestStats())
            except (SecretError, TransportError) as exc:
                message = exc.message.split(f"{dotted(path)}: ", 1)[-1]  # the Problem locates it
                problems.append(Problem(loaded.locate(path), dotted(path), message))
    return problems


def vault_refs(loaded: LoadedTenant) -> list[tuple[YamlPath, SecretRef]]:
    """The tenant's Key Vault references, with where each is written."""
    return [(path, ref) for path, ref in secret_refs(loaded.model) if ref.keyvault is not None]


async def open_connection(
    loaded: LoadedTenant,
    sandbox: SandboxInfo | None,
    cache: VaultCache,
    settings: ClientSettings,
    stats: RequestStats,
) -> TenantConnection:
    """``connect``, after reading the tenant's Key Vault secrets (once per run, in ``cache``)."""
    refs = vault_refs(loaded)
    if not refs:
        return connect(loaded, sandbox)
    values = await cache.read(loaded, refs, vault_sign_in(loaded, sandbox), settings, stats)
    return connect(loaded, sandbox, values)


__all__ = ["VaultCache", "VaultSignIn", "open_connection", "vault_problems", "vault_refs", "vault_sign_in"]
