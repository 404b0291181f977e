"""Issue 16 case 9: folder names that are not tenant names never reach the matrix or a shell.

`changed-tenants --format matrix` used to pass `acme corp` and `a$(id)b` into the matrix, where
the workflows' `read -ra` split the first in two. Such a name is refused (exit 1, every one
named, escaped), and a matrix handed back to `reconcile` is checked the same way.
"""

from __future__ import annotations

import json

import pytest

from reconciler.cli import cli
from reconciler.errors import InputError
from reconciler.gitops import matrix_json, parse_matrix
from reconciler.gitops.matrix import MatrixJob

from .conftest import ScratchRepo, invoke

HOSTILE = ["acme corp", "a$(id)b", "x;rm -rf ~", "Upper", "new\nline", "-flag", "quote'd"]


@pytest.mark.parametrize("fmt", ["matrix", "lines", "json"])
def test_a_folder_that_is_no_tenant_name_is_refused(repo: ScratchRepo, fmt: str) -> None:
    base = repo.git("rev-parse", "HEAD")
    tenant = (repo.root / "tenants" / "contoso" / "tenant.yaml").read_text("utf-8")
    for name in ("acme corp", "a$(id)b"):
        repo.write(f"tenants/{name}/tenant.yaml", tenant)
    repo.append("tenants/contoso/tenant.yaml", "# reviewed\n")
    repo.commit()
    run = invoke(cli, "changed-tenants", "--base", base, "--format", fmt)
    assert run.code == 1
    assert run.stdout == ""  # no matrix at all: the job fails, nothing is planned
    assert "tenant folder names 'a$(id)b', 'acme corp' are not a tenant name" in run.stderr


def test_good_names_still_make_the_matrix(repo: ScratchRepo) -> None:
    run = invoke(cli, "changed-tenants", "--all", "--format", "matrix")
    assert run.code == 0, run.stderr
    assert json.loads(run.stdout) == {
        "include": [{"job": "contoso", "tenants": "contoso"}, {"job": "fabrikam", "tenants": "fabrikam"}]
    }


@pytest.mark.parametrize("name", HOSTILE)
def test_a_matrix_naming_no_tenant_is_refused(name: str) -> None:
    text = json.dumps({"include": [{"job": "contoso", "tenants": f"contoso {name}"}]})
    if " " not in name:  # the list is space-separated: `acme corp` there reads as two names
        with pytest.raises(InputError, match="is not a tenant name"):
            parse_matrix(text)
    with pytest.raises(InputError, match="is not a tenant name"):
        parse_matrix(json.dumps({"include": [{"job": name, "tenants": "contoso"}]}))
    with pytest.raises(InputError, match="is not a tenant name"):
        matrix_json([MatrixJob(name, (name,))])


def test_shard_matrices_still_parse() -> None:
    text = json.dumps({"include": [{"job": "shard-3-of-256", "tenants": "a b c"}]})
    assert parse_matrix(text) == [MatrixJob("shard-3-of-256", ("a", "b", "c"))]
    with pytest.raises(InputError, match="is not a shard job key"):
        parse_matrix(json.dumps({"include": [{"job": "shard-$(id)", "tenants": "a"}]}))
