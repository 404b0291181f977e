"""Hand a job's tenants their secrets, and no other secret.

Tenant files name secrets by environment variable (``{env: CONTOSO_RESCUE_AUTHCODE}``), and
those names differ per tenant, while a workflow's ``env:`` keys are fixed text. The workflows
used to hand one step ``toJSON(secrets)`` (every secret of the repository) and pick from it;
now a job asks for each of its own secrets by name, in two steps:

1. ``secret_names`` lists the ``{env: NAME}`` references of the job's tenants (each already
   checked to be the tenant's own: ``config/ownership.py``), one ``name_<i>`` output per slot;
2. the next step maps slot ``i`` to ``secrets[steps.names.outputs.name_<i>]`` as
   ``RECONCILE_SECRET_<i>``, and ``secret_env`` writes each value under its name in the
   ``$GITHUB_ENV`` format (multi-line values, such as PEM keys, in heredoc form).

So the runner receives exactly the secrets its tenants reference, from the GitHub environment
the job runs in (``reconcile-plan`` or ``production``). A variable already set in the environment
wins (the OIDC step sets ``AZURE_FEDERATED_TOKEN_FILE``), and a referenced secret found nowhere
is an error naming it and the YAML key that needs it, before any API is called. Values pass
through untouched and are never logged; GitHub masks secrets in job logs.
"""

from __future__ import annotations

import logging
import secrets as _random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from reconciler.config import LoadedTenant, YamlPath, secret_refs
from reconciler.config.problems import dotted
from reconciler.errors import ConfigErrors, InputError, Problem

log = logging.getLogger(__name__)

# Slots in the workflows' secrets step (`name_1` ... `name_6`): a tenant references at most five
# environment secrets (a certificate key and chain, the authcode, the report password, the SSO
# password) and the federation token file. tests/gitops/test_workflows.py checks the workflows
# have exactly this many.
MAX_JOB_SECRETS = 6
SLOT_VARIABLE = "RECONCILE_SECRET_{}"


@dataclass(frozen=True)
class SecretEnv:
    """The ``$GITHUB_ENV`` text and what it holds (names only)."""

    text: str
    names: tuple[str, ...]
    already_set: tuple[str, ...]
    files: tuple[str, ...]  # ``{file: ...}`` references: the job must provide these files


@dataclass(frozen=True)
class _Reference:
    name: str
    tenant: LoadedTenant
    path: YamlPath


def _references(tenants: Sequence[LoadedTenant]) -> tuple[list[_Reference], list[str]]:
    """The ``{env: NAME}`` references in order, each name once, and the ``{file: ...}`` ones."""
    found: dict[str, _Reference] = {}
    files: list[str] = []
    for tenant in tenants:
        for path, ref in secret_refs(tenant.model):
            if ref.file is not None:
                files.append(ref.file)
            elif ref.env is not None and ref.env not in found:
                found[ref.env] = _Reference(ref.env, tenant, path)
    return list(found.values()), list(dict.fromkeys(files))


def secret_names(tenants: Sequence[LoadedTenant]) -> list[str]:
    """The environment secrets the job's tenants reference, one per slot, in a stable order."""
    references, _files = _references(tenants)
    if len(references) > MAX_JOB_SECRETS:
        names = ", ".join(r.name for r in references)
        raise InputError(
            f"the job's tenants reference {len(references)} secrets ({names}); a job takes at most "
            f"{MAX_JOB_SECRETS}. Plan fewer tenants per job, or sign in by federation instead of "
            "stored secrets (docs/gitops.md, section 2)"
        )
    return [r.name for r in references]


def names_output(names: Sequence[str]) -> str:
    """``name_<i>=NAME`` lines for ``$GITHUB_OUTPUT``; every slot is written (empty when unused)."""
    padded = [*names, *([""] * (MAX_JOB_SECRETS - len(names)))]
    return "".join(f"name_{i}={name}\n" for i, name in enumerate(padded, 1))


def slot_values(environ: Mapping[str, str]) -> list[str]:
    """What the workflow put in ``RECONCILE_SECRET_1`` ... (empty for an unset slot)."""
    return [environ.get(SLOT_VARIABLE.format(i), "") for i in range(1, MAX_JOB_SECRETS + 1)]


def _heredoc(name: str, value: str) -> str:
    while True:
        delimiter = f"ghadelimiter_{_random.token_hex(16)}"
        if delimiter not in value:
            return f"{name}<<{delimiter}\n{value}\n{delimiter}\n"


def secret_env(
    tenants: Sequence[LoadedTenant], slots: Sequence[str], environ: Mapping[str, str]
) -> SecretEnv:
    """The ``$GITHUB_ENV`` lines for every ``{env: NAME}`` the tenants reference.

    ``slots`` are the values the workflow passed for ``secret_names(tenants)``, in that order.
    """
    references, files = _references(tenants)
    expected = secret_names(tenants)  # raises when the job has more secrets than slots
    lines: list[str] = []
    names: list[str] = []
    already: list[str] = []
    problems: list[Problem] = []
    for ref, value in zip(references, [*slots, *([""] * len(expected))], strict=False):
        if environ.get(ref.name, "").strip():
            already.append(ref.name)
            continue
        if not value.strip():
            problems.append(
                Problem(
                    ref.tenant.locate(ref.path),
                    dotted(ref.path),
                    f"secret {ref.name} is not set: add a secret named {ref.name} to the GitHub "
                    "environment this job runs in (docs/gitops.md, section 2.4)",
                )
            )
            continue
        names.append(ref.name)
        lines.append(_heredoc(ref.name, value))
    if problems:
        raise ConfigErrors(problems)
    log.info("secrets for the job: %s", ", ".join(names) or "none")
    return SecretEnv("".join(lines), tuple(names), tuple(already), tuple(files))
