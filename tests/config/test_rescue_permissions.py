"""rescue_groups[].permissions: a closed set (setGroup_v2's names), each bad entry located with a hint."""

from __future__ import annotations

from typing import Any


def test_bad_permission_names_are_located_with_a_hint(reconcile: Any, write_tree: Any, acme: str) -> None:
    text = acme.rstrip("\n") + (
        "\n    permissions: [RemoteControl, remotecontrol, Send files, SendFiel, Teleport,"
        " TechEndSessionSurvey, RemoteControl]\n"
    )
    root = write_tree({"tenants/acme/tenant.yaml": text})
    outcome = reconcile(["validate", "tenants"], cwd=root)
    assert outcome.exit_code == 1
    lines = outcome.stderr.splitlines()
    where = "tenants/acme/tenant.yaml:26:"
    perms = "rescue_groups.0.permissions"
    assert lines[:5] == [
        f"{where}34: {perms}.1: 'remotecontrol' is not a Rescue group permission; did you mean RemoteControl?",
        f"{where}49: {perms}.2: 'Send files' is not a Rescue group permission; did you mean SendFile?",
        f"{where}61: {perms}.3: 'SendFiel' is not a Rescue group permission; did you mean SendFile?",
        f"{where}71: {perms}.4: 'Teleport' is not a Rescue group permission "
        "(the names of setGroup_v2's permission parameter)",
        f"{where}81: {perms}.5: TechEndSessionSurvey is documented for setGroup (v1) only: "
        "set it in the Admin Center",
    ], outcome.stderr
    assert "nothing was sent to any API" in lines[-1]


def test_a_permission_listed_twice_is_refused(reconcile: Any, write_tree: Any, acme: str) -> None:
    text = acme.rstrip("\n") + "\n    permissions: [RemoteControl, SendFile, RemoteControl]\n"
    outcome = reconcile(["validate", "tenants"], cwd=write_tree({"tenants/acme/tenant.yaml": text}))
    assert outcome.exit_code == 1
    assert "rescue_groups.0.permissions: permission 'RemoteControl' is listed twice" in outcome.stderr


def test_declared_permissions_validate(reconcile: Any, write_tree: Any, acme: str) -> None:
    text = (
        acme.rstrip("\n") + "\n    permissions: [RemoteControl, UnattendedAccess, ScreenSharingNotAllowed]\n"
    )
    outcome = reconcile(["validate", "tenants"], cwd=write_tree({"tenants/acme/tenant.yaml": text}))
    assert outcome.exit_code == 0, outcome.stderr
