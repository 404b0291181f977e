"""The one reader of person-named local files (regularfile.py): plain files only, never more
than the limit, checked on the open handle."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reconciler.regularfile import FileTooLarge, NotRegularFile, describe, read_regular_file


def test_a_plain_file_within_the_limit_is_read(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"abc")
    assert read_regular_file(path, 3) == b"abc"


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(NotRegularFile) as caught:
        read_regular_file(fifo, 10)  # would block forever if opened blocking
    assert describe(caught.value.mode) == "a FIFO"


def test_a_folder_and_a_device_are_named(tmp_path: Path) -> None:
    with pytest.raises(NotRegularFile) as folder:
        read_regular_file(tmp_path, 10)
    with pytest.raises(NotRegularFile) as device:
        read_regular_file("/dev/zero", 10)
    assert (describe(folder.value.mode), describe(device.value.mode)) == ("a folder", "a device")


def test_a_file_over_the_limit_is_refused_by_its_size(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x" * 11)
    with pytest.raises(FileTooLarge) as caught:
        read_regular_file(path, 10)
    assert caught.value.size == 11


def test_a_file_that_grew_after_fstat_is_cut_one_byte_past_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x" * 50)
    real_fstat = os.fstat  # the handle reports the size the file had before it grew
    monkeypatch.setattr(os, "fstat", lambda fd: os.stat_result((*real_fstat(fd)[:6], 0, *real_fstat(fd)[7:])))
    with pytest.raises(FileTooLarge) as caught:
        read_regular_file(path, 10)
    assert caught.value.size is None


def test_a_missing_file_is_the_os_error() -> None:
    with pytest.raises(FileNotFoundError):
        read_regular_file("/nonexistent/plan.json", 10)
