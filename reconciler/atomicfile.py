"""Write a local file so that a crash or a kill leaves the old file or the new one, never a third.

The way editors, pip and git's lockfiles do it: the new content goes to a temporary file in the
target's own folder (``os.replace`` is atomic only within one file system), is flushed and
``fsync``ed, gets the target's mode, and then replaces the target in one ``os.replace``; the
folder is ``fsync``ed too where the platform allows, so the rename itself survives a power loss.
On any failure (an exception, Ctrl-C) the temporary file is removed; only SIGKILL or a power loss
can leave one behind, named ``.<target>.<random>.reconcile-tmp`` (gitignored, ignored by the
tenant loader because it starts with a dot and is no ``.yaml``).

Every file the tool writes goes through :func:`write_atomic`: tenant files (`profile discover
--write`, `export`), saved plans and results (`plan --out`, `health --out`), GitOps bodies and
the generated schema. Here, next to the error tree, because every layer may import it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path

from reconciler.errors import InputError, printable
from reconciler.regularfile import FileTooLarge, NotRegularFile, read_regular_file

TEMP_SUFFIX = ".reconcile-tmp"
PRIVATE_MODE = 0o600  # saved plans and results: no secrets, but nobody else's business
NEW_FILE_MODE = 0o666  # what open() asks for: the umask decides, as for any new file
APPEND_LIMIT = 16 * 1024 * 1024  # a file we add to ($GITHUB_ENV, $GITHUB_STEP_SUMMARY) is small


def write_atomic(path: Path, content: str | bytes, *, private: bool = False) -> None:
    """Replace ``path`` with ``content`` (text is written as UTF-8) atomically.

    The file keeps its mode when it existed; a new file gets the mode a plain ``open`` would
    give it (0o666 less the umask). ``private`` files are always 0o600. A symbolic link is
    followed, so the link stays and the file it points at is replaced. The new file belongs to
    whoever runs the tool, and a hard link to the old one keeps the old content (a new inode
    is what makes the write atomic). Raises InputError with
    the reason when the file cannot be written (nothing at ``path`` has changed then).
    """
    data = content.encode("utf-8") if isinstance(content, str) else content
    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        _replace(target, data, private=private)
    except OSError as exc:
        raise InputError(f"cannot write {printable(str(path))}: {exc.strerror or exc}") from None


def append_atomic(path: Path, text: str) -> None:
    """``text`` added at the end of ``path`` (made when missing), by replacing the file whole: a
    kill leaves the old content, or the old content and all of ``text``, never a partial line.
    For files another program reads after us ($GITHUB_ENV, $GITHUB_STEP_SUMMARY), which other
    tools of the same step may have written to first (their lines are kept)."""
    try:
        before = read_regular_file(path, APPEND_LIMIT)
    except FileNotFoundError:
        before = b""
    except (OSError, NotRegularFile, FileTooLarge) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise InputError(f"cannot append to {printable(str(path))}: {why}") from None
    write_atomic(path, before + text.encode("utf-8"))


def _replace(target: Path, data: bytes, *, private: bool) -> None:
    try:
        kept: int | None = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        kept = None
    mode = PRIVATE_MODE if private else kept
    fd, temp = _create_temp(target, PRIVATE_MODE if private else NEW_FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            if mode is not None:
                _chmod(handle.fileno(), temp, mode)
            os.fsync(handle.fileno())
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    _fsync_directory(target.parent)


def _create_temp(target: Path, mode: int) -> tuple[int, Path]:
    """A new file beside ``target`` that nobody else has open (O_EXCL), created with ``mode``."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOFOLLOW", 0)
    while True:
        temp = target.with_name(f".{target.name}.{secrets.token_hex(6)}{TEMP_SUFFIX}")
        try:
            return os.open(temp, flags, mode), temp
        except FileExistsError:  # 48 random bits met another file: draw again
            continue


def _chmod(fd: int, path: Path, mode: int) -> None:
    if os.chmod in os.supports_fd:
        os.chmod(fd, mode)
    else:  # Windows before 3.13: by name
        os.chmod(path, mode)


def _fsync_directory(folder: Path) -> None:
    """Make the rename durable. Windows cannot open a folder; some file systems refuse fsync on
    one (EINVAL): the file itself is already on disk then, only the rename may be lost."""
    if os.name == "nt":
        return
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)
