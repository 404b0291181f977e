"""Nothing declared is ever silently ignored (issue 17).

Every field of every kind's resource type is identity, compared, or explicitly not compared
(with the reason) in its kind module; and every compared field, changed on the live side, is a
planned change of that object.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from typing import Any, ClassVar

import pytest
from pydantic import BaseModel

from reconciler.config.models import IntegrationOptions, Prune, Tenant
from reconciler.diff import DesiredState, diff_tenant
from reconciler.kinds import (
    KINDS,
    REGISTRY,
    DesiredContext,
    ExportContext,
    ResourceKind,
    field_coverage_problems,
    kind_of,
)
from reconciler.kinds.application_user import ApplicationUser
from reconciler.kinds.consent import Consent
from reconciler.kinds.integration import IntegrationConfig
from reconciler.kinds.rescue_group import ExportSettings, RescueGroup
from reconciler.kinds.rescue_technician import RescueTechnician
from reconciler.kinds.session_key import SessionKey
from reconciler.kinds.solution import Solution
from reconciler.kinds.technician_settings import TechnicianSettings
from reconciler.plan import Action, Manual, SafetySettings, Update
from reconciler.resources import LiveState, Resource, SecretHasher, Sensitive

_HASHER = SecretHasher(b"k" * 32)

# One desired resource per kind with every compared field set (None would mean "not managed").
EXAMPLES: dict[str, Resource] = {
    "solution": Solution(unique_name="LogMeInRescue", version="2.0.0", managed=True),
    "integration": IntegrationConfig(
        instance="production",
        endpoint="https://secure.logmeinrescue.com",
        company_id="123",
        sso_password=_HASHER.sensitive("pw", "env:PW"),
        org_url="https://contoso.crm.dynamics.com",
        office365_tenant_id="6c1f4d5e-2a7b-4c1d-9e3f-0a1b2c3d4e5f",
        require_active_technician_console=True,
        close_ticket_on_session_end=False,
        reassign_case_on_session_start=True,
        do_not_pass_custom_field_1=False,
    ),
    "application_user": ApplicationUser(
        app_id="a1b2c3d4-0000-4000-8000-000000000001",
        first_name="LogMeIn",
        last_name="Integration",
        email="app@contoso.com",
        business_unit="contoso",
        roles=frozenset({"LogMeIn Rescue Integration"}),
    ),
    "session_key": SessionKey(table="lmi_session", key_name="lmi_sessionkey", status="Active"),
    "rescue_group": RescueGroup(path="Support/Tier 1", permissions=("chat", "remote_control")),
    "rescue_technician": RescueTechnician(technician_id="101", email="alice@contoso.com", sso_id="alice"),
    "technician": TechnicianSettings(user="alice@contoso.com", technician_id="101", sso_id="alice"),
    "consent": Consent(app_id="a1b2c3d4-0000-4000-8000-000000000002", granted=True),
}

# Live values where a generic perturbation would not read as a difference to the kind's rule.
LIVE_VALUES: dict[tuple[str, str], Any] = {
    ("solution", "version"): "1.0.0",  # a minimum: an older live version is a difference
}

# Kinds whose special rule makes a difference an action or a manual step, not an update.
NOT_UPDATES: dict[str, tuple[type, ...]] = {
    "solution": (Action, Manual),
    "session_key": (Action,),
    "consent": (Manual,),
}


def _perturbed(value: Any) -> Any:
    """A value of the same type that differs from ``value``."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, str):
        return value + "-other"
    if isinstance(value, Sensitive):
        return _HASHER.sensitive("another password", value.ref)
    if isinstance(value, frozenset):
        return frozenset({"Another Role"})
    if isinstance(value, tuple):
        return value[:-1]
    raise AssertionError(f"no perturbation for {value!r}: add one here")


def _plan(want: Resource, have: Resource | None) -> Any:
    live = LiveState(listed=set(KINDS))
    if have is not None:
        live.add(have)
    return diff_tenant(
        "t",
        DesiredState(resources=[want]),
        live,
        prune=Prune(),
        entra_tenant_id="6c1f4d5e-2a7b-4c1d-9e3f-0a1b2c3d4e5f",
        desired_digest="d",
        safety=SafetySettings(),
    )


def test_every_field_of_every_kind_is_compared_or_excluded() -> None:
    problems = {
        kind.name: field_coverage_problems(kind.type, kind.compared, kind.not_compared) for kind in REGISTRY
    }
    assert problems == {kind.name: [] for kind in REGISTRY}


def test_every_kind_has_an_example_with_every_compared_field_set() -> None:
    assert set(EXAMPLES) == set(KINDS)
    for kind in REGISTRY:
        example = EXAMPLES[kind.name]
        assert isinstance(example, kind.type)
        assert all(getattr(example, name) is not None for name in kind.compared), kind.name


def test_an_unchanged_live_copy_plans_nothing() -> None:
    for kind in REGISTRY:
        example = EXAMPLES[kind.name]
        assert _plan(example, example).changes == (), kind.name


@pytest.mark.parametrize(
    ("kind_name", "field"),
    [(kind.name, name) for kind in REGISTRY for name in kind.compared],
)
def test_a_compared_field_changed_live_is_a_planned_change(kind_name: str, field: str) -> None:
    want = EXAMPLES[kind_name]
    live_value = LIVE_VALUES.get((kind_name, field), _perturbed(getattr(want, field)))
    have = dataclasses.replace(want, **{field: live_value})
    changes = [c for c in _plan(want, have).changes if (c.kind, c.key) == want.ident]
    assert changes, f"{kind_name}.{field} changed live: nothing planned"
    expected = NOT_UPDATES.get(kind_name, (Update,))
    assert all(isinstance(c, expected) for c in changes), changes
    for change in changes:
        if isinstance(change, Update):
            assert field in [item.path for item in change.items]
    if any(isinstance(c, Manual) for c in changes):  # the fleet checklist must know the kind
        assert kind_of(kind_name).manual_steps


