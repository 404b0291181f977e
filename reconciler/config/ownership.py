"""A tenant file may name only its own secrets.

In a GitOps repository one pull request edits one tenant file, and the plan job hands the
tenant the secrets that file references. Without a rule, `authcode: {env: FABRIKAM_RESCUE_AUTHCODE}`
in contoso's file would hand fabrikam's authcode to contoso's run (and to an API host of the
pull request's choosing). The rule is a naming convention a reviewer can check at a glance:
an `{env: NAME}` written in a tenant's own files starts with the tenant's name upper-cased,
`-` as `_`, and a `_` (`CONTOSO_`, `ACME_CORP_`); a `{file: PATH}` names a file whose name starts
with the tenant's name and `.`, `-` or `_` (`/etc/reconciler/fabrikam.key.pem`,
`/var/run/secrets/reconcile/CONTOSO_RESCUE_AUTHCODE`), wherever it lives.

The convention must name one owner whatever subset of tenants a command loads: a plan job
loads only the tenant a pull request changed. So two tenants whose prefixes overlap (one
starts the other: `FABRIKAM_` and `FABRIKAM_RESCUE_`, or `A_B_` for both `a-b` and `a_b`) are
both refused, each naming the other: otherwise a new tenant `fabrikam-rescue` could claim
`FABRIKAM_RESCUE_AUTHCODE`, which is fabrikam's by the rule above. The loader passes every
tenant folder under the tenants root, selected or not. Two exceptions to the convention,
both outside the tenant's own reach:

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


def claimants(name: str, tenants: Iterable[str]) -> list[str]:
    """The tenants a secret's name (env name, or file name) could belong to: those whose name
    it starts with, followed by `.`, `-` or `_`. More than one only for overlapping prefixes."""
    text = _norm(name)
    return sorted(
        {
            t
            for t in tenants
            if text.startswith(own := _norm(t)) and len(text) > len(own) + 1 and text[len(own)] in ".-"
        }
    )


def owner_of(name: str, tenants: Iterable[str]) -> str | None:
    """The one tenant a secret's name belongs to; None when it fits none, or several (tenants
    whose prefixes overlap, refused by ``prefix_overlap_problem``): never a guess."""
    found = claimants(name, tenants)
    return found[0] if len(found) == 1 else None


def overlapping(tenant: str, tenants: Iterable[str]) -> list[str]:
    """The other tenants whose secret prefix starts ``tenant``'s or is started by it."""
    own = secret_prefix(tenant)
    return sorted(
        {
            other
            for other in tenants
            if other != tenant
            and (secret_prefix(other).startswith(own) or own.startswith(secret_prefix(other)))
        }
    )


def prefix_overlap_problem(tenant: str, tenants: Iterable[str], where: Location) -> Problem | None:
    """A problem at ``where`` when ``tenant``'s secret prefix overlaps another tenant's."""
    others = overlapping(tenant, tenants)
    if not others:
        return None
    named = ", ".join(f"{excerpt(o)} ({secret_prefix(o)})" for o in others)
    return Problem(
        where,
        "tenant",
        f"the secret names of tenant {excerpt(tenant)} ({secret_prefix(tenant)}) overlap those of tenant "
        f"{named}: a name such as {secret_prefix(max([tenant, *others], key=len))}AUTHCODE "
        "would fit both, so neither may be used. A tenant's secret names start with its name "
        "upper-cased, '-' as '_', and '_', and no tenant's prefix may start another's: rename one "
        "of the tenants",
    )


def _refs(value: Any, path: YamlPath) -> Iterator[tuple[YamlPath, str, str]]:
    """Every secret reference in the raw data: (path, "env", "file" or "keyvault", name or path)."""
    if isinstance(value, Mapping):
        vault = value.get("keyvault")
        if set(value) == {"keyvault"} and isinstance(vault, Mapping):
            # A vault secret's name follows the same rule, with '-' (Key Vault names have no '_').
            if isinstance(vault.get("secret"), str):
                yield (*path, "keyvault", "secret"), "keyvault", vault["secret"]
            return
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
    """A located problem for each secret a tenant's own files name that is not the tenant's,
    and one at ``tenant`` when the tenant's secret prefix overlaps another's.

    ``shared_file`` is the defaults file merged under the tenant (its references are shared);
    ``tenants`` are every other tenant name under the tenants root, selected or not.
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
    overlap = prefix_overlap_problem(tenant, known, locate(("tenant",)))
    problems: list[Problem] = [] if overlap is None else [overlap]
    for path, kind, name in _refs(data, ()):
        where = locate(path)
        if shared_file is not None and where.file == shared_file:
            continue
        if kind == "env" and path[-1:] == ("federated_token_file",) and name == FEDERATED_TOKEN_ENV:
            continue
        shown = PurePath(name.strip()).name if kind == "file" else name
        if overlap is not None and tenant in claimants(shown, known):
            continue  # whose it is cannot be told: the overlap problem above says why
        if kind == "env":
            if owner_of(name, known) == tenant:
                continue
            rule = f"whose names start with {prefix} (e.g. {prefix}RESCUE_AUTHCODE)"
        elif kind == "keyvault":
            if owner_of(name, known) == tenant:
                continue
            rule = f"in Key Vault whose names start with {tenant}- (e.g. {tenant}-rescue-authcode)"
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


__all__ = [
    "FEDERATED_TOKEN_ENV",
    "claimants",
    "foreign_secret_problems",
    "overlapping",
    "owner_of",
    "prefix_overlap_problem",
    "secret_prefix",
]
