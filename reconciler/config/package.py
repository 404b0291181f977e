"""The solution package (`solution.package`): a zip inside the tenant folder, checked twice.

`apply` reads the package and sends it to Dataverse's ImportSolutionAsync. In a GitOps job a pull
request controls the tree: `package: ../../../etc/hostname` would send a file of its choice, and
`/dev/zero` or a FIFO would hang the job. So the path must resolve (links followed) inside the
tenant folder, name a regular `.zip` file, and be no larger than Dataverse imports: "The maximum
size of a solution file is 95 MB" (Microsoft Learn, Power Apps, "Import solutions",
https://learn.microsoft.com/power-apps/maker/data-platform/import-update-export-solutions; read
here as 95,000,000 bytes, the stricter reading). `validate` reports a located problem
(``package_problem``); `apply` checks again on the open handle when it reads (``read_package``),
since the file may have changed in between.
"""

from __future__ import annotations

import stat
from pathlib import Path

from reconciler.config.text import excerpt
from reconciler.errors import InputError
from reconciler.regularfile import FileTooLarge, NotRegularFile, read_regular_file

MAX_PACKAGE_BYTES = 95_000_000


def _inside(package: str, folder: Path) -> tuple[Path, str | None]:
    """The package's path, and why it may not be read (None when it may)."""
    path = folder / package  # an absolute `package` replaces the folder: judged like any other
    if not package.casefold().endswith(".zip"):
        return path, f"{excerpt(package)} is not a .zip file; a solution package is the exported solution zip"
    try:
        resolved = path.resolve()
        if not resolved.is_relative_to(folder.resolve()):
            return path, (
                f"{excerpt(package)} leads outside the tenant folder; the solution zip must be inside it "
                "(copy it in)"
            )
    except (OSError, RuntimeError) as exc:  # a looping link
        return path, f"{excerpt(package)} cannot be read: {getattr(exc, 'strerror', None) or exc}"
    return path, None


def _size_problem(package: str, size: int) -> str | None:
    if size > MAX_PACKAGE_BYTES:
        return (
            f"{excerpt(package)} is {size:,} bytes; Dataverse imports solution files of at most "
            f"{MAX_PACKAGE_BYTES:,} bytes (95 MB)"
        )
    return None


def package_problem(package: str, folder: Path) -> str | None:
    """Why the solution package ``package`` (relative to ``folder``) may not be imported."""
    path, problem = _inside(package, folder)
    if problem is not None:
        return problem
    try:
        status = path.stat()
    except OSError as exc:
        return f"{excerpt(package)} cannot be read: {exc.strerror or exc}"
    if not stat.S_ISREG(status.st_mode):
        return f"{excerpt(package)} is not a regular file (a folder, FIFO, socket or device)"
    return _size_problem(package, status.st_size)


def read_package(package: str, folder: Path) -> bytes:
    """The bytes of the solution package, by the rules of ``package_problem``, checked on the open
    handle (non-blocking: a FIFO or a device swapped in since `validate` is refused, never waited
    on). Raises ``InputError`` saying why it may not be read."""
    path, problem = _inside(package, folder)
    data = b""
    if problem is None:
        # Checked on the open handle (regularfile.py): a FIFO or a device swapped in since
        # `validate` is refused, never waited on.
        try:
            data = read_regular_file(path, MAX_PACKAGE_BYTES)
        except NotRegularFile:
            problem = f"{excerpt(package)} is not a regular file (a folder, FIFO, socket or device)"
        except FileTooLarge as exc:
            problem = _size_problem(package, exc.size if exc.size is not None else MAX_PACKAGE_BYTES + 1)
        except OSError as exc:
            problem = f"{excerpt(package)} cannot be read: {exc.strerror or exc}"
    if problem is not None:
        raise InputError(f"solution.package: {problem}")
    return data


__all__ = ["MAX_PACKAGE_BYTES", "package_problem", "read_package"]
