"""A tenant file may name only its own secrets.

In a GitOps repository one pull request edits one tenant file, and the plan job hands the
tenant the secrets that file references. Without a rule, `authcode: {env: FABRIKAM_RESCUE_AUTHCODE}`
in contoso's file would hand fabrikam's authcode to contoso's run (and to an API host of the
pull request's choosing). The rule is a naming convention a reviewer can check at a glance:
an `{env: NAME}` written in a tenant's own files starts with the tenant's name upper-cased,
`-` as `_`, and a `_` (`CONTOSO_`, `ACME_CORP_`); a `{file: PATH}` names a file whose name starts
with the tenant's name and `.`, `-` or `_` (`/etc/reconciler/fabrikam.key.pem`,
`/var/run/secrets/reconcile/CONTOSO_RESCUE_AUTHCODE`), wherever it lives. When one tenant's name
starts another's (`acme`, `acme-corp`), a name belongs to the longest: `ACME_CORP_X` is
acme-corp's, never acme's. Two exceptions, both outside the tenant's own reach:

- references written in `_defaults.yaml` are shared by every tenant on purpose (the MSP's one
  identity); that file changes every tenant's plan, so it is guarded by CODEOWNERS
  (docs/gitops.md, "Who can change what");
- `federated_token_file: {env: AZURE_FEDERATED_TOKEN_FILE}`, the variable CI and Azure
  workload identity set to the path of the short-lived federation token, not a stored secret.

Pure: works on the merged YAML data and where each value was written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import PurePath
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


def _norm(text: str) -> str:
    return text.lower().replace("_", "-")


def owner_of(name: str, tenants: Iterable[str]) -> str | None:
    """The tenant a secret's name (env name, or file name) belongs to: the longest tenant name
    it starts with, followed by `.`, `-` or `_`; None when it starts with none."""
    text = _norm(name)
    best: str | None = None
    for tenant in tenants:
        own = _norm(tenant)
        fits = text.startswith(own) and len(text) > len(own) + 1 and text[len(own)] in ".-"
        if fits and (best is None or len(own) > len(_norm(best))):
            best = tenant
    return best


def _refs(value: Any, path: YamlPath) -> Iterator[tuple[YamlPath, str, str]]:
    """Every secret reference in the raw data: (path, "env" or "file", name or path)."""
    if isinstance(value, Mapping):
        if set(value) <= {"env", "file"} and value:
            for kind in ("env", "file"):
                if isinstance(value.get(kind), str):
                    yield path, kind, value[kind]
            return
        for key, item in value.items():
            yield from _refs(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _refs(item, (*path, index))


def foreign_secret_problems(
    data: Mapping[str, Any],
    locate: Callable[[YamlPath], Location],
    shared_file: str | None,
    tenants: Iterable[str] = (),
) -> list[Problem]:
    """A located problem for each secret a tenant's own files name that is not the tenant's.

    ``shared_file`` is the defaults file merged under the tenant (its references are shared);
    ``tenants`` are the other tenant names known beside it (a name belongs to the longest).
    """
    tenant = data.get("tenant")
    try:
        if not isinstance(tenant, str):
            return []
        check_tenant_name(tenant)
    except ValueError:
        return []  # no valid name to derive the prefix from: the model validation says so
    known = {tenant, *tenants}
    prefix = secret_prefix(tenant)
    problems: list[Problem] = []
    for path, kind, name in _refs(data, ()):
        where = locate(path)
        if shared_file is not None and where.file == shared_file:
            continue
        if kind == "env" and path[-1:] == ("federated_token_file",) and name == FEDERATED_TOKEN_ENV:
            continue
        if kind == "env":
            if owner_of(name, known) == tenant:
                continue
            rule = f"whose names start with {prefix} (e.g. {prefix}RESCUE_AUTHCODE)"
        else:
            if owner_of(PurePath(name.strip()).name, known) == tenant:
                continue
            rule = (
                "in files whose names start with the tenant's name and '.', '-' or '_' "
                f"(e.g. /etc/reconciler/{tenant}.key.pem)"
            )
        problems.append(
            Problem(
                where,
                dotted(path),
                f"secret {excerpt(name)} is not this tenant's: a tenant file may reference only secrets "
                f"{rule}; rename the secret, or move a secret every tenant shares to _defaults.yaml",
            )
        )
    return problems


__all__ = ["FEDERATED_TOKEN_ENV", "foreign_secret_problems", "owner_of", "secret_prefix"]
