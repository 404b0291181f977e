"""One apply per tenant at a time where it runs: an advisory lock file per tenant.

Two applies of one tenant that overlap both read the same live state and both create what is
missing: the second create of a Rescue technician meets `INVALIDPARAM_EMAIL_ALREADY_IN_USE`
after its `createUser` already made a nameless node (issue 16, case 8). So `reconcile apply`
takes its tenants' locks before it reads live state and holds them until it ends; a second
apply waits for them, within a bound, or exits with :class:`ApplyLocked`.

The lock is ``flock`` on ``<tenant folder>/.reconcile-apply.lock`` (``--lock-dir`` moves it,
e.g. off a read-only checkout). The kernel drops it when the process ends, however it ends
(SIGKILL included), so a stale lock cannot outlive its holder. It protects one machine (or one
shared folder); across machines see docs/concurrency.md (GitHub concurrency groups, a
Kubernetes Lease). The file is never removed: a process waiting on the old file while another
created a new one would hold a lock nobody else sees; a lock taken on a file that was replaced
meanwhile is dropped and taken again on the file now at that path.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import socket
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from reconciler.config import LoadedTenant
from reconciler.errors import ApplyLocked, InputError, printable

LOCK_FILE = ".reconcile-apply.lock"
DEFAULT_TIMEOUT = 600.0  # seconds: longer than most applies (a Session Key index may take minutes)
_POLL = 0.1

Waiting = Callable[[str, str], None]  # (tenant, who holds its lock): told once per lock waited for


def lock_path(tenant: LoadedTenant, lock_dir: Path | None = None) -> Path:
    """Where ``tenant``'s apply lock lives: its own folder, or ``lock_dir`` (named by tenant)."""
    if lock_dir is not None:
        return lock_dir / f".reconcile-apply.{tenant.name}.lock"
    if tenant.folder.name == tenant.name:
        return tenant.folder / LOCK_FILE
    # A tenant given as one file: its folder may hold other tenants' files.
    return tenant.folder / f".reconcile-apply.{tenant.name}.lock"


@contextlib.contextmanager
def apply_locks(
    tenants: Iterable[LoadedTenant],
    *,
    timeout: float = DEFAULT_TIMEOUT,
    lock_dir: Path | None = None,
    on_wait: Waiting | None = None,
) -> Iterator[None]:
    """Hold every tenant's apply lock for the ``with`` block.

    Locks are taken in one order (by path) so two applies of overlapping tenants cannot wait on
    each other; ``timeout`` bounds the whole wait. Raises ApplyLocked when a lock is still held
    at the end of it, InputError when a lock file cannot be opened.
    """
    deadline = time.monotonic() + max(0.0, timeout)
    paths = sorted({lock_path(t, lock_dir): t.name for t in tenants}.items())
    with contextlib.ExitStack() as held:
        for path, name in paths:
            fd = _acquire(path, name, deadline, timeout, on_wait)
            held.callback(_release, fd)
        yield


def _acquire(path: Path, tenant: str, deadline: float, timeout: float, on_wait: Waiting | None) -> int:
    told = False
    while True:
        fd = _open(path)
        try:
            while not _try_lock(fd):
                holder = _holder(fd)
                if time.monotonic() >= deadline:
                    raise ApplyLocked(
                        f"another apply of tenant {tenant} holds its lock ({printable(str(path))}: "
                        f"{holder}); waited {timeout:g} s; nothing was read or written. Run again "
                        "when it has ended, or give it longer with --lock-timeout"
                    )
                if not told and on_wait is not None:
                    on_wait(tenant, holder)
                    told = True
                time.sleep(min(_POLL, max(0.0, deadline - time.monotonic())))
            if _is_current(fd, path):
                _record_holder(fd)
                return fd
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)  # the file was replaced while we waited: lock the one at the path now


def _open(path: Path) -> int:
    cloexec = getattr(os, "O_CLOEXEC", 0)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            return os.open(path, os.O_RDWR | os.O_CREAT | cloexec, 0o666)
        except PermissionError:
            # Another user's lock file in a shared checkout: a read-only descriptor locks as
            # well (flock needs no write access); only the holder line is not written then.
            return os.open(path, os.O_RDONLY | cloexec)
    except OSError as exc:
        raise InputError(
            f"cannot open the apply lock {printable(str(path))}: {exc.strerror or exc}; "
            "pass --lock-dir (or RECONCILE_LOCK_DIR) to keep the locks in a writable folder"
        ) from None


def _is_current(fd: int, path: Path) -> bool:
    try:
        now = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (now.st_dev, now.st_ino) == (mine.st_dev, mine.st_ino)


def _record_holder(fd: int) -> None:
    """Who holds the lock, for the message of the one who waits (the lock is the flock, not this)."""
    since = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    text = f"pid {os.getpid()} on {socket.gethostname()} since {since}\n".encode()
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, text)


def _release(fd: int) -> None:
    """Forget the holder (the file then names someone only while it is held), then close the
    file, which releases the lock."""
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)
    os.close(fd)


def _holder(fd: int) -> str:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        text = os.read(fd, 200).decode("utf-8", "replace").strip()
    except OSError:
        text = ""
    return printable(text) or "holder unknown"


if sys.platform == "win32":  # pragma: no cover - the CI runs on Linux
    import msvcrt

    _LOCKED_BYTE = 1 << 30  # Windows byte locks are mandatory: lock one far past the holder text

    def _try_lock(fd: int) -> bool:
        try:
            os.lseek(fd, _LOCKED_BYTE, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True
