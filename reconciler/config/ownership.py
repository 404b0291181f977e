"""A tenant file may name only its own secrets.

In a GitOps repository one pull request edits one tenant file, and the plan job hands the
tenant the secrets that file references. Without a rule, `authcode: {env: FABRIKAM_RESCUE_AUTHCODE}`
in contoso's file would hand fabrikam's authcode to contoso's run (and to an API host of the
pull request's choosing). The rule is a naming convention a reviewer can check at a glance:
an `{env: NAME}` written in a tenant's own files starts with the tenant's name upper-cased,
`-` as `_`, and a `_` (`CONTOSO_`, `ACME_CORP_`). Two exceptions, both outside the tenant's
own reach:

- references written in `_defaults.yaml` are shared by every tenant on purpose (the MSP's one
  identity); that file changes every tenant's plan, so it is guarded by CODEOWNERS
  (docs/gitops.md, "Who can change what");
- `federated_token_file: {env: AZURE_FEDERATED_TOKEN_FILE}`, the variable CI and Azure
  workload identity set to the path of the short-lived federation token, not a stored secret.

Pure: works on the merged YAML data and where each value was written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from reconciler.config.problems import dotted
from reconciler.config.text import excerpt
from reconciler.config.types import check_tenant_name
from reconciler.config.yamlpos import YamlPath
from reconciler.errors import Location, Problem

FEDERATED_TOKEN_ENV = "AZURE_FEDERATED_TOKEN_FILE"


def secret_prefix(tenant: str) -> str:
    """The prefix of the tenant's secret names: ``acme-corp`` -> ``ACME_CORP_``."""
    return tenant.upper().replace("-", "_") + "_"


def _env_refs(value: Any, path: YamlPath) -> Iterator[tuple[YamlPath, str]]:
    """Every ``{env: NAME}`` mapping in the raw data, with its path (the reference's path)."""
    if isinstance(value, Mapping):
        env = value.get("env")
        if isinstance(env, str) and set(value) <= {"env", "file"}:
            yield path, env
            return
        for key, item in value.items():
            yield from _env_refs(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _env_refs(item, (*path, index))


def foreign_secret_problems(
    data: Mapping[str, Any], locate: Callable[[YamlPath], Location], shared_file: str | None
) -> list[Problem]:
    """A located problem for each secret a tenant's own files name outside its prefix.

    ``shared_file`` is the defaults file merged under the tenant (its references are shared).
    """
    tenant = data.get("tenant")
    try:
        if not isinstance(tenant, str):
            return []
        check_tenant_name(tenant)
    except ValueError:
        return []  # no valid name to derive the prefix from: the model validation says so
    prefix = secret_prefix(tenant)
    problems: list[Problem] = []
    for path, name in _env_refs(data, ()):
        where = locate(path)
        if shared_file is not None and where.file == shared_file:
            continue
        if path[-1:] == ("federated_token_file",) and name == FEDERATED_TOKEN_ENV:
            continue
        if name.upper().startswith(prefix) and len(name) > len(prefix):
            continue
        problems.append(
            Problem(
                where,
                dotted(path),
                f"secret {excerpt(name)} is not this tenant's: a tenant file may reference only secrets "
                f"whose names start with {prefix} (e.g. {prefix}RESCUE_AUTHCODE); rename the secret, "
                "or move a secret every tenant shares to _defaults.yaml",
            )
        )
    return problems


__all__ = ["FEDERATED_TOKEN_ENV", "foreign_secret_problems", "secret_prefix"]
