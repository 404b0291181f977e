"""Parts of a tenant file that `_defaults.yaml` cannot be merged into key by key.

``_defaults.yaml`` is deep-merged under every tenant, mapping by mapping. For two kinds of
mapping that merge is wrong: a secret reference (``{env: …}``, ``{file: …}``, ``{keyvault: …}``)
and the app's credential (``connection.dynamics.credential``: exactly one of a client secret, a
certificate or a federated token file) are each one choice. A tenant that writes its own
(``authcode: {keyvault: …}`` over a shared ``{env: …}``, a certificate over the fleet's federated
token) means to replace the shared one, not to hold both, which the model would then refuse
as two choices at once. So where a tenant gives one of these, the defaults' is left out before
the merge.

Pure: works on the plain data.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.config.yamlpos import YamlPath

_REFERENCE_KEYS = frozenset({"env", "file", "keyvault"})
_CREDENTIAL: YamlPath = ("connection", "dynamics", "credential")


def _is_unit(value: Any, path: YamlPath) -> bool:
    if not isinstance(value, Mapping) or not value:
        return False
    return path == _CREDENTIAL or set(value) <= _REFERENCE_KEYS


def without_replaced(
    defaults: Mapping[str, Any], own: Mapping[str, Any], path: YamlPath = ()
) -> dict[str, Any]:
    """``defaults`` less every secret reference and credential that ``own`` gives itself."""
    kept: dict[str, Any] = {}
    for key, value in defaults.items():
        here = (*path, key)
        mine = own.get(key)
        if mine is None or not isinstance(value, Mapping) or not isinstance(mine, Mapping):
            kept[key] = value
        elif _is_unit(mine, here) or _is_unit(value, here):
            continue  # the tenant's own choice replaces the shared one whole
        else:
            kept[key] = without_replaced(value, mine, here)
    return kept


__all__ = ["without_replaced"]
