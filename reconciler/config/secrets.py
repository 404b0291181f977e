"""Resolve secret references (``{env: NAME}``, ``{file: PATH}``, ``{keyvault: ...}``) only when
they are needed.

Tenant files hold references, never values (DESIGN §2 principle 4). A resolved value is a
``pydantic.SecretStr`` from the moment it is read, so it prints as ``**********`` by type; the
messages here name the reference (variable, path) and the YAML key, never a value. ``validate
--check-secrets`` uses ``check_secrets`` to resolve every reference of a tenant once, so a CI job
can fail before any API is called.

A Key Vault reference is read over the network, asynchronously, once per run
(``engine/vault.py``); the resolver is handed the values read (``vault_values``, by the
reference's handle) and resolves from them like from an override.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr

from reconciler.config.loader import LoadedTenant
from reconciler.config.ownership import owner_of
from reconciler.config.problems import dotted
from reconciler.config.types import SecretRef
from reconciler.config.yamlpos import YamlPath
from reconciler.errors import Problem, SecretError

log = logging.getLogger(__name__)

MAX_SECRET_FILE_BYTES = 1024 * 1024


class SecretResolver:
    """Turns ``SecretRef``s into ``SecretStr``s.

    ``base_dir`` is the tenant folder (relative ``file:`` paths resolve against it).
    ``overrides`` maps a reference's handle (``"env:NAME"``, ``"file:PATH"``) to a value and wins
    over the environment: the sandbox uses it to hand out its own credentials. ``environ``
    defaults to ``os.environ``, read at resolve time. ``owner`` (the tenant's name) refuses a
    secret file that is a link to a file whose name is another's (``config/ownership.py``): a
    pull request can add a link named after its tenant that leads to another tenant's secret.
    """

    def __init__(
        self,
        base_dir: Path,
        *,
        overrides: Mapping[str, str] | None = None,
        environ: Mapping[str, str] | None = None,
        owner: str | None = None,
        vault_values: Mapping[str, SecretStr] | None = None,
    ) -> None:
        self._base_dir = base_dir
        self._overrides = dict(overrides or {})
        self._vault = dict(vault_values or {})
        self._environ = environ
        self._owner = owner

    def __repr__(self) -> str:
        return f"SecretResolver(base_dir={str(self._base_dir)!r}, overrides={len(self._overrides)})"

    def path_of(self, ref: SecretRef) -> Path:
        """The file a ``file:`` reference points at (relative paths from the tenant folder)."""
        if ref.file is None:
            raise ValueError(f"{ref.ref} is not a file reference")
        path = Path(ref.file).expanduser()
        return path if path.is_absolute() else self._base_dir / path

    def resolve(self, ref: SecretRef, *, key: str = "") -> SecretStr:
        """The secret's value; ``key`` (the YAML path) is named in errors."""
        needed = f" (needed by {key})" if key else ""
        if ref.ref in self._overrides:
            value = self._overrides[ref.ref]
            if not value:
                raise SecretError(f"the override for secret {ref.ref}{needed} is empty")
            log.debug("secret %s taken from an override", ref.ref)
            return SecretStr(value)
        if ref.keyvault is not None:
            read = self._vault.get(ref.ref)
            if read is None:
                raise SecretError(
                    f"Key Vault secret {ref.keyvault.secret} in {ref.keyvault.vault} was not read{needed}"
                )
            return read
        if ref.env is not None:
            return SecretStr(self._from_env(ref.env, needed))
        return SecretStr(self._from_file(self.path_of(ref), needed))

    def _from_env(self, name: str, needed: str) -> str:
        environ = os.environ if self._environ is None else self._environ
        value = environ.get(name)
        if value is None:
            raise SecretError(f"environment variable {name} is not set{needed}")
        if not value.strip():
            raise SecretError(f"environment variable {name} is empty{needed}")
        log.debug("secret env:%s resolved", name)
        return value

    def _from_file(self, path: Path, needed: str) -> str:
        try:
            if self._owner is not None and path.is_symlink():
                target = path.resolve()
                if owner_of(target.name, {self._owner}) != self._owner:
                    raise SecretError(
                        f"secret file {path} is a link to {target}, whose name is not this tenant's{needed}"
                    )
            if not path.is_file():
                problem = "does not exist" if not path.exists() else "is not a file"
                raise SecretError(f"secret file {path} {problem}{needed}")
            if path.stat().st_size > MAX_SECRET_FILE_BYTES:
                raise SecretError(
                    f"secret file {path} is larger than {MAX_SECRET_FILE_BYTES:,} bytes{needed}"
                )
            text = path.read_text(encoding="utf-8")
        except PermissionError:
            raise SecretError(f"secret file {path} cannot be read: permission denied{needed}") from None
        except UnicodeDecodeError:
            raise SecretError(f"secret file {path} is not UTF-8 text{needed}") from None
        except OSError as exc:
            raise SecretError(
                f"secret file {path} cannot be read: {exc.strerror or 'I/O error'}{needed}"
            ) from None
        if not text.strip():
            raise SecretError(f"secret file {path} is empty{needed}")
        log.debug("secret file %s resolved", path)
        return text.strip()


def secret_refs(model: BaseModel, path: YamlPath = ()) -> list[tuple[YamlPath, SecretRef]]:
    """Every ``SecretRef`` inside ``model`` with its path, in field order."""
    found: list[tuple[YamlPath, SecretRef]] = []

    def walk(value: Any, here: YamlPath) -> None:
        if isinstance(value, SecretRef):
            found.append((here, value))
        elif isinstance(value, BaseModel):
            for name in type(value).model_fields:
                walk(getattr(value, name), (*here, name))
        elif isinstance(value, list | tuple):
            for index, item in enumerate(value):
                walk(item, (*here, index))

    walk(model, path)
    return found


def check_secrets(tenant: LoadedTenant, resolver: SecretResolver) -> list[Problem]:
    """Resolve every environment and file reference of ``tenant``; one located Problem per failure."""
    problems: list[Problem] = []
    for path, ref in secret_refs(tenant.model):
        if ref.keyvault is not None:
            continue  # read over the network, by the engine (engine/vault.py: vault_problems)
        key = dotted(path)
        try:
            value = resolver.resolve(ref)  # the Problem names the key already
            if path[-1:] == ("federated_token_file",) and ref.env is not None:
                # The variable names the token file (as AZURE_FEDERATED_TOKEN_FILE does).
                token_file = Path(value.get_secret_value())
                if not token_file.is_file():
                    raise SecretError(
                        f"environment variable {ref.env} names the federated token file {token_file}, "
                        "which does not exist"
                    )
        except SecretError as exc:
            problems.append(Problem(tenant.locate(path), key, exc.message))
    return problems


__all__ = ["SecretResolver", "check_secrets", "secret_refs"]
