"""Load tenant folders into validated ``Tenant`` models, reporting every problem at once.

Layout (DESIGN §3): ``tenants/<name>/*.yaml`` are the files of one tenant, merged into one
mapping; ``tenants/_defaults.yaml`` is deep-merged *under* every tenant of that folder (the
tenant wins key by key). Within one tenant, mappings merge across files but a value or a list
set in two files is an error naming both places: two files silently fighting over a key is
exactly what a reviewer would miss. Files and folders whose names start with ``_`` or ``.``
are not tenants.

A PATH may be a tenants folder, one tenant folder (its parent's ``_defaults.yaml`` still
applies, so a tenant validates the same either way) or one YAML file, which is a whole tenant
on its own (no defaults, no folder-name rule).

Nothing here opens a network connection; secrets stay references (see ``secrets.py``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from reconciler.config.checks import semantic_problems
from reconciler.config.hosts import NO_ALLOWANCE, HostAllowance, host_problems
from reconciler.config.models import Tenant
from reconciler.config.ownership import foreign_secret_problems
from reconciler.config.package import package_problem
from reconciler.config.problems import dotted, validation_problems
from reconciler.config.shard import Shard, shard_of
from reconciler.config.text import excerpt
from reconciler.config.units import without_replaced
from reconciler.config.values import value_problems
from reconciler.config.vault_refs import sign_in_problems
from reconciler.config.yamlpos import SourceMap, YamlDocument, YamlPath, load_yaml_file
from reconciler.errors import ConfigErrors, InputError, Location, Problem
from reconciler.profile import SolutionProfile, default_profile_data
from reconciler.profile.model import deep_merge

log = logging.getLogger(__name__)

DEFAULTS_FILE = "_defaults.yaml"
YAML_SUFFIXES = (".yaml", ".yml")
_PACKAGE = ("solution", "package")
DEFAULT_PATHS: tuple[Path, ...] = (Path("tenants"),)


@dataclass(frozen=True, eq=False)
class LoadedTenant:
    """One validated tenant with where each of its settings was written.

    ``files`` are the tenant's own files, then the defaults file when one applies. ``digest``
    is the sha256 of the canonical JSON of the merged data, so a saved plan can tell that the
    YAML changed since it was made.
    """

    name: str
    model: Tenant = field(repr=False)
    folder: Path
    files: tuple[Path, ...]
    digest: str
    data: dict[str, Any] = field(repr=False)
    positions: SourceMap = field(repr=False)

    def locate(self, path: YamlPath, *, key: bool = False) -> Location:
        """Where ``path`` was written (its key when ``key``), else its nearest written ancestor."""
        return self.positions.locate(tuple(path), key=key)


@dataclass
class _Source:
    """A tenant found on disk, before parsing."""

    folder: Path
    files: list[Path]
    defaults: Path | None
    folder_name: str | None  # the name the tenant must have (None for a single file)


def _json_default(value: Any) -> str:
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def canonical_digest(data: Any) -> str:
    """sha256 of ``data`` as canonical JSON (sorted keys, no spaces, dates as ISO text)."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default)
    # surrogatepass: a lone surrogate is refused as a problem, the digest must not crash first
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _escape_problem(path: Path, root: Path) -> Problem | None:
    """Why ``path`` may not be read: a link out of ``root``, or not a regular file or folder.

    Checked before anything is opened: in a GitOps plan job a pull request controls the tree, and
    a link to a file elsewhere would make the runner read (and quote) a file of its choice.
    """
    try:
        if not path.resolve().is_relative_to(root.resolve()):
            return Problem(
                Location(str(path)),
                "",
                f"is a symbolic link that leads outside {root}; tenant files and folders must stay inside "
                "the tenants folder (copy the file in instead)",
            )
        mode = path.stat().st_mode
    except (OSError, RuntimeError) as exc:  # a dangling or looping link
        return Problem(Location(str(path)), "", f"cannot be read: {getattr(exc, 'strerror', None) or exc}")
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        return Problem(
            Location(str(path)),
            "",
            "is not a regular file (a FIFO, socket or device); tenant files are plain files",
        )
    return None


