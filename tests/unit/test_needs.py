"""What a tenant needs (engine/needs.py), pure: every source of needs contributes, rules like
listed technicians; every part of the tenant model is either a source or needs nothing."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.config import Tenant
from reconciler.engine.needs import (
    GROUP_MEMBERS_PERMISSION,
    MEMBER_PROPERTIES_PERMISSION,
    SERVICE_PRINCIPALS_PERMISSION,
    tenant_needs,
)
from reconciler.engine.schema_check import needed_sections
from reconciler.profile import effective_profile

INTEGRATION = {
    "instance": "production",
    "company_id": "1234567",
    "sso_password": {"env": "SSO"},
    "org_url": "https://contoso.crm.dynamics.com",
    "office365_tenant_id": "6c1f4d5e-2a7b-4c1d-9e3f-0a1b2c3d4e5f",
}
ENTRA_GROUP = "5D0B2F3E-8C1A-4E6B-9F70-1A2B3C4D5E01"
SETTINGS = "lmi_logmeinsettings"
SETTINGS_WRITES = {f"prv{v}{SETTINGS}" for v in ("Read", "Create", "Write", "Append")}
BASE: dict[str, Any] = {
    "tenant": "contoso",
    "connection": {
        "dynamics": {
            "org_url": "https://contoso.crm.dynamics.com",
            "tenant_id": "6c1f4d5e-2a7b-4c1d-9e3f-0a1b2c3d4e5f",
            "client_id": "3f2a1b4c-5d6e-4f70-8a91-b2c3d4e5f607",
            "credential": {"client_secret": {"env": "SECRET"}},
        },
        "rescue": {"api_url": "https://secure.logmeinrescue.com/API", "authcode": {"env": "AUTHCODE"}},
    },
}


def _needs(**declared: Any) -> tuple[Tenant, Any]:
    model = Tenant.model_validate({**BASE, **declared})
    return model, tenant_needs(model, effective_profile(model.profile))


def test_an_empty_tenant_needs_what_every_plan_reads_and_what_doctor_checks_for_health() -> None:
    """Every plan's reads; and, because doctor never calls ready a tenant health finds blocked,
    the integration's prerequisites health reads and admin consent (unless opted out)."""
    _, needs = _needs()
    assert set(needs.privileges) == {
        "prvReadEntity",
        "prvReadBusinessUnit",
        f"prvRead{SETTINGS}",
        "prvReadUser",
        "prvReadRole",
        "prvReadAsyncOperation",
        "prvReadlmi_logmeinsession",
    }
    assert list(needs.graph) == [SERVICE_PRINCIPALS_PERMISSION]
    assert needs.sections == [] and needs.entra_groups == {}
    assert _needs(consent={"check": False})[1].graph == {}  # the tenant opts out of the check


@pytest.mark.parametrize(
    "declared",
    [
        {"technicians": [{"user": "alice@contoso.com"}]},
        {"technician_rules": [{"rescue_group": "Support/Tier 2"}]},
        {"technician_rules": [{"entra_group": ENTRA_GROUP}]},
    ],
    ids=["listed", "rescue-rule", "entra-rule"],
)
def test_every_source_of_technicians_needs_the_settings_table_and_the_users(declared: dict[str, Any]) -> None:
    model, needs = _needs(**declared)
    assert SETTINGS_WRITES | {"prvReadUser", "prvAppendToUser"} <= set(needs.privileges)
    assert f"prvDelete{SETTINGS}" not in needs.privileges
    assert needs.sections == ["technician_settings"] == needed_sections(model)
    source = "technicians" if "technicians" in declared else "technician_rules[0]"
    assert source in needs.why(f"prvWrite{SETTINGS}")


def test_an_entra_rule_needs_its_group_read_in_graph() -> None:
    _, needs = _needs(
        technician_rules=[
            {"entra_group": ENTRA_GROUP},
            {"rescue_group": "Support"},
            {"entra_group": ENTRA_GROUP},
        ]
    )
    assert needs.entra_groups == {ENTRA_GROUP.lower(): ["technician_rules[0]", "technician_rules[2]"]}
    # Listing the members, then reading their UPNs (GroupMember.Read.All alone shows IDs only);
    # consent, checked by default, needs its own permission besides.
    assert [p for p in needs.graph if p != SERVICE_PRINCIPALS_PERMISSION] == [
        GROUP_MEMBERS_PERMISSION,
        MEMBER_PROPERTIES_PERMISSION,
    ]
    assert needs.graph[MEMBER_PROPERTIES_PERMISSION] == [
        f"technician_rules[{i}] (entra_group {ENTRA_GROUP.lower()}): the members' userPrincipalName"
        for i in (0, 2)
    ]
    assert needs.why(f"prvWrite{SETTINGS}") == (
        f"table {SETTINGS}: technician_rules[0] (entra_group), technician_rules[1] (rescue_group), "
        "technician_rules[2] (entra_group)"
    )


def test_pruning_needs_delete_and_the_session_key_repair_deletes_the_failed_job() -> None:
    _, needs = _needs(prune={"technicians": True}, session_key={})
    assert {f"prvDelete{SETTINGS}", "prvDeleteAsyncOperation", "prvCreateEntityKey"} <= set(needs.privileges)
    assert needs.sections == ["session"]


def test_the_other_kinds_and_health_contribute_their_needs() -> None:
    model, needs = _needs(
        solution={"min_version": "2.1", "package": "solution.zip"},
        integration=INTEGRATION,
        application_user={"email": "logmein@contoso.com"},
        consent={},
        connection={
            **BASE["connection"],
            "rescue": {
                **BASE["connection"]["rescue"],
                "reports": {"email": "admin@contoso.com", "password": {"env": "PASSWORD"}},
            },
        },
    )
    expected = {
        "prvReadSolution",
        "prvImportCustomization",
        "prvReadImportJob",
        "prvCreatelmi_rescueconfiguration",
        "prvCreateUser",
        "prvAppendUser",
        "prvAppendToRole",
        "prvReadlmi_logmeinsession",
    }
    assert expected <= set(needs.privileges)
    assert list(needs.graph) == [SERVICE_PRINCIPALS_PERMISSION]
    assert needs.sections == ["integration"] == needed_sections(model)
    # doctor checks the report sign-in health needs (issue 16 review F4).
    assert needs.report_sign_in == ["reconcile health (connection.rescue.reports): the session report"]
    assert _needs()[1].report_sign_in == []


# Parts of the tenant model that need nothing of a service beyond what every run reads (the
# Rescue hierarchy is read with the authcode doctor always checks).
NO_NEEDS = {"tenant", "connection", "rescue_groups", "safety", "profile"}


def test_every_part_of_the_tenant_model_is_a_source_of_needs_or_needs_nothing() -> None:
    """A new kind (a new top-level key) fails here until its kind module states its needs
    (``ResourceKind.needs``)."""
    declared: dict[str, Any] = {
        "solution": {"min_version": "2.1"},
        "integration": INTEGRATION,
        "application_user": {"email": "logmein@contoso.com"},
        "session_key": {},
        "technicians": [{"user": "alice@contoso.com"}],
        "technician_rules": [{"entra_group": ENTRA_GROUP}],
        "consent": {},
        "prune": {"technicians": True},
    }
    assert set(Tenant.model_fields) == set(declared) | NO_NEEDS
    _, empty = _needs()
    for key, value in declared.items():
        _, needs = _needs(**{key: value})
        added = set(needs.privileges) - set(empty.privileges) or set(needs.graph)
        assert added, f"{key}: declares state but needs nothing"
