"""The GitHub matrix: a job per tenant up to 256, shards beyond, every tenant exactly once."""

from __future__ import annotations

import json

import pytest

from reconciler.config.shard import shard_of
from reconciler.errors import InputError
from reconciler.gitops import (
    GITHUB_MAX_JOBS,
    MatrixJob,
    expected_tenants,
    keep_tenants,
    matrix_jobs,
    matrix_json,
    parse_matrix,
)

FLEET = [f"msp-client-{i:04d}" for i in range(1000)]


def test_a_thousand_tenants_fit_in_256_jobs_each_tenant_exactly_once() -> None:
    matrix = json.loads(matrix_json(matrix_jobs(FLEET)))
    jobs = matrix["include"]
    assert len(jobs) <= GITHUB_MAX_JOBS
    listed = [t for job in jobs for t in job["tenants"].split()]
    assert sorted(listed) == FLEET  # every tenant, none twice
    assert len({job["job"] for job in jobs}) == len(jobs)  # artifact names are unique
    for job in jobs:  # the job key says the shard, and the shard is the tenant-name hash
        index = int(job["job"].split("-")[1])
        assert all(shard_of(t, GITHUB_MAX_JOBS) == index for t in job["tenants"].split())


def test_up_to_the_limit_each_tenant_is_a_job_of_its_own() -> None:
    jobs = matrix_jobs(FLEET[:256])
    assert jobs == [MatrixJob(t, (t,)) for t in FLEET[:256]]
    assert matrix_json([]) == "[]"


def test_adding_tenants_keeps_the_others_in_their_shard_job() -> None:
    before = {t: j.key for j in matrix_jobs(FLEET[:900]) for t in j.tenants}
    after = {t: j.key for j in matrix_jobs(FLEET) for t in j.tenants}
    assert all(after[t] == key for t, key in before.items())


def test_the_matrix_reads_back_and_the_old_shape_still_reads() -> None:
    jobs = matrix_jobs(FLEET, 4)
    assert parse_matrix(matrix_json(jobs)) == jobs
    assert expected_tenants(matrix_json(jobs)) == [t for j in jobs for t in j.tenants]
    assert parse_matrix('{"tenant": ["a", "b"]}') == [MatrixJob("a", ("a",)), MatrixJob("b", ("b",))]
    assert parse_matrix("[]") == parse_matrix("") == []
    with pytest.raises(InputError, match="not JSON"):
        parse_matrix("{")
    with pytest.raises(InputError, match="expected"):
        parse_matrix('{"include": [{"job": 1}]}')


def test_keeping_only_changed_tenants_keeps_job_keys_and_drops_empty_jobs() -> None:
    jobs = [MatrixJob("shard-0-of-2", ("a", "b")), MatrixJob("shard-1-of-2", ("c",))]
    assert keep_tenants(jobs, {"b"}) == [MatrixJob("shard-0-of-2", ("b",))]
