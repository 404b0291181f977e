"""The GitHub job matrix of the plan, apply and drift workflows: one job per tenant, or shards.

GitHub refuses a matrix of more than 256 jobs. Up to ``max_jobs`` tenants, each tenant is a
job of its own (its name in the job title, its own artifact and apply concurrency group).
Beyond, the tenants are split over ``max_jobs`` shards by ``config/shard.py``'s hash, so 1,000
tenants run as at most 256 jobs, each tenant in exactly one, always the same one for a given
``max_jobs``. Every entry has the same two keys, so the workflows read one shape:

    {"include": [{"job": "contoso", "tenants": "contoso"}, ...]}          one job per tenant
    {"include": [{"job": "shard-3-of-256", "tenants": "a b c"}, ...]}     shards

``tenants`` is space-separated: tenant names are lower-case letters, digits, '-' and '_' (never a
space, quote or `$`), which ``changed.refuse_bad_names`` and ``parse_matrix`` enforce, so the
workflows' shell steps can split the list safely.
``[]`` means nothing to run (the workflows skip the job).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from reconciler.config.shard import split
from reconciler.config.text import excerpt
from reconciler.config.types import check_tenant_name
from reconciler.errors import InputError

# GitHub refuses a matrix of more than 256 jobs.
GITHUB_MAX_JOBS = 256


@dataclass(frozen=True)
class MatrixJob:
    """One job: ``key`` names its artifact and concurrency group; ``tenants`` it plans or applies."""

    key: str
    tenants: tuple[str, ...]


def matrix_jobs(tenants: Sequence[str], max_jobs: int = GITHUB_MAX_JOBS) -> list[MatrixJob]:
    """A job per tenant, or when there are more tenants than ``max_jobs``, a job per shard."""
    if len(tenants) <= max_jobs:
        return [MatrixJob(t, (t,)) for t in tenants]
    return [MatrixJob(f"shard-{s.index}-of-{s.count}", names) for s, names in split(tenants, max_jobs)]


def matrix_json(jobs: Sequence[MatrixJob]) -> str:
    """The ``strategy.matrix`` value, or ``[]`` when there is nothing to run."""
    if not jobs:
        return "[]"
    _checked(list(jobs), "matrix")
    return json.dumps({"include": [{"job": j.key, "tenants": " ".join(j.tenants)} for j in jobs]})


def parse_matrix(text: str, what: str = "--expect-matrix") -> list[MatrixJob]:
    """The jobs of a matrix ``matrix_json`` printed (the older ``{"tenant": [...]}`` too)."""
    try:
        data = json.loads(text) if text.strip() else []
    except ValueError as exc:
        raise InputError(f"{what} is not JSON: {exc}") from None
    except RecursionError:  # thousands of "[": one line, not a traceback
        raise InputError(f"{what} is nested too deep to be a matrix") from None
    if data == []:
        return []
    if isinstance(data, dict) and isinstance(data.get("tenant"), list):
        names = data["tenant"]
        if all(isinstance(n, str) for n in names):
            return _checked([MatrixJob(n, (n,)) for n in names], what)
    entries = data.get("include") if isinstance(data, dict) else None
    if isinstance(entries, list) and all(
        isinstance(e, dict) and isinstance(e.get("job"), str) and isinstance(e.get("tenants"), str)
        for e in entries
    ):
        return _checked([MatrixJob(e["job"], tuple(e["tenants"].split(" "))) for e in entries], what)
    raise InputError(f'{what}: expected {{"include": [{{"job": ..., "tenants": ...}}]}} or []')


def _checked(jobs: list[MatrixJob], what: str) -> list[MatrixJob]:
    """A matrix names tenants and shard keys only: anything else is refused, not split or quoted."""
    for job in jobs:
        for name in (*job.tenants, *([] if job.key.startswith("shard-") else [job.key])):
            try:
                check_tenant_name(name)
            except ValueError:
                raise InputError(f"{what}: {excerpt(name)} is not a tenant name") from None
        if job.key.startswith("shard-") and not job.key.replace("-", "").isalnum():
            raise InputError(f"{what}: {excerpt(job.key)} is not a shard job key")
    return jobs


def keep_tenants(jobs: Sequence[MatrixJob], wanted: Collection[str]) -> list[MatrixJob]:
    """The same jobs (same keys) with only the ``wanted`` tenants; jobs left empty are dropped."""
    kept = [MatrixJob(j.key, tuple(t for t in j.tenants if t in wanted)) for j in jobs]
    return [j for j in kept if j.tenants]