def _safe(paths: Iterable[Path], root: Path, problems: list[Problem]) -> list[Path]:
    """``paths`` that may be read; a problem for each that may not."""
    kept = []
    for path in paths:
        problem = _escape_problem(path, root)
        if problem is None:
            kept.append(path)
        else:
            problems.append(problem)
    return kept


def _tenant_files(folder: Path, root: Path, problems: list[Problem]) -> list[Path]:
    named = sorted(
        p for p in folder.iterdir() if p.suffix in YAML_SUFFIXES and not p.name.startswith(("_", "."))
    )
    return [p for p in _safe(named, root, problems) if p.is_file()]


def _existing(path: Path, root: Path, problems: list[Problem]) -> Path | None:
    if not (path.is_file() or path.is_symlink() or path.exists()):
        return None
    return path if _safe([path], root, problems) and path.is_file() else None


def _discover(paths: Sequence[Path], problems: list[Problem]) -> list[_Source]:
    sources: list[_Source] = []
    for path in paths:
        if path.is_symlink() or (path.exists() and not path.is_dir()):
            refused = _escape_problem(path, path.parent)  # a named file is judged against its folder
            if refused is not None:
                problems.append(refused)
                continue
        if path.is_file():
            if path.name.startswith(("_", ".")) or path.suffix not in YAML_SUFFIXES:
                problems.append(
                    Problem(
                        Location(str(path)),
                        "",
                        "not a tenant file: expected a .yaml/.yml file not starting with '_'",
                    )
                )
            else:
                sources.append(_Source(path.parent, [path], None, None))
        elif path.is_dir():
            own = _tenant_files(path, path.parent, problems)
            if own:  # one tenant folder
                name = path.resolve().name
                defaults = _existing(path.parent / DEFAULTS_FILE, path.parent, problems)
                sources.append(_Source(path, own, defaults, name))
                continue
            defaults = _existing(path / DEFAULTS_FILE, path, problems)
            found, before = 0, len(problems)
            subs = sorted(p for p in path.iterdir() if not p.name.startswith(("_", ".")) and p.is_dir())
            for sub in _safe(subs, path, problems):
                files = _tenant_files(sub, path, problems)
                if not files:
                    problems.append(
                        Problem(
                            Location(str(sub)),
                            "",
                            "this tenant folder holds no .yaml file (start the folder name with '_' "
                            "to keep other files here)",
                        )
                    )
                    continue
                found += 1
                sources.append(_Source(sub, files, defaults, sub.name))
            if not found and len(problems) == before:
                problems.append(
                    Problem(
                        Location(str(path)),
                        "",
                        f"no tenants found; expected {path / '<name>' / 'tenant.yaml'}",
                    )
                )
        else:
            problems.append(Problem(Location(str(path)), "", "no such file or folder"))
    # The same tenant reached twice (`tenants tenants/acme`, or one of its files) is loaded once.
    file_sets = [frozenset(f.resolve() for f in source.files) for source in sources]
    return [
        source
        for i, (source, mine) in enumerate(zip(sources, file_sets, strict=True))
        if not any(mine < other or (mine == other and j < i) for j, other in enumerate(file_sets))
    ]


def _root_tenants(sources: Sequence[_Source], problems: list[Problem]) -> set[str]:
    """Every tenant folder's name under the roots of the folder ``sources``, selected or not.

    Secret ownership (``config/ownership.py``) must be judged against all of them: a plan job
    loads only the tenant its pull request changed, and a new tenant must not take a sibling's
    secret names just because the sibling was not loaded.
    """
    found: set[str] = set()
    for root in {s.folder.parent for s in sources if s.folder_name is not None}:
        try:
            subs = list(root.iterdir())
        except OSError as exc:  # the secrets' owners cannot be told: refuse rather than guess
            problems.append(Problem(Location(str(root)), "", f"cannot be listed: {exc.strerror or exc}"))
            continue
        for sub in subs:
            if sub.name.startswith(("_", ".")) or _escape_problem(sub, root) is not None or not sub.is_dir():
                continue
            if _tenant_files(sub, root, []):  # refusals of the folder's files: reported if it is loaded
                found.add(sub.name)
    return found


