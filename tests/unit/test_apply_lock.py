"""reconciler/engine/lock.py: one apply per tenant; the second waits within a bound or says who holds it."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path
from typing import Any

import pytest

from reconciler.config import LoadedTenant, load_tenants
from reconciler.engine.lock import LOCK_FILE, apply_locks, lock_path
from reconciler.errors import ApplyLocked, InputError

EXAMPLES = Path(__file__).resolve().parents[2] / "tenants"


@pytest.fixture
def tenants(tmp_path: Path) -> list[LoadedTenant]:
    shutil.copytree(EXAMPLES, tmp_path / "tenants")
    return load_tenants([tmp_path / "tenants"])


def test_the_lock_lives_in_the_tenant_folder_or_the_lock_dir(
    tenants: list[LoadedTenant], tmp_path: Path
) -> None:
    contoso = next(t for t in tenants if t.name == "contoso")
    assert lock_path(contoso) == tmp_path / "tenants" / "contoso" / LOCK_FILE
    assert lock_path(contoso, tmp_path / "locks") == tmp_path / "locks" / ".reconcile-apply.contoso.lock"


def test_a_tenant_given_as_one_file_has_a_lock_of_its_own_name(tmp_path: Path) -> None:
    shutil.copy(EXAMPLES / "contoso" / "tenant.yaml", tmp_path / "contoso.yaml")
    (single,) = load_tenants([tmp_path / "contoso.yaml"])
    assert lock_path(single) == tmp_path / ".reconcile-apply.contoso.lock"


def test_a_held_lock_refuses_a_second_apply_naming_the_holder(tenants: list[LoadedTenant]) -> None:
    with (
        apply_locks(tenants, timeout=0),
        pytest.raises(ApplyLocked) as refused,
        apply_locks(tenants[:1], timeout=0),
    ):
        pytest.fail("two holders of one tenant's lock")
    message = refused.value.format()
    assert "\n" not in message and refused.value.exit_code == 1
    assert f"another apply of tenant {tenants[0].name} holds its lock" in message
    assert f"pid {os.getpid()} on " in message and "nothing was read or written" in message
    assert lock_path(tenants[0]).read_text() == ""  # released, and the holder forgotten
    with apply_locks(tenants, timeout=0):  # free again
        assert lock_path(tenants[0]).read_text().startswith(f"pid {os.getpid()} on ")


def test_other_tenants_are_not_held_up(tenants: list[LoadedTenant]) -> None:
    first, second = tenants
    with apply_locks([first], timeout=0), apply_locks([second], timeout=0):
        pass


def test_the_second_apply_waits_until_the_first_ends(tenants: list[LoadedTenant]) -> None:
    release, done = threading.Event(), threading.Event()
    holding = threading.Event()

    def first() -> None:
        with apply_locks(tenants, timeout=0):
            holding.set()
            release.wait(30)
        done.set()

    told: list[tuple[str, str]] = []

    def on_wait(tenant: str, holder: str) -> None:
        told.append((tenant, holder))
        release.set()  # the first apply ends only once the second is seen waiting

    thread = threading.Thread(target=first)
    thread.start()
    assert holding.wait(30)
    with apply_locks(tenants, timeout=60, on_wait=on_wait):
        assert done.is_set()
    thread.join(30)
    assert told and told[0][0] == min(t.name for t in tenants)
    assert told[0][1].startswith(f"pid {os.getpid()} on ")


def test_a_lock_file_removed_while_held_is_taken_again_at_its_path(tenants: list[LoadedTenant]) -> None:
    """`git clean -X` removes the ignored lock file: the waiter must not lock a file nobody sees."""
    path = lock_path(tenants[0])
    release = threading.Event()
    holding = threading.Event()

    def first() -> None:
        with apply_locks(tenants[:1], timeout=0):
            holding.set()
            release.wait(30)

    def on_wait(tenant: str, holder: str) -> None:
        path.unlink()
        release.set()

    thread = threading.Thread(target=first)
    thread.start()
    assert holding.wait(30)
    with apply_locks(tenants[:1], timeout=60, on_wait=on_wait):
        assert path.exists()
        with pytest.raises(ApplyLocked), apply_locks(tenants[:1], timeout=0):  # the file at the path is held
            pass
    thread.join(30)


def test_a_lock_folder_that_cannot_be_written_is_one_error(
    tenants: list[LoadedTenant], tmp_path: Path
) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("")
    with (
        pytest.raises(InputError, match=r"cannot open the apply lock .*--lock-dir"),
        apply_locks(tenants, lock_dir=blocked / "locks"),
    ):
        pass


def test_another_users_lock_file_that_cannot_be_written_still_locks(
    tenants: list[LoadedTenant], monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a shared checkout the lock file may be another user's (0644): open it read-only."""
    path = lock_path(tenants[0])
    path.write_text("")
    real_open = os.open

    def not_writable(file: Any, flags: int, *args: Any) -> int:
        if Path(file) == path and flags & os.O_RDWR:
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, flags, *args)

    monkeypatch.setattr(os, "open", not_writable)
    with apply_locks(tenants[:1], timeout=0), pytest.raises(ApplyLocked), apply_locks(tenants[:1], timeout=0):
        pass
