"""Which tenants a git change touches: the matrix of the plan, apply and drift workflows.

A pull request or a push changes files; the workflows plan or apply only the tenants those
files belong to, one job per tenant. The rules mirror how the loader reads a tenants folder
(``config/loader.py``), so a file counts for a tenant exactly when the loader would read it
for that tenant:

- ``tenants/<name>/...``: that tenant (any file: a tenant may reference a solution zip).
- ``tenants/_defaults.yaml`` and anything in a ``tenants/_*`` folder (shared files a tenant
  may reference): every tenant. So do the solution profile and any ``--all-when`` glob.
- a tenant touched by the change but without a tenant file at the head commit was deleted:
  it is listed apart and never planned (the tool never deletes a tenant's live objects).
- other files (outside ``tenants/``, loose files and dot-folders in it): nothing.

Git is called through ``subprocess`` (never a shell); every failure becomes an ``InputError``
that says what to fix, most often a shallow clone that lacks the base commit.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import re
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from reconciler.config import DEFAULTS_FILE
from reconciler.config.text import excerpt
from reconciler.config.types import check_tenant_name
from reconciler.errors import InputError

log = logging.getLogger(__name__)

YAML_SUFFIXES = (".yaml", ".yml")
# Files outside the tenants folder whose change can alter every tenant's plan.
DEFAULT_ALL_WHEN: tuple[str, ...] = ("reconciler/profile/*.yaml",)
_NULL_COMMIT = re.compile(r"^0+$")
_GIT_TIMEOUT_S = 120


@dataclass(frozen=True)
class TenantChanges:
    """The outcome: tenants to plan or apply, tenants deleted, and why."""

    tenants: tuple[str, ...]
    deleted: tuple[str, ...] = ()
    everything: bool = False
    reasons: tuple[str, ...] = ()


def run_git(repo: Path, *args: str) -> str:
    """``git -C repo ARGS`` -> stdout; any failure is an ``InputError`` quoting git's message."""
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
    try:
        done = subprocess.run(
            ["git", "-C", str(repo), *args],
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="surrogateescape",
            check=False,
            env=env,
            timeout=_GIT_TIMEOUT_S,
        )
    except FileNotFoundError:
        raise InputError("git is not installed (or not on PATH)") from None
    except subprocess.TimeoutExpired:
        raise InputError(f"git {args[0]} took longer than {_GIT_TIMEOUT_S} s") from None
    if done.returncode != 0:
        message = done.stderr.strip().splitlines()
        raise InputError(f"git {args[0]} failed: {message[-1] if message else f'exit {done.returncode}'}")
    return done.stdout


def repo_root(folder: Path) -> Path:
    """The top folder of the git work tree that holds ``folder``."""
    return Path(run_git(folder, "rev-parse", "--show-toplevel").strip())


def in_work_tree(folder: Path) -> bool:
    """Whether ``folder`` is inside a git work tree (False also when git is not installed)."""
    try:
        return run_git(folder, "rev-parse", "--is-inside-work-tree").strip() == "true"
    except InputError:
        return False


def folder_files(tenants_dir: Path) -> list[str]:
    """``NAME/FILE`` of every file one folder down, as the tree of a commit would list them."""
    return sorted(
        f"{folder.name}/{file.name}"
        for folder in tenants_dir.iterdir()
        if folder.is_dir()
        for file in folder.iterdir()
        if file.is_file()
    )


def tenants_prefix(path: Path, root: Path) -> str:
    """``path`` (the tenants folder) relative to the repository root, as git spells paths."""
    try:
        relative = path.resolve().relative_to(root.resolve())
    except ValueError:
        raise InputError(f"{path} is not inside the git repository at {root}") from None
    text = relative.as_posix()
    return "" if text == "." else text


