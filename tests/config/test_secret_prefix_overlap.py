"""Issue 16 review F2: a new tenant whose name extends another's cannot take over its secrets.

The convention "a secret belongs to the tenant whose prefix it starts with" is only safe when no
tenant's prefix starts another's; the check runs over every tenant folder under the tenants root,
whichever tenants a command selects (a plan job loads only the tenant its pull request changed).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from reconciler.config.ownership import claimants, overlapping, owner_of

REPO = Path(__file__).resolve().parents[2]


def _with_tenant(tmp_path: Path, name: str) -> Path:
    """The example tenants, plus ``name``: a copy of fabrikam's file under its own name."""
    root = tmp_path / "tenants"
    shutil.copytree(REPO / "tenants", root)
    text = (root / "fabrikam" / "tenant.yaml").read_text("utf-8")
    (root / name).mkdir()
    (root / name / "tenant.yaml").write_text(text.replace("tenant: fabrikam", f"tenant: {name}"), "utf-8")
    return root


def _tenant_line(root: Path, name: str) -> int:
    rows = (root / name / "tenant.yaml").read_text("utf-8").splitlines()
    return next(i for i, row in enumerate(rows, 1) if row.startswith("tenant:"))


@pytest.mark.parametrize(
    "selection",
    [
        ["--tenant", "fabrikam-rescue"],
        ["--tenant", "fabrikam"],
        ["--tenant", "fabrikam-rescue", "--tenant", "contoso"],
    ],
)
@pytest.mark.parametrize("command", ["secret-names", "secret-env"])
def test_secret_commands_refuse_a_tenant_whose_prefix_extends_anothers(
    selection: list[str], command: str, tmp_path: Path, reconcile: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _with_tenant(tmp_path, "fabrikam-rescue")
    monkeypatch.setenv("RECONCILE_SECRET_1", "the-authcode")
    extra = ["--github-env", str(tmp_path / "github_env")] if command == "secret-env" else []
    outcome = reconcile(["gitops", command, str(root), *selection, *extra], cwd=tmp_path)
    assert outcome.exit_code == 1
    assert "name_1=" not in outcome.stdout
    assert not (tmp_path / "github_env").exists()
    selected = selection[1]
    other = "fabrikam" if selected == "fabrikam-rescue" else "fabrikam-rescue"
    line = _tenant_line(root, selected)
    expected = f"{root}/{selected}/tenant.yaml:{line}:9: tenant: the secret names of tenant '{selected}'"
    assert any(row.startswith(expected) for row in outcome.stderr.splitlines()), outcome.stderr
    assert f"overlap those of tenant '{other}'" in outcome.stderr
    assert "rename one of the tenants" in outcome.stderr


def test_validate_blames_both_tenants_not_fabrikams_own_reference(tmp_path: Path, reconcile: Any) -> None:
    root = _with_tenant(tmp_path, "fabrikam-rescue")
    outcome = reconcile(["validate", "tenants"], cwd=tmp_path)
    assert outcome.exit_code == 1
    rows = outcome.stderr.splitlines()
    overlaps = [r for r in rows if "overlap those of tenant" in r]
    assert [r.split(":")[0] for r in overlaps] == [
        "tenants/fabrikam-rescue/tenant.yaml",
        "tenants/fabrikam/tenant.yaml",
    ]
    for row, name in zip(overlaps, ["fabrikam-rescue", "fabrikam"], strict=True):
        assert row.startswith(f"tenants/{name}/tenant.yaml:{_tenant_line(root, name)}:9: tenant: ")
    # fabrikam's own FABRIKAM_RESCUE_AUTHCODE is not called "not this tenant's": whose it is
    # cannot be told, and the overlap problem says why.
    assert not any("FABRIKAM_RESCUE_AUTHCODE" in r and "not this tenant's" in r for r in rows)


def test_a_file_secret_name_is_claimed_the_same_way(tmp_path: Path, reconcile: Any) -> None:
    # /etc/reconciler/fabrikam-sso-password is fabrikam's; a tenant fabrikam-sso would fit it too.
    root = _with_tenant(tmp_path, "fabrikam-sso")
    outcome = reconcile(["gitops", "secret-names", str(root), "--tenant", "fabrikam-sso"], cwd=tmp_path)
    assert outcome.exit_code == 1
    assert (
        "tenant: the secret names of tenant 'fabrikam-sso' (FABRIKAM_SSO_) overlap those of tenant "
        "'fabrikam' (FABRIKAM_)" in outcome.stderr
    )
    outcome = reconcile(["validate", str(root / "fabrikam")], cwd=tmp_path)  # one tenant folder
    assert outcome.exit_code == 1
    assert "overlap those of tenant 'fabrikam-sso'" in outcome.stderr


def test_without_the_new_tenant_the_examples_still_name_their_secrets(tmp_path: Path, reconcile: Any) -> None:
    root = _with_tenant(tmp_path, "rescue-fabrikam")  # a name that starts no other: no overlap
    (root / "rescue-fabrikam" / "tenant.yaml").write_text(
        (root / "rescue-fabrikam" / "tenant.yaml")
        .read_text("utf-8")
        .replace("FABRIKAM_", "RESCUE_FABRIKAM_")
        .replace("/etc/reconciler/fabrikam", "/etc/reconciler/rescue-fabrikam"),
        "utf-8",
    )
    outcome = reconcile(["gitops", "secret-names", str(root), "--tenant", "fabrikam"], cwd=tmp_path)
    assert outcome.exit_code == 0, outcome.stderr
    assert outcome.stdout.splitlines()[0] == "name_1=FABRIKAM_RESCUE_AUTHCODE"


def test_tenant_names_equal_after_the_prefix_rule_overlap() -> None:
    assert overlapping("a-b", ["a_b", "a", "a-bc", "a-b-c", "ab"]) == ["a", "a-b-c", "a_b"]
    assert claimants("FABRIKAM_RESCUE_AUTHCODE", ["fabrikam", "fabrikam-rescue"]) == [
        "fabrikam",
        "fabrikam-rescue",
    ]
    assert owner_of("FABRIKAM_RESCUE_AUTHCODE", ["fabrikam", "fabrikam-rescue"]) is None  # never a guess
    assert owner_of("FABRIKAM_RESCUE_AUTHCODE", ["fabrikam", "contoso"]) == "fabrikam"
