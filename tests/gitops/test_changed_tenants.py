"""`reconcile changed-tenants` on scratch git repositories: the matrix the workflows fan out on."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from reconciler.cli import cli
from reconciler.gitops import TenantChanges, classify, tenant_paths_for_files

from .conftest import EXAMPLE_TENANTS, ScratchRepo, invoke


def changed(*args: str) -> dict[str, object]:
    run = invoke(cli, "changed-tenants", *args, "--format", "json")
    assert run.code == 0, run.stderr
    data: dict[str, object] = json.loads(run.stdout)
    return data


def test_a_changed_tenant_file_plans_that_tenant_only(repo: ScratchRepo) -> None:
    base = repo.git("rev-parse", "HEAD")
    repo.append("tenants/contoso/tenant.yaml", "# reviewed\n")
    repo.commit()
    assert changed("--base", base) == {"tenants": ["contoso"], "deleted": [], "all": False, "reasons": []}
    matrix = invoke(cli, "changed-tenants", "--base", base, "--format", "matrix")
    assert json.loads(matrix.stdout) == {"include": [{"job": "contoso", "tenants": "contoso"}]}
    lines = invoke(cli, "changed-tenants", "--base", base)
    assert lines.stdout.splitlines() == ["contoso"]


def test_any_file_of_a_tenant_folder_counts(repo: ScratchRepo) -> None:
    base = repo.git("rev-parse", "HEAD")
    repo.write("tenants/fabrikam/solution/LogMeIn.zip", "zip")
    repo.commit()
    assert changed("--base", base)["tenants"] == ["fabrikam"]


def test_defaults_change_means_every_tenant(repo: ScratchRepo) -> None:
    base = repo.git("rev-parse", "HEAD")
    repo.append("tenants/_defaults.yaml", "# tuned\n")
    repo.commit()
    result = changed("--base", base)
    assert result["tenants"] == ["contoso", "fabrikam"]
    assert result["all"] is True
    assert result["reasons"] == ["tenants/_defaults.yaml changed (it applies to every tenant)"]
    lines = invoke(cli, "changed-tenants", "--base", base)
    assert lines.stdout.splitlines() == ["contoso", "fabrikam"]
    assert "tenants/_defaults.yaml changed" in lines.stderr


def test_shared_folder_and_profile_changes_mean_every_tenant(repo: ScratchRepo) -> None:
    base = repo.git("rev-parse", "HEAD")
    repo.write("tenants/_solutions/LogMeIn_2_2.zip", "zip")
    repo.commit()
    assert changed("--base", base)["all"] is True

    base = repo.git("rev-parse", "HEAD")
    repo.write("reconciler/profile/solution_profile.yaml", "tables: {}\n")
    repo.commit()
    assert changed("--base", base)["tenants"] == ["contoso", "fabrikam"]

    base = repo.git("rev-parse", "HEAD")
    repo.write("requirements.txt", "rescue-dynamics-reconciler==0.2.0\n")
    repo.commit()
    assert changed("--base", base)["tenants"] == []
    assert changed("--base", base, "--all-when", "requirements.txt")["all"] is True


def test_a_deleted_tenant_is_listed_apart_and_never_planned(repo: ScratchRepo) -> None:
    base = repo.git("rev-parse", "HEAD")
    repo.remove("tenants/fabrikam")
    repo.append("tenants/contoso/tenant.yaml", "# reviewed\n")
    repo.commit()
    assert changed("--base", base) == {
        "tenants": ["contoso"],
        "deleted": ["fabrikam"],
        "all": False,
        "reasons": [],
    }
    matrix = invoke(cli, "changed-tenants", "--base", base, "--format", "matrix")
    assert json.loads(matrix.stdout) == {"include": [{"job": "contoso", "tenants": "contoso"}]}
    assert "deleted (not planned): fabrikam" in matrix.stderr


def test_deleted_tenant_with_defaults_change_is_still_not_planned(repo: ScratchRepo) -> None:
    base = repo.git("rev-parse", "HEAD")
    repo.remove("tenants/fabrikam")
    repo.append("tenants/_defaults.yaml", "# tuned\n")
    repo.commit()
    result = changed("--base", base)
    assert result["tenants"] == ["contoso"]
    assert result["deleted"] == ["fabrikam"]


def test_a_renamed_tenant_is_a_new_tenant_and_a_deleted_one(repo: ScratchRepo) -> None:
    base = repo.git("rev-parse", "HEAD")
    repo.git("mv", "tenants/fabrikam", "tenants/fabrikam-eu")
    repo.commit()
    result = changed("--base", base)
    assert result["tenants"] == ["fabrikam-eu"]
    assert result["deleted"] == ["fabrikam"]


def test_nothing_changed_gives_an_empty_matrix(repo: ScratchRepo) -> None:
    base = repo.git("rev-parse", "HEAD")
    repo.commit("empty")
    run = invoke(cli, "changed-tenants", "--base", base, "--format", "matrix")
    assert run.code == 0
    assert run.stdout.strip() == "[]"
    assert invoke(cli, "changed-tenants", "--base", base).stdout == ""


def test_files_outside_tenants_change_nothing(repo: ScratchRepo) -> None:
    base = repo.git("rev-parse", "HEAD")
    repo.write("README.md", "# changed\n")
    repo.write("docs/notes.md", "notes\n")
    repo.write("tenants/README.md", "how to add a tenant\n")
    repo.write("tenants/.editorconfig", "root = true\n")
    repo.commit()
    assert changed("--base", base) == {"tenants": [], "deleted": [], "all": False, "reasons": []}


def test_three_dots_ignore_what_the_base_branch_did_meanwhile(repo: ScratchRepo) -> None:
    fork = repo.git("rev-parse", "HEAD")
    repo.git("checkout", "--quiet", "-b", "feature")
    repo.append("tenants/contoso/tenant.yaml", "# feature\n")
    repo.commit("feature")
    repo.git("checkout", "--quiet", "main")
    repo.append("tenants/fabrikam/tenant.yaml", "# main moved on\n")
    main_head = repo.commit("main")
    repo.git("checkout", "--quiet", "feature")
    assert changed("--base", main_head)["tenants"] == ["contoso"]
    assert changed("--base", fork, "--head", "main")["tenants"] == ["fabrikam"]


def test_a_new_branch_push_has_no_base_so_every_tenant(repo: ScratchRepo) -> None:
    result = changed("--base", "0" * 40)
    assert result["tenants"] == ["contoso", "fabrikam"]
    assert result["all"] is True


def test_all_and_only(repo: ScratchRepo) -> None:
    assert changed("--all")["tenants"] == ["contoso", "fabrikam"]
    assert changed("--only", "fabrikam")["tenants"] == ["fabrikam"]
    base = repo.git("rev-parse", "HEAD")
    repo.append("tenants/contoso/tenant.yaml", "# x\n")
    repo.commit()
    assert changed("--base", base, "--only", "fabrikam")["tenants"] == []
    run = invoke(cli, "changed-tenants", "--only", "nosuch")
    assert run.code == 1
    assert "no such tenant: nosuch" in run.stderr
    assert "contoso, fabrikam" in run.stderr


def test_a_base_missing_from_a_shallow_clone_says_how_to_fix_it(repo: ScratchRepo) -> None:
    run = invoke(cli, "changed-tenants", "--base", "1234567890abcdef1234567890abcdef12345678")
    assert run.code == 1
    assert "fetch-depth: 0" in run.stderr
    run = invoke(cli, "changed-tenants")
    assert run.code == 1
    assert "--base" in run.stderr
    typo = invoke(cli, "changed-tenants", "tenant", "--all")
    assert typo.code == 1
    assert "tenant: no such folder" in typo.stderr


def test_outside_a_git_repository_is_an_input_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(EXAMPLE_TENANTS, tmp_path / "tenants")
    monkeypatch.chdir(tmp_path)
    run = invoke(cli, "changed-tenants", "--base", "HEAD~1")  # --all lists the folder (below)
    assert run.code == 1
    assert "git rev-parse failed" in run.stderr


def test_tenants_folder_below_the_root_and_run_from_a_subfolder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch = ScratchRepo(tmp_path / "infra")
    shutil.copytree(EXAMPLE_TENANTS, scratch.root / "config" / "tenants")
    base = scratch.commit()
    scratch.append("config/tenants/fabrikam/tenant.yaml", "# x\n")
    scratch.write("tenants/contoso/tenant.yaml", "not the tenants folder: nothing\n")
    scratch.commit()
    monkeypatch.chdir(scratch.root / "config")
    assert changed("tenants", "--base", base)["tenants"] == ["fabrikam"]


def test_more_tenants_than_a_matrix_allows_run_in_shards(repo: ScratchRepo) -> None:
    every = changed("--all")["tenants"]
    run = invoke(cli, "changed-tenants", "--all", "--format", "matrix", "--max-jobs", "1")
    assert run.code == 0, run.stderr
    assert json.loads(run.stdout) == {"include": [{"job": "shard-0-of-1", "tenants": " ".join(every)}]}


def test_changed_tenants_of_one_shard(repo: ScratchRepo) -> None:
    every = changed("--all")["tenants"]
    shards = [changed("--all", "--shard", f"{k}/2")["tenants"] for k in range(2)]
    assert sorted(shards[0] + shards[1]) == sorted(every)
    assert not set(shards[0]) & set(shards[1])
    bad = invoke(cli, "changed-tenants", "--all", "--shard", "2/2")
    assert (bad.code, "K must be between 0 and 1" in bad.stderr) == (1, True)


def test_classify_follows_the_loaders_rules() -> None:
    head = [
        "tenants/_defaults.yaml",
        "tenants/a/tenant.yaml",
        "tenants/b/x.yml",
        "tenants/c/_notes.yaml",  # only a '_' file: not a tenant
        "tenants/.hidden/tenant.yaml",
        "tenants/_shared/tenant.yaml",
        "tenants/loose.yaml",
    ]
    changes = [
        ("M", "tenants/a/tenant.yaml"),
        ("A", "tenants/c/_notes.yaml"),
        ("M", "tenants/.hidden/tenant.yaml"),
    ]
    assert classify(changes, head, "tenants") == TenantChanges(tenants=("a",), deleted=("c",))
    assert classify([("M", "tenants/loose.yaml")], head, "tenants") == TenantChanges(tenants=())
    everything = classify([("D", "tenants/_shared/tenant.yaml")], head, "tenants")
    assert everything.tenants == ("a", "b")
    assert everything.everything
    # Tenants folder at the repository root.
    assert classify([("M", "a/tenant.yaml")], ["a/tenant.yaml"], "").tenants == ("a",)


def test_pre_commit_files_map_to_tenant_folders(repo: ScratchRepo) -> None:
    tenants = Path("tenants")
    assert tenant_paths_for_files([tenants / "contoso" / "tenant.yaml"]) == [tenants / "contoso"]
    assert tenant_paths_for_files(
        [
            tenants / "contoso" / "tenant.yaml",
            tenants / "_defaults.yaml",
            tenants / "fabrikam" / "tenant.yaml",
        ]
    ) == [tenants]
    assert tenant_paths_for_files([tenants / "contoso" / "_draft.yaml", Path("README.md")]) == []
    assert tenant_paths_for_files([tenants / "gone" / "tenant.yaml"]) == []


def test_a_thousand_tenants_give_a_matrix_of_at_most_256_jobs_each_tenant_once(repo: ScratchRepo) -> None:
    base = repo.commit("before")
    names = [f"client-{i:04d}" for i in range(1000)]
    for name in names:
        repo.write(f"tenants/{name}/tenant.yaml", f"tenant: {name}\n")
    repo.commit("a thousand tenants")
    run = invoke(cli, "changed-tenants", "--base", base, "--format", "matrix")
    assert run.code == 0, run.stderr
    jobs = json.loads(run.stdout)["include"]
    assert len(jobs) <= 256
    listed = [t for job in jobs for t in job["tenants"].split()]
    assert sorted(listed) == names


def test_every_tenant_of_a_folder_outside_git_is_listed_and_sharded(tmp_path: Path) -> None:
    """An image or a copied volume has no .git: --all lists the folder as the loader would; naming
    a commit still needs git, and says so."""
    tenants = tmp_path / "tenants"
    shutil.copytree(EXAMPLE_TENANTS, tenants)
    (tenants / "_shared").mkdir()
    (tenants / "_shared" / "x.yaml").write_text("{}\n")
    (tenants / "empty").mkdir()
    everyone = changed(str(tenants), "--all")
    assert everyone["tenants"] == ["contoso", "fabrikam"]
    shards = [changed(str(tenants), "--all", "--shard", f"{k}/3")["tenants"] for k in range(3)]
    assert sorted(name for shard in shards for name in shard) == ["contoso", "fabrikam"]  # type: ignore[attr-defined]
    run = invoke(cli, "changed-tenants", str(tenants), "--base", "HEAD~1")
    assert run.code == 1 and "not a git repository" in run.stderr
