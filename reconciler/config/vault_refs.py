"""Key Vault secret references in the raw tenant data: where they are, and what they need.

A ``{keyvault: {vault, secret, version?}}`` reference may sit wherever a secret does. The host
check (hosts.py) looks at each one's vault URL; the check here asks for the sign-in every vault
read needs (``connection.keyvault.tenant_id``, usually in ``_defaults.yaml``), at each reference,
so a tenant file that names a vault without it fails validation instead of its run.

Pure: works on the merged YAML data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from reconciler.config.problems import dotted
from reconciler.config.yamlpos import YamlPath
from reconciler.errors import Location, Problem

_CREDENTIAL: YamlPath = ("connection", "dynamics", "credential")
_CIRCULAR = (
    "the app's credential cannot be a Key Vault secret: the vault is read with this credential; "
    "use {env: ...} or {file: ...}"
)
_NO_SIGN_IN = (
    "a Key Vault secret needs connection.keyvault.tenant_id (the directory the vault belongs to, "
    "the MSP's; set it once in _defaults.yaml)"
)


def vault_references(value: Any, path: YamlPath = ()) -> Iterator[tuple[YamlPath, Mapping[str, Any]]]:
    """Each Key Vault reference's ``keyvault`` mapping with its path (``...keyvault``)."""
    if isinstance(value, Mapping):
        vault = value.get("keyvault")
        if set(value) == {"keyvault"} and isinstance(vault, Mapping):
            yield (*path, "keyvault"), vault
            return
        for key, item in value.items():
            yield from vault_references(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from vault_references(item, (*path, index))


def sign_in_problems(data: Mapping[str, Any], locate: Callable[[YamlPath], Location]) -> list[Problem]:
    """A located problem at each Key Vault reference when no vault sign-in is configured, and at
    one that would hold the very credential the vault is read with."""
    connection = data.get("connection")
    sign_in = connection.get("keyvault") if isinstance(connection, Mapping) else None
    configured = isinstance(sign_in, Mapping) and bool(sign_in.get("tenant_id"))
    problems: list[Problem] = []
    for path, _ in vault_references(data):
        if path[:3] == _CREDENTIAL:
            problems.append(Problem(locate(path), dotted(path), _CIRCULAR))
        elif not configured:
            problems.append(Problem(locate(path), dotted(path), _NO_SIGN_IN))
    return problems


__all__ = ["sign_in_problems", "vault_references"]
