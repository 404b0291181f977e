"""The sandbox's one way to write a file: a temporary file in the target's folder, then one
``os.replace``, so a kill leaves the old file or the new one (keys, seeds, generated tenants).
The product has its own (``reconciler/atomicfile.py``); the sandbox shares no code with it."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def write_text(path: Path, text: str, *, private: bool = False) -> None:
    """Replace ``path`` with ``text`` (UTF-8); ``private``: readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, 0o600 if private else 0o644)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
