"""`solution.package` is a zip inside the tenant folder: refused at validate, and again when read."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from reconciler.config import load_tenants
from reconciler.config.package import MAX_PACKAGE_BYTES, read_package
from reconciler.errors import ConfigErrors, InputError

PINNED = "  min_version: 2.1.0.0\n"


def _problem(write_tree: Any, acme: str, package: str, extra: dict[str, str] | None = None) -> str:
    root = write_tree(
        {"t/acme/tenant.yaml": acme.replace(PINNED, f"{PINNED}  package: {package}\n"), **(extra or {})}
    )
    with pytest.raises(ConfigErrors) as caught:
        load_tenants([root / "t"])
    (problem,) = caught.value.problems
    return str(problem).split("tenant.yaml:", 1)[1]


@pytest.mark.parametrize(
    ("package", "says"),
    [
        ("../../../etc/hostname.zip", "leads outside the tenant folder; the solution zip must be inside it"),
        ("/etc/hostname", "is not a .zip file"),
        ("missing.zip", "cannot be read: No such file or directory"),
        ("sub.zip", "is not a regular file"),
    ],
)
def test_a_package_that_may_not_be_read_is_a_located_problem(
    write_tree: Any, acme: str, package: str, says: str
) -> None:
    problem = _problem(write_tree, acme, package, {"t/acme/sub.zip/x": "x"})
    assert problem.startswith(f"13:12: solution.package: '{package}' ")
    assert says in problem


def test_links_fifos_and_devices_are_refused_at_validate_and_at_read(write_tree: Any, acme: str) -> None:
    root = write_tree({"t/acme/tenant.yaml": acme, "t/acme/ok.zip": "PK"})
    folder = root / "t" / "acme"
    (folder / "zero.zip").symlink_to("/dev/zero")
    (folder / "out.zip").symlink_to("/etc/hostname")
    os.mkfifo(folder / "pipe.zip")
    assert read_package("ok.zip", folder) == b"PK"
    for name, says in [
        ("zero.zip", "leads outside"),
        ("out.zip", "leads outside"),
        ("pipe.zip", "not a regular"),
    ]:
        with pytest.raises(InputError, match=says):  # the FIFO is opened non-blocking: no hang
            read_package(name, folder)
        (folder / "tenant.yaml").write_text(acme.replace(PINNED, f"{PINNED}  package: {name}\n"))
        with pytest.raises(ConfigErrors) as caught:
            load_tenants([root / "t"])
        assert says in caught.value.format()


def test_a_package_larger_than_dataverse_imports_is_refused(
    write_tree: Any, acme: str, tmp_path: Path
) -> None:
    root = write_tree({"t/acme/tenant.yaml": acme})
    with (root / "t" / "acme" / "big.zip").open("wb") as big:
        big.truncate(MAX_PACKAGE_BYTES + 1)  # sparse: no disk used
    assert "is 95,000,001 bytes; Dataverse imports solution files of at most 95,000,000" in _problem(
        write_tree, acme, "big.zip"
    )
    with pytest.raises(InputError, match="95,000,001 bytes"):
        read_package("big.zip", root / "t" / "acme")
