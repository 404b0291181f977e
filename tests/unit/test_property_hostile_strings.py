"""Property: any unicode in any string field, YAML key or live value gives a located validation
error, or a plan whose text and markdown hold no control character and no markdown structure
from the value.

Each example fuzzes several fields at once (each field hostile or safe), so a few dozen examples
cover every field many times over and the test stays fast. ``test_every_fuzzed_field_reaches_the_output``
proves the fuzzed fields are ones the plan shows (a field that never reaches the output would test
nothing); the few that by design never do are listed with the reason.
"""

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
from reconciler.diff.resolve import Directories, RescueDirectory, resolve
from reconciler.diff.rules import DirectoryTechnician
from reconciler.errors import ConfigErrors
from reconciler.kinds import KINDS
from reconciler.kinds.application_user import ApplicationUser
from reconciler.kinds.integration import IntegrationConfig
from reconciler.kinds.rescue_group import RescueGroup
from reconciler.kinds.rescue_technician import RescueTechnician
from reconciler.kinds.solution import Solution
from reconciler.kinds.technician_settings import TechnicianSettings
from reconciler.plan import Plan, SafetySettings
from reconciler.profile import effective_profile
from reconciler.render import render_markdown, render_text
from reconciler.resources import LiveState

TENANT = """\
tenant: @tenant@
connection:
  dynamics:
    org_url: @org_url@
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
  email: @app_email@
  first_name: @first_name@
  last_name: @last_name@
  business_unit: @business_unit@
  roles: [@role@]
technicians:
  - user: @user@
    technician_id: "41001"
    sso_id: @sso_id@
  - user: bob@acme.com
    rescue_email: @rescue_email@
    create: {group: @group@, name: @tech_name@}
rescue_groups:
  - path: @group@
    export: {url: @export_url@, format: @export_format@}
prune: {@yaml_key@: false}
profile:
  technician_settings: {columns: {sso_id: @profile_column@}}
  session: {key_schema_name: @key_name@}
"""
FIELDS = sorted(set(re.findall(r"@([a-z_]+)@", TENANT)))
SAFE = {
    "tenant": "acme",
    "solution": "LogMeInRescue",
    "package": "rescue.zip",
    "company_id": '"1234567"',
    "app_email": "app@acme.com",
    "first_name": "LogMeIn",
    "last_name": "Integration",
    "business_unit": "Root",
    "role": "LogMeIn Integration User",
    "user": "alice@acme.com",
    "sso_id": "alice",
    "rescue_email": "bob@acme.com",
    "group": "Support",
    "tech_name": "Bob",
    "export_url": "https://dynamics.logmeinrescue.com/api/integration",
    "export_format": "xml",
    "endpoint": "https://dynamics.logmeinrescue.com/api",
    "sso_file": "/etc/reconciler/acme-sso",
    "org_url": "https://acme.crm.dynamics.com",
    "yaml_key": "technicians",
    "profile_column": "lmi_rescuessoid",
    "key_name": "lmi_SessionKey",
}
# Fields the plan never shows, and why (each is still fuzzed: refused, or harmless).
NOT_SHOWN = {
    "sso_file": "a secret reference: never printed",
    "yaml_key": "a key, not a value: a wrong one is refused (shown only in the problem)",
    "profile_column": "a profile override: shown only when the live solution disagrees",
    "key_name": "a profile override: shown only when the live solution disagrees",
    "tech_name": "the name a Rescue technician is created with: the plan shows its e-mail key",
}
# Rescue knows alice (41001) and not bob: bob's technician is planned for creation by e-mail.
DIRECTORIES = Directories(
    rescue=RescueDirectory(technicians=(DirectoryTechnician("41001", "alice@acme.com"),)), users={}
)


def _text(values: dict[str, str]) -> str:
    text = TENANT
    for name in FIELDS:
        text = text.replace(f"@{name}@", values.get(name, SAFE[name]))
    tenant = values.get("tenant", SAFE["tenant"])
    if re.fullmatch(r"[a-z0-9][a-z0-9_-]*", tenant):  # a tenant references only its own secrets
        text = text.replace("ACME_", tenant.upper().replace("-", "_") + "_")
        text = text.replace("/etc/reconciler/acme-sso", f"/etc/reconciler/{tenant}-sso")
    return text