def _merge_into(
    target: dict[str, Any], doc: YamlDocument, source: dict[str, Any], path: YamlPath, seen: SourceMap
) -> list[Problem]:
    problems: list[Problem] = []
    for key, value in source.items():
        here = (*path, key)
        if key not in target:
            target[key] = value
        elif isinstance(target[key], dict) and isinstance(value, dict):
            problems += _merge_into(target[key], doc, value, here, seen)
        else:
            problems.append(
                Problem(
                    doc.positions.locate(here, key=True),
                    dotted(here),
                    f"also set at {seen.locate(here, key=True)}; a key may be set in only one file of a "
                    "tenant (mappings merge across files, values and lists do not)",
                )
            )
    return problems


def _merge_docs(docs: Sequence[YamlDocument], problems: list[Problem]) -> tuple[dict[str, Any], SourceMap]:
    merged: dict[str, Any] = {}
    positions = SourceMap(Location(docs[0].file, 1, 1))
    for doc in docs:
        problems += _merge_into(merged, doc, doc.data, (), positions)
        positions.absorb(doc.positions)
    return merged, positions


def _model_problems(exc: ValidationError, data: dict[str, Any], positions: SourceMap) -> list[Problem]:
    """Pydantic's errors, located; a bad profile override is re-validated to point inside it."""
    errors: list[ErrorDetails] = []
    problems: list[Problem] = []
    for err in exc.errors(include_url=False):
        override = data.get("profile")
        if tuple(err["loc"]) == ("profile",) and err["type"] == "value_error" and isinstance(override, dict):
            try:
                SolutionProfile.model_validate(deep_merge(default_profile_data(), override))
            except ValidationError as inner:
                problems += validation_problems(
                    inner.errors(include_url=False), SolutionProfile, positions, prefix=("profile",)
                )
                continue
        errors.append(err)
    return problems + validation_problems(errors, Tenant, positions)


class _Loader:
    """Collects the problems of every file while it loads."""

    def __init__(self, allowance: HostAllowance) -> None:
        self.problems: list[Problem] = []
        self._allowance = allowance
        self.known: set[str] = set()  # every tenant name found, parsed or not (secret ownership)
        self._defaults: dict[Path, YamlDocument | None] = {}
        self._names: dict[str, Location] = {}

    def parse(self, path: Path, *, defaults: bool = False) -> YamlDocument | None:
        try:
            return load_yaml_file(path, allow_empty=defaults)
        except ConfigErrors as exc:
            self.problems += exc.problems
            return None

    def defaults(self, path: Path) -> YamlDocument | None:
        key = path.resolve()
        if key not in self._defaults:
            self._defaults[key] = self.parse(path, defaults=True)
        return self._defaults[key]

    def _check_name(self, name: Any, source: _Source, here: Location) -> None:
        if not isinstance(name, str):
            return  # missing or not text: the model validation says so
        if source.folder_name is not None and name != source.folder_name:
            self.problems.append(
                Problem(
                    here,
                    "tenant",
                    f"tenant name {excerpt(name)} does not match its folder {excerpt(source.folder_name)}; "
                    "the name must equal the folder name",
                )
            )
        if name in self._names:
            self.problems.append(
                Problem(
                    here,
                    "tenant",
                    f"tenant {excerpt(name)} is defined twice; also at {self._names[name]}; tenant names must be unique",
                )
            )
        else:
            self._names[name] = here

    def tenant(self, source: _Source, docs: list[YamlDocument | None]) -> LoadedTenant | None:
        defaults = self.defaults(source.defaults) if source.defaults else None
        parsed = [d for d in docs if d is not None]
        if len(parsed) != len(docs) or (source.defaults and defaults is None):
            return None  # a file did not parse: validating the rest would report spurious misses
        data, positions = _merge_docs(parsed, self.problems)
        if defaults is not None:
            data = deep_merge(without_replaced(defaults.data, data), data)  # units.py
            positions.absorb(defaults.positions)
        data, surprises = value_problems(data, positions)
        self.problems += surprises
        self._check_name(data.get("tenant"), source, positions.locate(("tenant",)))
        self.problems += semantic_problems(data, lambda p: positions.locate(p))
        # Where the credentials go and which secrets are read: a pull request edits these.
        self.problems += host_problems(data, lambda p: positions.locate(p), self._allowance)
        self.problems += sign_in_problems(data, lambda p: positions.locate(p))
        shared = defaults.file if defaults is not None else None
        others = self.known - {source.folder_name}  # a misnamed tenant is not its own rival
        self.problems += foreign_secret_problems(data, lambda p: positions.locate(p), shared, others)
        try:
            model = Tenant.model_validate(data)
        except ValidationError as exc:
            self.problems += _model_problems(exc, data, positions)
            return None
        package = model.solution.package if model.solution is not None else None
        if package is not None:
            problem = package_problem(package, source.folder)
            if problem is not None:
                self.problems.append(Problem(positions.locate(_PACKAGE), "solution.package", problem))
                return None
        files = tuple(source.files) + ((source.defaults,) if source.defaults else ())
        return LoadedTenant(
            model.tenant, model, source.folder, files, canonical_digest(data), data, positions
        )


