"""`make package-check`: the wheel and sdist build, hold their data files, and install with pipx.

Run by `make test` (not by pytest: building and installing take longer than a unit test
should). Everything happens in a temporary folder; PIPX_HOME and PIPX_BIN_DIR point there, so
the user's pipx installs are never touched. Exit 0 when every check passes, else 1 with the
reasons on stderr.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# Data files the tool reads at run time: without them an installed `reconcile` breaks.
WHEEL_DATA = (
    # The sandbox is its own top-level package in the same wheel (`reconcile demo`, `--sandbox`).
    "rescue_sandbox/__init__.py",
    "rescue_sandbox/README.md",
    "rescue_sandbox/seeds/demo.yaml",
    "rescue_sandbox/dataverse/solution_schema.yaml",
    "rescue_sandbox/rescue/permissions.yaml",
    "rescue_sandbox/py.typed",
    "reconciler/profile/solution_profile.yaml",
    "reconciler/py.typed",
)
SDIST_DATA = ("pyproject.toml", "README.md", "schemas/tenant.schema.json", "Dockerfile", *WHEEL_DATA)


def run(*args: str, env: dict[str, str] | None = None, cwd: Path = REPO) -> str:
    done = subprocess.run(args, capture_output=True, text=True, env=env, cwd=cwd, timeout=600, check=False)
    if done.returncode != 0:
        raise SystemExit(
            f"package-check: {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}"
        )
    return done.stdout


def missing_in(names: list[str], wanted: tuple[str, ...], prefix: str = "") -> list[str]:
    return [w for w in wanted if prefix + w not in names]


def expected_version() -> str:
    text = (REPO / "pyproject.toml").read_text("utf-8")
    return next(line.split('"')[1] for line in text.splitlines() if line.startswith("version = "))


def main() -> int:
    started = time.monotonic()
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="reconcile-package-") as tmp:
        dist = Path(tmp) / "dist"
        run(sys.executable, "-m", "build", "--wheel", "--sdist", "--outdir", str(dist), str(REPO))
        (wheel,) = dist.glob("*.whl")
        (sdist,) = dist.glob("*.tar.gz")
        wheel_names = zipfile.ZipFile(wheel).namelist()
        problems += [f"wheel lacks {m}" for m in missing_in(wheel_names, WHEEL_DATA)]
        with tarfile.open(sdist) as archive:
            sdist_names = archive.getnames()
        top = sdist_names[0].split("/", 1)[0] + "/"
        problems += [f"sdist lacks {m}" for m in missing_in(sdist_names, SDIST_DATA, top)]
        metadata = (
            zipfile.ZipFile(wheel)
            .read(next(n for n in wheel_names if n.endswith(".dist-info/METADATA")))
            .decode()
        )
        if "License-Expression: MIT" not in metadata:
            problems.append("wheel metadata has no SPDX License-Expression: MIT")

        env = {
            **os.environ,
            "PIPX_HOME": str(Path(tmp) / "pipx"),
            "PIPX_BIN_DIR": str(Path(tmp) / "bin"),
            "PIPX_MAN_DIR": str(Path(tmp) / "man"),
        }
        pipx = Path(sys.executable).parent / "pipx"
        run(str(pipx), "install", "--python", sys.executable, str(wheel), env=env)
        version = run(str(Path(tmp) / "bin" / "reconcile"), "--version", env=env).strip()
        if version != f"reconcile, version {expected_version()}":
            problems.append(f"reconcile --version printed {version!r}")
        # The installed copy generates the tenant JSON schema from its models (and the profile).
        schema, reference = Path(tmp) / "tenant.schema.json", Path(tmp) / "reference.md"
        reconcile = str(Path(tmp) / "bin" / "reconcile")
        run(reconcile, "schema", "--out", str(schema), "--reference", str(reference), env=env, cwd=Path(tmp))
        if schema.read_text("utf-8") != (REPO / "schemas" / "tenant.schema.json").read_text("utf-8"):
            problems.append("the installed reconcile generates a different tenant schema")
        # The installed wheel tells the demo's story from its own sandbox package (on a copy of the
        # example tenants: the demo writes nothing into them, but the repo must never be its stage).
        shutil.copytree(REPO / "tenants", Path(tmp) / "tenants")
        demo = subprocess.run(
            [reconcile, "demo", "--tenants", str(Path(tmp) / "tenants")],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp,
            timeout=600,
            check=False,
        )
        if demo.returncode != 0:
            problems.append(f"the installed reconcile demo exited {demo.returncode}:\n{demo.stderr[-3000:]}")
    for problem in problems:
        print(f"package-check: {problem}", file=sys.stderr)
    print(
        f"package-check: {'FAILED' if problems else 'ok'} in {time.monotonic() - started:.0f} s",
        file=sys.stderr,
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
