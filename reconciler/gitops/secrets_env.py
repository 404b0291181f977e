"""Hand a tenant's secrets to the later steps of a workflow job, and no other secret.

Tenant files name secrets by environment variable (``{env: CONTOSO_RESCUE_AUTHCODE}``), and
those names differ per tenant, while a workflow's ``env:`` keys are fixed text: one workflow
cannot list every tenant's variables. So one step receives ``toJSON(secrets)`` and this module
picks out exactly the variables the tenant references, written in the ``$GITHUB_ENV`` format
(multi-line values, such as PEM keys, in heredoc form). Variables already set in the
environment win (the OIDC step sets ``AZURE_FEDERATED_TOKEN_FILE``), and a referenced variable
found nowhere is an error naming it and the YAML key that needs it, before any API is called.

Values pass through untouched and are never logged; GitHub masks secrets in job logs.
"""

from __future__ import annotations

import json
import logging
import secrets as _random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from reconciler.config import LoadedTenant, secret_refs
from reconciler.config.problems import dotted
from reconciler.errors import ConfigErrors, InputError, Problem

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SecretEnv:
    """The ``$GITHUB_ENV`` text and what it holds (names only)."""

    text: str
    names: tuple[str, ...]
    already_set: tuple[str, ...]
    files: tuple[str, ...]  # ``{file: ...}`` references: the job must provide these files


def parse_secrets_json(text: str) -> dict[str, str]:
    """``toJSON(secrets)``: a JSON object of names to string values."""
    try:
        data = json.loads(text) if text.strip() else {}
    except ValueError:
        raise InputError("the secrets JSON is not valid JSON (expected toJSON(secrets))") from None
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise InputError("the secrets JSON must be an object of names to strings (toJSON(secrets))")
    return {str(k).upper(): v for k, v in data.items()}


def _heredoc(name: str, value: str) -> str:
    while True:
        delimiter = f"ghadelimiter_{_random.token_hex(16)}"
        if delimiter not in value:
            return f"{name}<<{delimiter}\n{value}\n{delimiter}\n"


def secret_env(
    tenants: Sequence[LoadedTenant], available: Mapping[str, str], environ: Mapping[str, str]
) -> SecretEnv:
    """The ``$GITHUB_ENV`` lines for every ``{env: NAME}`` the tenants reference.

    ``available`` is the secrets JSON (names upper-cased: GitHub stores secret names so).
    """
    lines: list[str] = []
    names: list[str] = []
    already: list[str] = []
    files: list[str] = []
    problems: list[Problem] = []
    done: set[str] = set()
    for tenant in tenants:
        for path, ref in secret_refs(tenant.model):
            if ref.file is not None:
                files.append(ref.file)
                continue
            name = ref.env
            if name is None or name in done:
                continue
            done.add(name)
            if environ.get(name, "").strip():
                already.append(name)
                continue
            value = available.get(name.upper())
            if value is None or not value.strip():
                problems.append(
                    Problem(
                        tenant.locate(path),
                        dotted(path),
                        f"secret {name} is not set: add a repository or environment secret named {name}",
                    )
                )
                continue
            names.append(name)
            lines.append(_heredoc(name, value))
    if problems:
        raise ConfigErrors(problems)
    log.info("secrets for the job: %s", ", ".join(names) or "none")
    return SecretEnv("".join(lines), tuple(names), tuple(already), tuple(dict.fromkeys(files)))