def _plan(text: str, live: LiveState | None = None) -> Plan | None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "tenant.yaml"  # a file on its own: its tenant name is not its folder's
        path.write_text(text, "utf-8")
        (path.parent / "rescue.zip").write_bytes(b"PK")  # `solution.package` must exist beside it
        try:
            (loaded,) = load_tenants([path])
        except ConfigErrors as exc:
            for problem in exc.problems:  # located, and printable
                assert problem.location.line > 0, problem
                assert not CONTROL.search(str(problem)), problem
                assert "\n" not in str(problem), problem
                assert len(problem.message) < 600, problem
            return None
    model = loaded.model
    declared = build_desired(model, effective_profile(model.profile), sso_password=None)
    desired = resolve(model, declared, DIRECTORIES)
    tenant = diff_tenant(
        model.tenant,
        desired,
        live or LiveState(listed=set(KINDS)),
        prune=model.prune,
        entra_tenant_id=model.connection.dynamics.tenant_id,
        desired_digest=loaded.digest,
        safety=SafetySettings(),
    )
    return Plan((tenant,))


def _assert_safe(plan: Plan) -> None:
    assert not CONTROL.search(render_text(plan))
    assert not CONTROL.search(render_text(plan, drift_only=True))
    assert_inert(render_markdown(plan), own_headings=1)


def _written(value: str, escaped: bool) -> str:
    """The value as YAML escapes (`\\u202e`), else as raw characters in quotes."""
    return json.dumps(value, ensure_ascii=escaped)


# Pieces a value may hold that pass validation but mean something to markdown or GitHub; with
# arbitrary unicode beside them (which validation mostly refuses), so both branches are taken.
PIECES = [
    "`",
    "```",
    "**",
    "_",
    "~~",
    "|",
    "\\",
    "#1",
    "## h",
    "<img src=x>",
    "<details>",
    "<!--",
    "&amp;",
    "[x](https://evil.example)",
    "![i](https://evil.example/i.png)",
    "https://evil.example/p",
    "www.evil.example",
    "@evil",
    "evil@example.com",
    ":+1:",
    "$x$",
    "a",
    "b c",
    "é",
    "Ω",
    "-",
]
# What validation must refuse, each named in a past defect: invisible, line-breaking, non-NFC.
SNEAKY = [
    "\u200b",
    "\u200d",
    "\u2060",
    "\ufeff",
    "\U000e0041",
    "\u2028",
    "\u202e",
    "e\u0301",
    "\n::error x::y",
]
NO_SPACE = [p for p in PIECES if " " not in p and "@" not in p]
markup = st.lists(st.sampled_from(PIECES), min_size=1, max_size=5).map("".join).map(str.strip).filter(bool)
local = st.lists(st.sampled_from(NO_SPACE), min_size=1, max_size=4).map("".join)
KIND = {  # field -> what a plausible hostile value looks like
    **dict.fromkeys(("app_email", "user", "rescue_email"), local.map(lambda v: f"{v}@acme.com")),
    **dict.fromkeys(
        ("export_url", "endpoint"),
        st.lists(st.sampled_from(NO_SPACE), max_size=4).map(lambda v: "https://x.example/" + "".join(v)),
    ),
    "org_url": st.sampled_from(["https://evil.example", "https://a.crm4.dynamics.com", "https://ex.ample"]),
    "company_id": st.from_regex(r"[0-9]{1,18}", fullmatch=True).map(json.dumps),
    "export_format": st.sampled_from(["form", "xml", "json"]),
    "yaml_key": st.sampled_from(["technicians", "application_user_roles", "everything"]),
    "package": st.just("rescue.zip"),
    "tenant": st.from_regex(r"[a-z0-9][a-z0-9_-]{0,20}", fullmatch=True),
}


def _hostile(field: str) -> st.SearchStrategy[str]:
    """A value for ``field``: plausible but hostile (written as is when it needs no quotes, else
    quoted), or arbitrary unicode as YAML escapes or raw characters in quotes."""
    plausible = KIND.get(field, markup)
    arbitrary = st.tuples(st.text(max_size=60), st.booleans()).map(lambda t: _written(*t))
    written = plausible.map(lambda v: v if v.startswith('"') else json.dumps(v))
    sneaky = st.tuples(markup, st.sampled_from(SNEAKY), st.booleans()).map(
        lambda t: _written(t[0] + t[1], t[2])
    )
    return st.one_of(written, written, written, written, arbitrary, sneaky)  # mostly plausible: most plan


