"""Read a local file only when it is a plain file, and never more than a limit.

The one way the tool reads a file named by a person (a tenant file, a solution package, a saved
plan): opened non-blocking, so a FIFO or a device swapped in after any earlier check is never
waited on, and checked on the open handle (``fstat``), so what is read is what was checked. The
read stops one byte past the limit: a file that grows meanwhile is still refused. Callers turn
``NotRegularFile`` and ``FileTooLarge`` into their own located message.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)


class NotRegularFile(Exception):
    """The path is a folder, FIFO, socket or device; ``mode`` says which."""

    def __init__(self, mode: int) -> None:
        super().__init__(describe(mode))
        self.mode = mode


class FileTooLarge(Exception):
    """Larger than the limit: ``size`` as the file system reports it, or None when the file grew
    past the limit while it was read."""

    def __init__(self, size: int | None) -> None:
        super().__init__(f"{size} bytes" if size is not None else "grew past the limit")
        self.size = size


def read_regular_file(path: Path | str, limit: int) -> bytes:
    """The bytes of ``path`` (at most ``limit``). Raises ``NotRegularFile``, ``FileTooLarge`` or
    the ``OSError`` of the open or read."""
    fd = os.open(path, _FLAGS)
    try:
        status = os.fstat(fd)  # on the descriptor: a folder is named too, before fdopen refuses it
        if not stat.S_ISREG(status.st_mode):
            raise NotRegularFile(status.st_mode)
        if status.st_size > limit:
            raise FileTooLarge(status.st_size)
        stream = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with stream:
        data = stream.read(limit + 1)
    if len(data) > limit:
        raise FileTooLarge(None)
    return data


def describe(mode: int) -> str:
    """What a file of ``mode`` is, for messages ("a FIFO", "a device", ...)."""
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a special file"
