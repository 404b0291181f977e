"""reconciler/atomicfile.py: old or new, the mode kept, no temporary file left on failure."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from reconciler.atomicfile import TEMP_SUFFIX, append_atomic, write_atomic
from reconciler.errors import InputError


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(TEMP_SUFFIX))


def test_a_new_file_is_written_with_the_mode_open_would_give(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    try:
        write_atomic(tmp_path / "sub" / "a.yaml", "tenant: a\n")
    finally:
        os.umask(umask)
    assert (tmp_path / "sub" / "a.yaml").read_bytes() == b"tenant: a\n"
    assert _mode(tmp_path / "sub" / "a.yaml") == 0o644
    assert _leftovers(tmp_path / "sub") == []


def test_an_existing_file_keeps_its_mode_and_is_replaced_whole(tmp_path: Path) -> None:
    target = tmp_path / "tenant.yaml"
    target.write_text("old\n" * 1000)
    target.chmod(0o640)
    inode = target.stat().st_ino
    write_atomic(target, "new: é\n")
    assert target.read_bytes() == "new: é\n".encode()
    assert _mode(target) == 0o640
    assert target.stat().st_ino != inode  # a new file took its place: readers see old or new
    assert _leftovers(tmp_path) == []


def test_a_private_file_is_owner_only_even_when_it_was_wider(tmp_path: Path) -> None:
    target = tmp_path / "plan.json"
    target.write_text("{}")
    target.chmod(0o644)
    write_atomic(target, b'{"x": 1}', private=True)
    assert _mode(target) == 0o600 and target.read_bytes() == b'{"x": 1}'


def test_a_symbolic_link_stays_and_the_file_it_points_at_is_replaced(tmp_path: Path) -> None:
    real = tmp_path / "real.yaml"
    real.write_text("old")
    link = tmp_path / "link.yaml"
    link.symlink_to(real)
    write_atomic(link, "new")
    assert link.is_symlink() and real.read_text() == "new"


def test_a_target_that_cannot_be_replaced_is_one_error_and_leaves_nothing(tmp_path: Path) -> None:
    (tmp_path / "plan.json").mkdir()
    with pytest.raises(InputError, match=r"cannot write .*plan\.json: Is a directory"):
        write_atomic(tmp_path / "plan.json", "{}")
    assert _leftovers(tmp_path) == []


def test_an_interrupted_write_removes_its_temporary_file_and_keeps_the_old_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "tenant.yaml"
    target.write_text("old\n")

    def interrupted(fd: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(target, "new\n")
    assert target.read_text() == "old\n"
    assert _leftovers(tmp_path) == []


def test_a_name_with_a_line_break_is_printed_escaped(tmp_path: Path) -> None:
    folder = tmp_path / "a\nb"
    folder.mkdir()
    (folder / "x").mkdir()
    with pytest.raises(InputError) as caught:
        write_atomic(folder / "x", "{}")
    assert "\n" not in caught.value.message and "a\\nb" in caught.value.message


def test_an_append_keeps_the_lines_before_it_and_replaces_the_file_whole(tmp_path: Path) -> None:
    """$GITHUB_ENV / $GITHUB_STEP_SUMMARY: other tools' lines stay, ours come whole or not at all."""
    target = tmp_path / "github_env"
    append_atomic(target, "A=1\n")  # made when missing
    inode = target.stat().st_ino
    append_atomic(target, "B=2\n")
    assert target.read_text() == "A=1\nB=2\n"
    assert target.stat().st_ino != inode  # a new file renamed over the old: never a partial line
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match=r"cannot append to .*fifo: a FIFO"):
        append_atomic(fifo, "C=3\n")