hostile_values = st.lists(st.sampled_from(FIELDS), min_size=2, max_size=5, unique=True).flatmap(
    lambda names: st.fixed_dictionaries({name: _hostile(name) for name in names})
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile=hostile_values)
def test_any_string_in_any_field_is_refused_or_rendered_inert(hostile: dict[str, str]) -> None:
    plan = _plan(_text(hostile))
    if plan is not None:
        _assert_safe(plan)


# Live values: anything a live system returns, shown in updates, deletes and unmanaged rows.
live_text = st.text(min_size=1, max_size=60)


def _live(values: list[str]) -> LiveState:
    live = LiveState(listed=set(KINDS))
    live.add(Solution(unique_name="LogMeInRescue", version=values[0], managed=True))
    live.add(IntegrationConfig(instance=values[1], endpoint=values[2], company_id=values[3]))
    live.add(
        ApplicationUser(
            app_id="1e2716f5-fee6-4370-a121-baea6d360668",
            first_name=values[4],
            business_unit=values[5],
            roles=frozenset({values[6]}),
        )
    )
    live.add(TechnicianSettings(user=values[7], technician_id=values[0], sso_id=values[1]))
    live.add(RescueTechnician(technician_id="41001", email=values[2], sso_id=values[3]))
    live.add(RescueGroup(path=values[4]))
    return live


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=st.lists(live_text, min_size=8, max_size=8))
def test_any_live_value_is_rendered_inert(values: list[str]) -> None:
    plan = _plan(_text({}), _live(values))
    assert plan is not None
    _assert_safe(plan)


def test_every_fuzzed_live_value_reaches_the_output() -> None:
    markers = [f"zqlive{i}" for i in range(8)]
    plan = _plan(_text({}), _live(markers))
    assert plan is not None
    shown = render_text(plan) + render_markdown(plan)
    assert [m for m in markers if m not in shown] == []


def test_every_fuzzed_field_reaches_the_output() -> None:
    """A field that never reaches the output would test nothing: each shown one is found there."""
    markers = {name: f"zq{index}mark" for index, name in enumerate(FIELDS)}
    written = {
        "tenant": "zq-tenant",
        "package": "zq-package.zip",
        "company_id": '"9876543"',
        "app_email": "zq-app@acme.com",
        "user": "zq-user@acme.com",
        "rescue_email": "zq-bob@acme.com",
        "export_url": "https://dynamics.logmeinrescue.com/zq-export",  # a known host (config/hosts.py)
        "endpoint": "https://dynamicsbeta.logmeinrescue.com/zq-endpoint",
        "org_url": "https://zq-org.crm.dynamics.com",
        "export_format": "form",
    }
    values = {name: written.get(name, markers[name]) for name in FIELDS if name not in NOT_SHOWN}
    text = _text(values).replace("zq-package.zip", "rescue.zip")  # the package file the helper writes
    values["package"] = "rescue.zip"
    plan = _plan(text)
    assert plan is not None
    shown = render_text(plan) + render_markdown(plan)
    missing = [name for name, value in values.items() if value.strip('"') not in shown]
    assert missing == [], missing


def test_the_safe_tenant_plans() -> None:
    plan = _plan(_text({}))
    assert plan is not None and plan.tenants[0].changes


# Only what a folder name can be: encodable as UTF-8 (no lone surrogate, which a filter calling
# ``encode`` would raise on), no separator or NUL, short enough for the file system.
folder_names = st.text(
    st.characters(codec="utf-8", exclude_characters="/\x00"), min_size=1, max_size=60
).filter(lambda n: n not in (".", "..") and not n.startswith(("_", ".")) and len(n.encode()) < 200)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(folder=folder_names)
def test_any_folder_name_is_printed_escaped(folder: str) -> None:
    """A tenant folder's name is printed in every problem located in it: escaped, on one line."""
    with tempfile.TemporaryDirectory() as root:
        path = Path(root) / folder / "tenant.yaml"
        path.parent.mkdir()
        path.write_text(_text({}) + '"a\\nb": 1\n', "utf-8")  # an unknown key: always one problem
        try:
            load_tenants([Path(root)])
        except ConfigErrors as exc:
            shown = exc.format()
        else:
            raise AssertionError("an unknown key passed")
    assert not CONTROL.search(shown), shown
    assert all(line.startswith((root, "error:")) for line in shown.splitlines()), shown