def test_a_kind_whose_comparison_ends_in_a_manual_step_says_so() -> None:
    """Absent live, or the example's compared fields all changed: a manual step means
    ``manual_steps`` (else ``reconcile manual`` would not say a tenant's steps are unknown)."""
    for kind in REGISTRY:
        want = EXAMPLES[kind.name]
        if kind.name == "rescue_group":  # its step comes with a declared export
            want = dataclasses.replace(want, export=ExportSettings("https://x.example", True, False, "xml"))
        plan = _plan(want, None)
        manual = any(isinstance(c, Manual) for c in plan.changes)
        assert manual == kind.manual_steps, kind.name


# -- a field declared in the tenant model reaches the resource type ---------------------------

# Fields of a kind's tenant-file section that are not fields of its resource type, and why: a
# new field of the section (`description:` on a Rescue group) is a field of the type too, or it
# is listed here, else it would be declared and silently never compared.
TENANT_ONLY: dict[tuple[str, str], str] = {
    ("solution", "min_version"): "becomes the type's `version` (a minimum, the solution's own rule)",
    ("integration", "options"): "its fields are the type's fields of the same names (checked below)",
    ("integration", "other_org_url"): "allows another org's URL: a check of the tenant files, not a setting",
    ("session_key", "wait_seconds"): "how long apply waits for the key's index job, not a setting",
    ("rescue_group", "node_id"): "pins which live group a path names (the read), not a setting",
    ("technician", "create"): "becomes a Rescue technician to create (kind rescue_technician)",
    ("technician", "dynamics_user_id"): "pins the Dynamics user (resolved to the type's `user_id`)",
    ("technician", "rescue_email"): "the Rescue e-mail resolved to the type's `technician_id`",
    ("consent", "check"): "whether consent is checked at all: nothing is declared without it",
}


def _section_model(kind: ResourceKind) -> type[BaseModel]:
    assert kind.section is not None
    annotation = Tenant.model_fields[kind.section].annotation
    candidates = [typing.get_args(a) or (a,) for a in typing.get_args(annotation) or (annotation,)]
    return next(m for group in candidates for m in group if isinstance(m, type) and issubclass(m, BaseModel))


def test_every_field_of_a_kinds_section_reaches_its_resource_type() -> None:
    problems = []
    for kind in REGISTRY:
        if kind.section is None:
            continue
        fields = {f.name for f in dataclasses.fields(kind.type)}
        for name in _section_model(kind).model_fields:
            if name not in fields and (kind.name, name) not in TENANT_ONLY:
                problems.append(f"{kind.name}: tenant field {name!r} is not a field of {kind.type.__name__}")
    integration = {f.name for f in dataclasses.fields(IntegrationConfig)}
    problems += [
        f"integration: option {name!r} is not a field of IntegrationConfig"
        for name in IntegrationOptions.model_fields
        if name not in integration
    ]
    assert problems == []


def test_every_tenant_only_entry_is_still_a_tenant_field() -> None:
    for kind_name, name in TENANT_ONLY:
        kind = kind_of(kind_name)
        assert name in _section_model(kind).model_fields, (kind_name, name)
        assert name not in {f.name for f in dataclasses.fields(kind.type)}, (kind_name, name)


# -- the check itself refuses a kind that forgets a field -------------------------------------


@dataclass(frozen=True, slots=True)
class _Widget(Resource):
    kind: ClassVar[Any] = "widget"
    key_fields: ClassVar[tuple[str, ...]] = ("name",)
    name: str
    colour: str | None = None
    size: int | None = None


def test_a_field_neither_compared_nor_excluded_is_refused() -> None:
    assert field_coverage_problems(_Widget, ("colour",), {}) == [
        "field 'size' of _Widget is neither compared nor in not_compared"
    ]


def test_an_exclusion_needs_a_reason_and_an_existing_field() -> None:
    assert field_coverage_problems(_Widget, ("colour", "size"), {"colour": " ", "weight": "why"}) == [
        "'weight' is not a field of _Widget",
        "field 'colour' is both compared and not compared",
        "field 'colour' is excluded without a reason",
        "excluded field 'colour' has compare=True on the type",
    ]


def test_the_compared_fields_are_the_hashed_fields() -> None:
    """A live object without an ETag is versioned by a hash of its ``compare=True`` fields."""
    assert field_coverage_problems(_Widget, ("colour",), {"size": "write-only"}) == [
        "excluded field 'size' has compare=True on the type"
    ]


def test_a_kind_module_that_forgets_a_field_fails_to_define() -> None:
    with pytest.raises(TypeError, match="field 'size' of _Widget is neither compared nor in not_compared"):

        class ForgetfulKind(ResourceKind):  # defining it is the test
            type = _Widget
            title = "widget"
            section = None
            compared = ("colour",)
            not_compared: ClassVar[dict[str, str]] = {}

            def desired(self, tenant: Tenant, context: DesiredContext) -> list[Resource]:
                return []

            def export(self, context: ExportContext) -> list[str]:
                return []


def test_a_kind_module_that_forgets_a_hook_cannot_be_made() -> None:
    class NoExport(ResourceKind):
        type = _Widget
        title = "widget"
        section = None
        compared = ("colour", "size")
        not_compared: ClassVar[dict[str, str]] = {}

        def desired(self, tenant: Tenant, context: DesiredContext) -> list[Resource]:
            return []

    with pytest.raises(TypeError, match="abstract"):
        NoExport()  # type: ignore[abstract]
