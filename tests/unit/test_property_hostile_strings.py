"""Property: any unicode in any string field gives a located validation error, or a plan whose
text and markdown hold no control character and no markdown structure from the value."""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markdown_checks import CONTROL, assert_inert

from reconciler.config import load_tenants
from reconciler.diff import build_desired, diff_tenant
from reconciler.diff.resolve import Directories, resolve
from reconciler.errors import ConfigErrors
from reconciler.plan import Plan, SafetySettings
from reconciler.profile import effective_profile
from reconciler.render import render_markdown, render_text
from reconciler.resources import KINDS, LiveState

TENANT = """\
tenant: acme
connection:
  dynamics:
    org_url: https://acme.crm.dynamics.com
    tenant_id: 11111111-2222-4333-8444-555555555555
    client_id: 22222222-3333-4444-8555-666666666666
    credential: {client_secret: {env: ACME_SECRET}}
  rescue: {authcode: {env: ACME_AUTHCODE}}
solution: {min_version: 2.1.0.0, unique_name: @solution@, package: @package@}
integration:
  instance: production
  company_id: @company_id@
  endpoint: @endpoint@
  sso_password: {file: @sso_file@}
  org_url: @org_url@
  office365_tenant_id: 11111111-2222-4333-8444-555555555555
application_user:
  email: app@acme.com
  first_name: @first_name@
  last_name: @last_name@
  business_unit: @business_unit@
  roles: [@role@]
technicians:
  - user: alice@acme.com
    technician_id: "41001"
    sso_id: @sso_id@
  - user: bob@acme.com
    rescue_email: @rescue_email@
    create: {group: @group@, name: @tech_name@}
rescue_groups:
  - path: @group@
    export: {url: @export_url@}
profile:
  technician_settings: {columns: {sso_id: @profile_column@}}
  session: {key_schema_name: @key_name@}
"""
FIELDS = re.findall(r"@([a-z_]+)@", TENANT)
SAFE = {
    "solution": "LogMeInRescue",
    "package": "rescue.zip",
    "company_id": '"1234567"',
    "first_name": "LogMeIn",
    "last_name": "Integration",
    "business_unit": "Root",
    "role": "LogMeIn Integration User",
    "sso_id": "alice",
    "rescue_email": "bob@acme.com",
    "group": "Support",
    "tech_name": "Bob",
    "export_url": "https://dynamics.logmeinrescue.com/api/integration",
    "endpoint": "https://dynamics.logmeinrescue.com/api",
    "sso_file": "/etc/reconciler/sso",
    "org_url": "https://acme.crm.dynamics.com",
    "profile_column": "lmi_rescuessoid",
    "key_name": "lmi_SessionKey",
}


def _plan(text: str) -> Plan | None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "acme" / "tenant.yaml"
        path.parent.mkdir()
        path.write_text(text, "utf-8")
        (path.parent / "rescue.zip").write_bytes(b"PK")  # `solution.package` must exist in the folder
        try:
            (loaded,) = load_tenants([Path(folder)])
        except ConfigErrors as exc:
            for problem in exc.problems:  # located, and printable
                assert problem.location.line > 0, problem
                assert not CONTROL.search(str(problem)), problem
                assert len(problem.message) < 600, problem
            return None
    model = loaded.model
    declared = build_desired(model, effective_profile(model.profile), sso_password=None)
    desired = resolve(model, declared, Directories(rescue=None, rescue_error="not read"))
    tenant = diff_tenant(
        "acme",
        desired,
        LiveState(listed=set(KINDS)),
        prune=model.prune,
        entra_tenant_id=model.connection.dynamics.tenant_id,
        desired_digest=loaded.digest,
        safety=SafetySettings(),
    )
    return Plan((tenant,))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(field=st.sampled_from(sorted(set(FIELDS))), value=st.text(max_size=80), escaped=st.booleans())
def test_any_string_in_any_field_is_refused_or_rendered_inert(field: str, value: str, escaped: bool) -> None:
    """``escaped``: the value as YAML escapes (`\\u202e`), else as raw characters in quotes."""
    written = json.dumps(value, ensure_ascii=escaped)
    text = TENANT
    for name in FIELDS:
        text = text.replace(f"@{name}@", written if name == field else SAFE[name])
    plan = _plan(text)
    if plan is None:
        return
    assert not CONTROL.search(render_text(plan))
    assert_inert(render_markdown(plan), own_headings=1)


def test_the_safe_tenant_plans() -> None:
    text = TENANT
    for name in FIELDS:
        text = text.replace(f"@{name}@", SAFE[name])
    plan = _plan(text)
    assert plan is not None and plan.tenants[0].changes