def resolve_commit(repo: Path, ref: str, what: str) -> str:
    """The full commit id of ``ref``; a clear message when the clone does not have it."""
    try:
        return run_git(
            repo, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"
        ).strip()
    except InputError:
        raise InputError(
            f"{what} {ref!r} is not a commit of this clone; fetch the full history "
            "(actions/checkout with fetch-depth: 0) or pass a commit that exists"
        ) from None


def changed_files(repo: Path, base: str, head: str) -> list[tuple[str, str]]:
    """``(status, path)`` of every file that differs between merge-base(base, head) and head.

    Three dots, as a pull request shows it: what ``head`` changed since it left ``base``.
    Renames are a delete plus an add, so both the old and the new tenant are seen.
    """
    out = run_git(
        repo,
        "diff",
        "--name-status",
        "-z",
        "--no-renames",
        "--no-ext-diff",
        "--no-textconv",
        "--no-relative",
        f"{base}...{head}",
        "--",
    )
    tokens = [t for t in out.split("\0") if t]
    if len(tokens) % 2:
        raise InputError("git diff printed an unexpected listing")
    return [(tokens[i], tokens[i + 1]) for i in range(0, len(tokens), 2)]


def tree_files(repo: Path, ref: str, prefix: str) -> list[str]:
    """Every file path in ``ref``'s tree under ``prefix`` (repository-relative)."""
    args = ["ls-tree", "-r", "-z", "--name-only", "--full-tree", ref]
    if prefix:
        args += ["--", prefix]
    return [p for p in run_git(repo, *args).split("\0") if p]


def _under(path: str, prefix: str) -> str | None:
    """``path`` relative to ``prefix``, or None when it is outside."""
    if not prefix:
        return path
    return path[len(prefix) + 1 :] if path.startswith(prefix + "/") else None


def tenants_in(files: Iterable[str], prefix: str) -> set[str]:
    """Tenant folders that hold at least one tenant file (the loader's rule)."""
    found: set[str] = set()
    for path in files:
        rel = _under(path, prefix)
        if rel is None:
            continue
        parts = rel.split("/")
        if len(parts) != 2 or parts[0].startswith(("_", ".")):
            continue
        name = parts[1]
        if PurePosixPath(name).suffix in YAML_SUFFIXES and not name.startswith(("_", ".")):
            found.add(parts[0])
    return found


def _is_shared(rel: str) -> bool:
    parts = rel.split("/")
    if len(parts) == 1:
        return parts[0] == DEFAULTS_FILE
    return parts[0].startswith("_")


def classify(
    changes: Sequence[tuple[str, str]],
    head_files: Iterable[str],
    prefix: str,
    all_when: Sequence[str] = DEFAULT_ALL_WHEN,
) -> TenantChanges:
    """Pure: the tenants ``changes`` touch, given the files at the head commit."""
    present = tenants_in(head_files, prefix)
    touched: set[str] = set()
    reasons: list[str] = []
    for _status, path in changes:
        if any(fnmatch.fnmatchcase(path, pattern) for pattern in all_when):
            reasons.append(f"{path} changed (it applies to every tenant)")
            continue
        rel = _under(path, prefix)
        if rel is None:
            continue
        if _is_shared(rel):
            reasons.append(f"{path} changed (it applies to every tenant)")
        elif "/" in rel and not rel.startswith("."):
            touched.add(rel.split("/", 1)[0])
    everything = bool(reasons)
    chosen = present if everything else touched & present
    return TenantChanges(
        tenants=tuple(sorted(chosen)),
        deleted=tuple(sorted(touched - present)),
        everything=everything,
        reasons=tuple(dict.fromkeys(reasons)),
    )


def select(result: TenantChanges, only: Sequence[str], known: Iterable[str]) -> TenantChanges:
    """Keep only the tenants named in ``only`` (each must exist at the head commit)."""
    if not only:
        return result
    names = set(known)
    unknown = sorted(set(only) - names)
    if unknown:
        listing = ", ".join(sorted(names)) or "none"
        raise InputError(f"no such tenant: {', '.join(unknown)} (tenants at the head commit: {listing})")
    wanted = set(only)
    return TenantChanges(
        tenants=tuple(t for t in result.tenants if t in wanted),
        deleted=tuple(t for t in result.deleted if t in wanted),
        everything=result.everything,
        reasons=result.reasons,
    )


