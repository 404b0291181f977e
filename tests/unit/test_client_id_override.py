"""The operator picks the app registration of a run (RECONCILE_CLIENT_ID), not the tenant file:
the GitOps plan and drift jobs sign in as the read-only app (docs/gitops.md, section 2.2)."""

from __future__ import annotations

import pytest

from reconciler.engine.connection import client_id_for
from reconciler.errors import InputError

TENANT_APP = "22222222-3333-4444-8555-666666666666"


def test_the_tenant_files_app_without_the_setting() -> None:
    assert client_id_for(TENANT_APP, {}) == TENANT_APP
    assert client_id_for(TENANT_APP, {"RECONCILE_CLIENT_ID": "  "}) == TENANT_APP


def test_the_operators_app_wins() -> None:
    read_only = "{AAAAAAAA-3333-4444-8555-666666666666}"
    assert client_id_for(TENANT_APP, {"RECONCILE_CLIENT_ID": read_only}) == read_only.strip("{}").lower()


def test_a_setting_that_is_no_guid_is_an_input_error() -> None:
    with pytest.raises(InputError, match="RECONCILE_CLIENT_ID is not a GUID"):
        client_id_for(TENANT_APP, {"RECONCILE_CLIENT_ID": "evil"})
