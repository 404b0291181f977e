"""Issue 16 case 7: every command that writes a file, killed with SIGKILL while it writes, leaves
the old file or the new one, byte for byte, never a third (empty, half-written).

Each command runs as a real `python -m reconciler` subprocess (against a sandbox where it reads
live state). The test watches the target and its folder from the outside (a busy poll of their
`stat`): the first change is the start of the write (a temporary file appearing, or the target
being truncated). It then waits a seeded random delay, spread over how long the write phase of
a complete run took, and SIGKILLs the process. Nothing in the product is told about the test.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from reconciler.atomicfile import TEMP_SUFFIX
from rescue_sandbox import SandboxHandle, running_sandbox

from .conftest import EXAMPLE_TENANTS, REPO, invoke
from .test_apply_support import generated_tenants

pytestmark = pytest.mark.integration

KILLS = 3  # kill points per command that reads live state (plus one complete run: the new content)
KILLS_LOCAL = 8  # for the commands that need no sandbox: their runs are short
# A comment block makes the tenant file large (about 300 kB), so writing it takes long enough
# that a non-atomic write is caught half-done; comments survive the round trip unchanged.
PADDING = "".join(
    f"# padding line {i:06d}: kept by the round trip, makes the file large\n" for i in range(4000)
)


def json_without_times(data: bytes) -> bytes:
    """A saved plan or result, compared without its creation time and with its keys sorted (the
    order of `live_counts` follows the order the concurrent reads ended in). Bytes that are not
    one JSON document (the old file, a half-written one) stay as they are."""
    try:
        document = json.loads(data)
    except ValueError:
        return data
    if isinstance(document, dict):
        document.pop("created_at", None)
    return json.dumps(document, sort_keys=True).encode()


@dataclass
class Case:
    """A writing command, the files it replaces and what they hold before it runs."""

    args: list[str]
    targets: list[Path]
    old: dict[Path, bytes]
    normalise: Callable[[bytes], bytes] = lambda data: data
    kills: int = KILLS

    def restore(self) -> None:
        for path in self.targets:
            if path in self.old:
                path.write_bytes(self.old[path])
            else:
                path.unlink(missing_ok=True)


@pytest.fixture(scope="module")
def demo() -> Iterator[SandboxHandle]:
    with running_sandbox(index_job_seconds=0.05) as handle:
        yield handle


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SandboxHandle, Path]]:
    out = tmp_path_factory.mktemp("generated")
    seed = generated_tenants(out, tenants=1, technicians=300, drift=0.6, rng_seed=16)
    with running_sandbox(seed, index_job_seconds=0.05) as handle:
        yield handle, out / "tenants"


def _padded_tenants(tmp_path: Path, extra: str = "") -> Path:
    tenants = tmp_path / "tenants"
    shutil.copytree(EXAMPLE_TENANTS, tenants)
    path = tenants / "contoso" / "tenant.yaml"
    path.write_text(PADDING + path.read_text() + extra)
    return tenants


def _snapshot(paths: list[Path]) -> tuple[object, ...]:
    seen: list[object] = []
    for path in paths:
        try:
            st = os.stat(path)
        except FileNotFoundError:
            seen.append(None)
            continue
        seen.append((st.st_ino, st.st_size, st.st_mtime_ns))
    return tuple(seen)


def _run(case: Case, *, kill_after: float | None) -> tuple[int, float]:
    """Run the command; with ``kill_after``, SIGKILL it that long after its write began.

    Returns the exit status and how long the write took: from the first change seen to the
    last change of a target (the rename of the temporary file, or the last chunk written).
    """
    watched = [*case.targets, *{p.parent for p in case.targets}]
    before = _snapshot(watched)
    command = [sys.executable, "-m", "reconciler", *case.args]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while (seen := _snapshot(watched)) == before and process.poll() is None:
            assert time.monotonic() < deadline, "the command neither wrote nor ended"
            time.sleep(0.0002)  # a short nap: a spinning poll would take a core from the command
        began = last = time.monotonic()
        if kill_after is not None:
            time.sleep(kill_after)
            process.send_signal(signal.SIGKILL)
        while process.poll() is None:  # a complete run: when did a target last change?
            if (now := _snapshot(watched)) != seen:
                seen, last = now, time.monotonic()
            time.sleep(0.0002)
        return process.wait(timeout=60), last - began
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
        if process.stderr:
            process.stderr.close()


def _check_killed_writes(case: Case, seed: int) -> None:
    case.restore()
    code, window = _run(case, kill_after=None)
    assert code in (0, 2), f"{case.args}: exit {code}"  # health exits 2 when a group loses sessions
    new = {path: path.read_bytes() for path in case.targets}
    assert any(case.old.get(p) != new[p] for p in case.targets)  # the run changes something
    rng = random.Random(seed)
    killed = 0
    for _ in range(case.kills):
        case.restore()
        code, _ = _run(case, kill_after=rng.uniform(0, window * 1.1 + 0.0005))
        killed += code == -signal.SIGKILL
        for path in case.targets:
            now = path.read_bytes() if path.exists() else None
            allowed = {case.normalise(new[path])}
            if path in case.old:
                allowed.add(case.normalise(case.old[path]))
            assert now is not None and case.normalise(now) in allowed, (
                f"{path.name} after a kill: {len(now or b'')} bytes, neither the old "
                f"({len(case.old.get(path, b''))}) nor the new ({len(new[path])}) content"
            )
    assert killed, "every kill came after the command had ended"
    for folder in {p.parent for p in case.targets}:  # a left temporary file is never read as a tenant
        for stray in folder.glob(f"*{TEMP_SUFFIX}"):
            assert stray.name.startswith(".")


def test_profile_discover_write_killed_leaves_the_tenant_file_old_or_new(
    tmp_path: Path, demo: SandboxHandle
) -> None:
    # A wrong profile value that discovery corrects (to the default: the override goes away).
    tenants = _padded_tenants(
        tmp_path, "profile:\n  technician_settings:\n    columns:\n      sso_id: lmi_wrong\n"
    )
    path = tenants / "contoso" / "tenant.yaml"
    args = ["profile", "discover", "--tenant", "contoso", "--write", str(tenants)]
    case = Case([*args, "--sandbox", str(demo.state_dir)], [path], {path: path.read_bytes()})
    _check_killed_writes(case, seed=1)
    assert invoke("validate", str(tenants)).code == 0


def test_export_overwrite_killed_leaves_the_tenant_file_old_or_new(
    tmp_path: Path, demo: SandboxHandle
) -> None:
    tenants = _padded_tenants(tmp_path)
    path = tenants / "contoso" / "tenant.yaml"
    args = ["export", "--tenant", "contoso", str(tenants), "--overwrite", "--sandbox", str(demo.state_dir)]
    _check_killed_writes(Case(args, [path], {path: path.read_bytes()}), seed=2)
    assert invoke("validate", str(tenants)).code == 0


def test_plan_out_killed_leaves_the_saved_plan_old_or_new(
    tmp_path: Path, generated: tuple[SandboxHandle, Path]
) -> None:
    handle, tenants = generated
    out = tmp_path / "plans" / "plan.json"
    out.parent.mkdir()
    out.write_bytes(b'{"an": "older plan"}\n' * 20000)
    args = ["plan", str(tenants), "--out", str(out), "--sandbox", str(handle.state_dir)]
    _check_killed_writes(Case(args, [out], {out: out.read_bytes()}, json_without_times), seed=3)


def test_schema_killed_leaves_both_files_old_or_new(tmp_path: Path) -> None:
    out, reference = tmp_path / "schemas" / "tenant.schema.json", tmp_path / "docs" / "tenant-file.md"
    for path in (out, reference):
        path.parent.mkdir()
        path.write_bytes(b"stale\n" * 100000)
    args = ["schema", "--out", str(out), "--reference", str(reference)]
    old = {p: p.read_bytes() for p in (out, reference)}
    _check_killed_writes(Case(args, [out, reference], old, kills=KILLS_LOCAL), seed=5)


def test_gitops_comment_body_killed_leaves_the_comment_old_or_new(
    tmp_path: Path, generated: tuple[SandboxHandle, Path]
) -> None:
    handle, tenants = generated
    saved = tmp_path / "plan.json"
    assert invoke("plan", str(tenants), "--out", str(saved), "--sandbox", str(handle.state_dir)).code == 0
    out = tmp_path / "comment" / "body.md"
    out.parent.mkdir()
    out.write_bytes(b"an older comment\n" * 100000)
    args = ["gitops", "comment-body", str(saved), "--out", str(out)]
    _check_killed_writes(Case(args, [out], {out: out.read_bytes()}, kills=KILLS_LOCAL), seed=6)
