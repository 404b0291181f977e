"""Tenant files never leave the tree: links out, FIFOs and devices are refused before any read."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from reconciler.config import load_tenants
from reconciler.config.yamlpos import load_yaml_file
from reconciler.errors import ConfigErrors

SECRET = "s3cret-" + "x" * 500  # a file outside the tree holding one long value


def _messages(paths: list[Path]) -> list[str]:
    with pytest.raises(ConfigErrors) as caught:
        load_tenants(paths)
    return [str(p) for p in caught.value.problems]


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    target = tmp_path / "outside" / "secret.yaml"
    target.parent.mkdir()
    target.write_text(SECRET + "\n")
    return target


def test_a_file_link_out_of_the_tree_is_refused_unread(write_tree: Any, acme: str, outside: Path) -> None:
    root = write_tree({"t/acme/tenant.yaml": acme})
    (root / "t" / "acme" / "extra.yaml").symlink_to(outside)
    messages = _messages([root / "t"])
    assert messages == [
        f"{root}/t/acme/extra.yaml: is a symbolic link that leads outside {root}/t; tenant files and folders "
        "must stay inside the tenants folder (copy the file in instead)"
    ]
    assert not any("s3cret" in m for m in messages)


def test_a_folder_link_out_of_the_tree_is_refused(write_tree: Any, acme: str, outside: Path) -> None:
    root = write_tree({"t/acme/tenant.yaml": acme})
    (root / "t" / "evil").symlink_to(outside.parent)
    assert _messages([root / "t"]) == [
        f"{root}/t/evil: is a symbolic link that leads outside {root}/t; tenant files and folders must stay "
        "inside the tenants folder (copy the file in instead)"
    ]


def test_a_defaults_link_out_of_the_tree_is_refused(write_tree: Any, acme: str, outside: Path) -> None:
    root = write_tree({"t/acme/tenant.yaml": acme})
    (root / "t" / "_defaults.yaml").symlink_to(outside)
    (message,) = _messages([root / "t"])
    assert message.startswith(f"{root}/t/_defaults.yaml: is a symbolic link that leads outside")


def test_a_named_file_link_is_judged_against_its_folder(write_tree: Any, acme: str, outside: Path) -> None:
    root = write_tree({"t/acme/tenant.yaml": acme})
    (root / "t" / "other.yaml").symlink_to(outside)
    (message,) = _messages([root / "t" / "other.yaml"])
    assert "is a symbolic link that leads outside" in message


def test_a_link_inside_the_tree_is_followed(write_tree: Any, acme: str) -> None:
    root = write_tree({"t/_shared/acme.yaml": acme, "t/acme/.keep": ""})
    (root / "t" / "acme" / "tenant.yaml").symlink_to(root / "t" / "_shared" / "acme.yaml")
    (tenant,) = load_tenants([root / "t"])
    assert tenant.name == "acme"


def test_a_fifo_is_refused_without_blocking(write_tree: Any, acme: str) -> None:
    root = write_tree({"t/acme/tenant.yaml": acme})
    os.mkfifo(root / "t" / "acme" / "more.yaml")
    assert _messages([root / "t"]) == [
        f"{root}/t/acme/more.yaml: is not a regular file (a FIFO, socket or device); tenant files are plain files"
    ]
    with pytest.raises(ConfigErrors) as caught:  # swapped in after discovery: refused on the open handle
        load_yaml_file(root / "t" / "acme" / "more.yaml")
    assert "not a regular file" in caught.value.format()


def test_a_device_is_refused(write_tree: Any, acme: str) -> None:
    root = write_tree({"t/acme/tenant.yaml": acme})
    (root / "t" / "acme" / "zero.yaml").symlink_to("/dev/zero")
    (message,) = _messages([root / "t"])
    assert "zero.yaml: is a symbolic link that leads outside" in message  # refused before its type is read
    with pytest.raises(ConfigErrors) as caught:
        load_yaml_file(Path("/dev/zero"))
    assert "not a regular file" in caught.value.format()


def test_a_single_value_file_is_quoted_short(write_tree: Any) -> None:
    root = write_tree({"t/acme/tenant.yaml": SECRET + "\n"})
    (message,) = _messages([root / "t"])
    assert "found a single value ('s3cret-xxx" in message
    assert len(message) < len(str(root)) + 200