def load_tenants(
    paths: Sequence[Path] = DEFAULT_PATHS,
    *,
    only: Sequence[str] = (),
    shard: Shard | None = None,
    allow_hosts: HostAllowance = NO_ALLOWANCE,
) -> list[LoadedTenant]:
    """Load and validate the tenants under ``paths``; ``only`` keeps the tenants of those names,
    ``shard`` those of one shard (``config/shard.py``); other tenants are not even parsed.
    Service hosts outside the allow-list (``config/hosts.py``) are problems unless the operator
    allows them (``allow_hosts``, never from the tenant files).

    Raises ``ConfigErrors`` with every problem of every file, or ``InputError`` when a name
    in ``only`` matches no tenant or lies outside ``shard``.
    """
    loader = _Loader(allow_hosts)
    sources = _discover(list(paths) or DEFAULT_PATHS, loader.problems)
    docs = {id(s): [loader.parse(f) for f in s.files] for s in sources if s.folder_name is None}
    names: dict[int, str | None] = {id(s): s.folder_name for s in sources}
    for source in sources:
        if source.folder_name is None:
            first = docs[id(source)][0]
            tenant = first.data.get("tenant") if first is not None else None
            names[id(source)] = tenant if isinstance(tenant, str) else None
    loader.known = {n for n in names.values() if n} | _root_tenants(sources, loader.problems)
    if only:
        known = sorted({n for n in names.values() if n})
        unknown = [n for n in only if n not in known]
        if unknown:
            message = (
                f"unknown tenant {', '.join(map(repr, unknown))}; known tenants: {', '.join(known) or 'none'}"
            )
            if loader.problems:  # e.g. a mistyped PATH: show why the tenant was not found
                raise ConfigErrors([*loader.problems, Problem(Location(""), "tenant", message)])
            raise InputError(message)
        sources = [s for s in sources if names[id(s)] in only]
        outside = [n for n in only if shard is not None and not shard.holds(n)]
        if shard is not None and outside:  # a named tenant silently skipped would look "done"
            held = ", ".join(f"{n!r} is in shard {shard_of(n, shard.count)}/{shard.count}" for n in outside)
            raise InputError(f"--tenant names a tenant outside shard {shard}: {held}")
    if shard is not None:  # a file without a readable name stays, so its problem is reported
        sources = [s for s in sources if (name := names[id(s)]) is None or shard.holds(name)]
    loaded: list[LoadedTenant] = []
    for source in sources:
        tenant = loader.tenant(source, docs.get(id(source)) or [loader.parse(f) for f in source.files])
        if tenant is not None:
            loaded.append(tenant)
    if loader.problems:
        raise ConfigErrors(loader.problems)
    log.debug("loaded %d tenant(s): %s", len(loaded), ", ".join(t.name for t in loaded))
    return loaded


__all__ = ["DEFAULTS_FILE", "DEFAULT_PATHS", "LoadedTenant", "canonical_digest", "load_tenants"]
