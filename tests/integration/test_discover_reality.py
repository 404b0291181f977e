"""Issue 18 point 7: `profile discover` against an org whose metadata is as a real org's
(docs/sandbox.md, "Metadata as a real org has it"): every custom table carries createdby,
modifiedby, owninguser... (lookups to systemuser), virtual ``…name`` columns with no label, the
solution holds roles, forms, views, web resources and plug-in steps, and the caller's UI language
is Italian, so English-only labels have no ``UserLocalizedLabel``. Discover still names exactly
the solution's own columns, and never asks about a system column."""

from __future__ import annotations

import copy

import pytest

from rescue_sandbox import load_seed, running_sandbox
from rescue_sandbox.seed import demo_seed_path

from .conftest import EXAMPLE_TENANTS, control, invoke

pytestmark = pytest.mark.integration


def test_discover_picks_the_solutions_own_columns_in_a_realistic_org() -> None:
    seed = copy.deepcopy(load_seed(demo_seed_path()))
    seed["tenants"]["contoso"]["dataverse"].update({"base_language": 1040, "ui_language": 1040})
    with running_sandbox(seed, index_job_seconds=0.05) as handle:
        control(handle, "DELETE", "/requests")
        sandbox = ("--sandbox", str(handle.state_dir))
        run = invoke("profile", "discover", "--tenant", "contoso", *sandbox, str(EXAMPLE_TENANTS))
        entries = control(handle, "GET", "/requests?tenant=contoso")["entries"]
    assert run.code == 0, run.output
    assert "The org matches the default profile: no `profile:` overrides needed." in run.output
    assert (
        'technician_settings.user_lookup = "lmi_userid"  (the table\'s only custom lookup to systemuser)'
        in run.output
    )
    assert 'session.case_lookup = "lmi_caseid"  (the table\'s only custom lookup to incident)' in run.output
    for system in ("createdby", "modifiedby", "owninguser", "ownerid", "yominame", "candidates"):
        assert system not in run.output, system
    # One look at the targets of each of the solution's own lookups (lmi_userid, lmi_caseid);
    # none at the ten system lookups (createdby, modifiedby, owninguser... on each table).
    asked = [e for e in entries if e["template"].endswith("LookupAttributeMetadata")]
    assert len(asked) == 2, asked
