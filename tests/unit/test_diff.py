"""The diff engine as a specification: desired + live -> exactly these changes."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.config.models import Prune
from reconciler.diff import DesiredState, Directories, RescueDirectory, build_desired, diff_tenant, resolve
from reconciler.diff.resolve import DynamicsUser
from reconciler.diff.rules import DirectoryTechnician
from reconciler.kinds import KINDS
from reconciler.kinds.application_user import ApplicationUser
from reconciler.kinds.consent import Consent
from reconciler.kinds.integration import IntegrationConfig
from reconciler.kinds.rescue_group import ExportSettings, RescueGroup
from reconciler.kinds.rescue_technician import RescueTechnician
from reconciler.kinds.session_key import SessionKey
from reconciler.kinds.solution import Solution
from reconciler.kinds.technician_settings import TechnicianSettings
from reconciler.plan import Action, Create, Delete, Manual, SafetySettings, UnknownChange, Update
from reconciler.profile import default_profile
from reconciler.resources import LiveMeta, LiveState, SecretHasher, Unknown


def live_of(*resources: Any, listed: tuple[str, ...] = KINDS, unknown: tuple[Unknown, ...] = ()) -> LiveState:
    state = LiveState(listed=set(listed))  # type: ignore[arg-type]
    for r in resources:
        state.add(r)
    state.unknown.extend(unknown)
    return state


def run(desired: list[Any], live: LiveState, prune: Prune | None = None, problems: list[str] | None = None):
    return diff_tenant(
        "t",
        DesiredState(resources=desired, problems=problems or []),
        live,
        prune=prune or Prune(),
        entra_tenant_id="6c1f4d5e-2a7b-4c1d-9e3f-0a1b2c3d4e5f",
        desired_digest="d",
        safety=SafetySettings(),
    )


def test_equal_state_has_no_changes() -> None:
    t = TechnicianSettings(user="a@x.com", technician_id="1", sso_id="a")
    plan = run([t], live_of(TechnicianSettings(user="a@x.com", technician_id="1", sso_id="a")))
    assert plan.changes == ()
    assert not plan.has_changes


def test_missing_row_is_a_create_and_field_difference_an_update() -> None:
    plan = run(
        [
            TechnicianSettings(user="a@x.com", technician_id="1", sso_id="a"),
            TechnicianSettings(user="b@x.com", technician_id="2", sso_id="b"),
        ],
        live_of(
            TechnicianSettings(user="b@x.com", technician_id="2", sso_id="old", meta=LiveMeta(etag='W/"7"'))
        ),
    )
    ops = {(c.op, c.key) for c in plan.changes}
    assert ops == {("create", "a@x.com"), ("update", "b@x.com")}
    update = next(c for c in plan.changes if isinstance(c, Update))
    assert [(i.path, i.old, i.new) for i in update.items] == [("sso_id", "old", "b")]
    assert update.planned_version() == 'W/"7"'


def test_none_in_desired_is_not_managed() -> None:
    desired = IntegrationConfig(company_id="1", close_ticket_on_session_end=None)
    live = IntegrationConfig(company_id="1", close_ticket_on_session_end=True)
    assert run([desired], live_of(live)).changes == ()


def test_unknown_live_state_never_becomes_create() -> None:
    desired = [TechnicianSettings(user="a@x.com", technician_id="1")]
    live = live_of(listed=(), unknown=(Unknown("technician", "*", "429 storm"),))
    plan = run(desired, live)
    assert [type(c) for c in plan.changes] == [UnknownChange]
    assert plan.incomplete and not plan.has_changes


def test_kind_not_listed_is_unknown_not_absent() -> None:
    plan = run([Solution(unique_name="S", version="1.0")], live_of(listed=()))
    assert isinstance(plan.changes[0], UnknownChange)


def test_unlisted_rows_are_unmanaged_without_prune_and_deleted_with_it() -> None:
    extra = TechnicianSettings(user="z@x.com", technician_id="9", sso_id="z")
    plan = run([], live_of(extra))
    assert plan.changes == ()
    assert [u.key for u in plan.unmanaged] == ["z@x.com"]
    pruned = run([], live_of(extra), prune=Prune(technicians=True))
    assert [type(c) for c in pruned.changes] == [Delete]
    assert pruned.violations()  # a prune delete needs --force


def test_secret_compared_by_digest_and_never_shown() -> None:
    hasher = SecretHasher()
    desired = IntegrationConfig(sso_password=hasher.sensitive("new", "env:X"))
    live = IntegrationConfig(sso_password=hasher.sensitive("old"))
    (change,) = run([desired], live_of(live)).changes
    assert isinstance(change, Update)
    (item,) = change.items
    assert item.sensitive and item.old is None and item.new is None
    same = IntegrationConfig(sso_password=hasher.sensitive("new"))
    assert run([desired], live_of(same)).changes == ()


def test_roles_added_without_prune_keeps_extra_roles_and_needs_force() -> None:
    desired = ApplicationUser(app_id="a", roles=frozenset({"LogMeIn Integration User"}))
    live = ApplicationUser(app_id="a", roles=frozenset({"Basic User"}))
    plan = run([desired], live_of(live))
    (change,) = plan.changes
    assert isinstance(change, Update)
    assert change.items[0].new == ["Basic User", "LogMeIn Integration User"]
    assert [u.note for u in plan.unmanaged] == ["extra security role 'Basic User' (not declared)"]
    assert any("roles" in v.reason for v in plan.violations())


def test_roles_compare_case_insensitively() -> None:
    desired = ApplicationUser(app_id="a", roles=frozenset({"logmein integration user"}))
    live = ApplicationUser(app_id="a", roles=frozenset({"LogMeIn Integration User"}))
    assert run([desired], live_of(live)).changes == ()


@pytest.mark.parametrize(
    ("live", "expected"),
    [
        (None, Manual),
        (Solution(unique_name="S", version="2.0.9", managed=True), Manual),
        (Solution(unique_name="S", version="2.1.0.0", managed=True), None),
        (Solution(unique_name="S", version="10.0", managed=True), None),
        (Solution(unique_name="S", version="3.0", managed=False), Manual),
    ],
)
def test_solution_version_compares_numerically(live: Solution | None, expected: type | None) -> None:
    desired = Solution(unique_name="S", version="2.1", managed=True)
    plan = run([desired], live_of(*([live] if live else [])))
    assert [type(c) for c in plan.changes] == ([expected] if expected else [])


def test_solution_with_package_is_imported_and_dependants_wait_for_it() -> None:
    desired = [
        Solution(unique_name="S", version="2.1", managed=True, package="s.zip"),
        IntegrationConfig(company_id="1"),
    ]
    plan = run(desired, live_of())
    action, create = plan.changes
    assert isinstance(action, Action) and action.name == "import_solution"
    assert isinstance(create, Create) and create.depends_on == ("solution:S",)


def test_failed_session_key_is_repaired() -> None:
    desired = SessionKey(table="t", key_name="k", status="Active")
    live = SessionKey(
        table="t",
        key_name="k",
        status="Failed",
        meta=LiveMeta(extra=(("async_job", "j1"), ("job_message", "boom"))),
    )
    (change,) = run([desired], live_of(live)).changes
    assert isinstance(change, Action) and change.name == "repair_session_key"
    assert "j1" in change.steps[0] and "boom" in change.reason


def test_group_export_is_manual_unless_confirmed_and_created_groups_always_manual() -> None:
    export = ExportSettings(url="https://e", at_session_start=False, at_session_end=True, format="form")
    unconfirmed = RescueGroup(path="A", export=export)
    confirmed = RescueGroup(path="B", export=export, confirmed="2026-01-01")
    new = RescueGroup(path="C/D", export=export, confirmed="2026-01-01")
    plan = run(
        [unconfirmed, confirmed, RescueGroup(path="C"), new],
        live_of(RescueGroup(path="A"), RescueGroup(path="B")),
    )
    summary = [(c.op, c.key) for c in plan.changes]
    assert summary == [("manual", "A"), ("create", "C"), ("create", "C/D"), ("manual", "C/D")]
    create_child = plan.changes[2]
    assert create_child.depends_on == ("rescue_group:C",)
    assert plan.has_changes  # creates are changes


def test_a_technician_in_a_new_group_with_export_steps_waits_for_the_group_create() -> None:
    export = ExportSettings(url="https://e", at_session_start=False, at_session_end=True, format="form")
    technician = RescueTechnician(technician_id="new:x@y.com", email="x@y.com", create_group="N")
    plan = run([RescueGroup(path="N", export=export), technician], live_of())
    create = next(c for c in plan.changes if c.kind == "rescue_technician")
    assert create.depends_on == ("rescue_group:N",)  # the create, not its manual step


def test_declared_group_permissions_are_set_exactly_and_unread_ones_are_unknown() -> None:
    want = RescueGroup(path="A", permissions=("RemoteControl", "SendFile"))
    same = run([want], live_of(RescueGroup(path="A", permissions=("RemoteControl", "SendFile"))))
    assert same.changes == ()
    (update,) = run([want], live_of(RescueGroup(path="A", permissions=("RemoteControl",)))).changes
    assert isinstance(update, Update)
    assert [(i.path, i.old, i.new) for i in update.items] == [
        ("permissions", ["RemoteControl"], ["RemoteControl", "SendFile"])
    ]
    (unknown,) = run([want], live_of(RescueGroup(path="A"))).changes
    assert isinstance(unknown, UnknownChange) and "not read" in unknown.reason
    # Not declared: an existing group is left as it is, whatever it holds.
    assert (
        run([RescueGroup(path="A")], live_of(RescueGroup(path="A", permissions=("SendURL",)))).changes == ()
    )


def test_manual_steps_alone_are_not_changes() -> None:
    export = ExportSettings(url="https://e", at_session_start=False, at_session_end=True, format="form")
    plan = run([RescueGroup(path="A", export=export)], live_of(RescueGroup(path="A")))
    assert plan.manual and not plan.has_changes


def test_consent_missing_is_a_manual_step_with_the_consent_url() -> None:
    plan = run([Consent(app_id="app", granted=True)], live_of(Consent(app_id="app", granted=False)))
    (step,) = plan.changes
    assert isinstance(step, Manual)
    assert "adminconsent?client_id=app" in " ".join(step.steps)


def test_settings_row_waits_for_its_rescue_technician() -> None:
    desired = [
        RescueTechnician(technician_id="5", sso_id="a"),
        TechnicianSettings(user="a@x.com", technician_id="5", sso_id="a"),
    ]
    plan = run(desired, live_of(RescueTechnician(technician_id="5", sso_id="b")))
    rescue, settings = plan.changes
    assert rescue.kind == "rescue_technician" and settings.depends_on == ("rescue_technician:5",)


def test_threshold_rail_counts_live_objects() -> None:
    live = [TechnicianSettings(user=f"u{i}@x.com", technician_id=str(i), sso_id="s") for i in range(10)]
    desired = [TechnicianSettings(user=f"u{i}@x.com", technician_id=str(i), sso_id="new") for i in range(4)]
    desired += [
        TechnicianSettings(user=f"u{i}@x.com", technician_id=str(i), sso_id="s") for i in range(4, 10)
    ]
    plan = run(desired, live_of(*live))
    assert [v.kind for v in plan.violations()] == ["technician"]
    desired_ok = desired[:3] + [
        TechnicianSettings(user=f"u{i}@x.com", technician_id=str(i), sso_id="s") for i in range(3, 10)
    ]
    assert run(desired_ok, live_of(*live)).violations() == ()


def _resolved(tenant_model: Any, directories: Directories) -> DesiredState:
    declared = build_desired(tenant_model, default_profile(), sso_password=None)
    return resolve(tenant_model, declared, directories)


def test_resolve_maps_emails_and_reports_unknown_ones(tenant_model: Any) -> None:
    directory = RescueDirectory(technicians=(DirectoryTechnician("101", "alice@contoso.com"),))
    desired = _resolved(tenant_model, Directories(rescue=directory))
    settings = [r for r in desired.resources if isinstance(r, TechnicianSettings)]
    assert [(s.user, s.technician_id) for s in settings] == [("alice@contoso.com", "101")]
    assert len(desired.problems) == 4  # bob, carol, dave, erin not in the directory
    assert "carol.jones@contoso.com" in " ".join(desired.problems)


def test_resolve_without_directory_marks_technicians_unknown(tenant_model: Any) -> None:
    desired = _resolved(tenant_model, Directories(rescue=None, rescue_error="x"))
    assert {u.kind for u in desired.unknown} == {"technician"}
    assert not desired.problems


def test_resolve_carries_user_ids_and_locates_unknown_upns(tenant_model: Any) -> None:
    directory = RescueDirectory(technicians=(DirectoryTechnician("101", "alice@contoso.com"),))
    users = {
        t.user: f"id-{i}" for i, t in enumerate(tenant_model.technicians) if t.user != "alice@contoso.com"
    }
    desired = _resolved(
        tenant_model,
        Directories(rescue=directory, users={u: (DynamicsUser(i, u),) for u, i in users.items()}),
    )
    assert not [r for r in desired.resources if isinstance(r, TechnicianSettings)]
    assert "no Dynamics user with UPN 'alice@contoso.com'" in desired.problems[-1]
    found = _resolved(
        tenant_model,
        Directories(
            rescue=directory, users={"alice@contoso.com": (DynamicsUser("u-1", "alice@contoso.com"),)}
        ),
    )
    (row,) = [r for r in found.resources if isinstance(r, TechnicianSettings)]
    assert row.user_id == "u-1" and "user_id" not in row.content()


@pytest.fixture
def tenant_model() -> Any:
    from pathlib import Path

    import yaml

    from reconciler.config.models import Tenant
    from reconciler.profile.model import deep_merge

    root = Path(__file__).resolve().parents[2] / "tenants"
    data = deep_merge(
        yaml.safe_load((root / "_defaults.yaml").read_text()),
        yaml.safe_load((root / "contoso" / "tenant.yaml").read_text()),
    )
    return Tenant.model_validate(data)


def test_declared_but_unresolved_technician_is_never_unmanaged_or_pruned() -> None:
    live = live_of(TechnicianSettings(user="a@x.com", technician_id="1", sso_id="a"))
    desired = DesiredState(problems=["a@x.com: no Rescue technician"], declared={("technician", "a@x.com")})
    plan = diff_tenant(
        "t",
        desired,
        live,
        prune=Prune(technicians=True),
        entra_tenant_id="e",
        desired_digest="d",
        safety=SafetySettings(),
    )
    assert plan.changes == () and plan.unmanaged == ()
    assert plan.incomplete