def refuse_bad_names(names: Iterable[str], what: str = "tenant folder") -> None:
    """Every name must be a tenant name (lower-case letters, digits, '-', '_'), as the loader
    requires: the names go into a GitHub matrix, job titles, artifact names and shell steps, so
    `acme corp` (split in two by the shell) or `a$(id)b` are refused here, all of them at once."""
    bad = []
    for name in names:
        try:
            check_tenant_name(name)
        except ValueError:
            bad.append(excerpt(name))
    if bad:
        raise InputError(
            f"{what} name{'s' if len(bad) > 1 else ''} {', '.join(bad)} "
            f"{'are' if len(bad) > 1 else 'is'} not a tenant name: use lower-case letters, digits, "
            "'-' and '_' (rename the folder; nothing was planned)"
        )


def changed_tenants(
    tenants_dir: Path,
    *,
    base: str | None,
    head: str = "HEAD",
    every: bool = False,
    only: Sequence[str] = (),
    all_when: Sequence[str] = DEFAULT_ALL_WHEN,
) -> TenantChanges:
    """The tenants to act on between ``base`` and ``head`` (all of them with ``every``).

    ``base`` may be git's null commit (a push that created the branch): then every tenant.
    """
    if not tenants_dir.is_dir():
        raise InputError(f"{tenants_dir}: no such folder (give the tenants folder, e.g. tenants)")
    if every and head == "HEAD" and not in_work_tree(tenants_dir):
        # Every tenant of a folder that is not a checkout (an image, a copied volume): the folder
        # as it is, by the loader's rule. Naming a commit (--head, --base) still needs git.
        present = tenants_in(folder_files(tenants_dir), "")
        chosen = select(TenantChanges(tenants=tuple(sorted(present)), everything=True), only, present)
        refuse_bad_names(chosen.tenants)
        return chosen
    root = repo_root(tenants_dir)
    prefix = tenants_prefix(tenants_dir, root)
    head_commit = resolve_commit(root, head, "--head")
    files = tree_files(root, head_commit, prefix)
    present = tenants_in(files, prefix)
    if every or base is None:
        if not every and not only:
            raise InputError("give --base REF (or --all, or --only NAME)")
        result = TenantChanges(tenants=tuple(sorted(present)), everything=True)
    elif _NULL_COMMIT.match(base):
        result = TenantChanges(
            tenants=tuple(sorted(present)), everything=True, reasons=("no base commit: every tenant",)
        )
    else:
        base_commit = resolve_commit(root, base, "--base")
        changes = changed_files(root, base_commit, head_commit)
        log.info("%d file(s) changed between %s and %s", len(changes), base_commit[:12], head_commit[:12])
        result = classify(changes, files, prefix, all_when)
    chosen = select(result, only, present)
    refuse_bad_names(chosen.tenants)
    return chosen


def tenant_paths_for_files(files: Sequence[Path]) -> list[Path]:
    """Folders to validate for changed ``files`` (the pre-commit hook passes file names).

    A tenant is validated from its folder, so its parent's ``_defaults.yaml`` applies as it
    does in ``plan``; a changed defaults file means its whole tenants folder. Files that are
    not tenant files (not YAML, ``_``/``.`` names) and folders that no longer exist are skipped.
    """
    wholes: dict[Path, None] = {}
    singles: dict[Path, None] = {}
    for file in files:
        if file.suffix not in YAML_SUFFIXES or not file.parent.is_dir():
            continue
        if file.name == DEFAULTS_FILE:
            wholes[file.parent] = None
        elif not file.name.startswith(("_", ".")) and not file.parent.name.startswith(("_", ".")):
            singles[file.parent] = None
    return [*wholes, *(f for f in singles if f.parent not in wholes)]
