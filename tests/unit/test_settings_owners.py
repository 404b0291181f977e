"""Review of issue 16 (F1), pure side: a settings row is its owner's (by systemuserid); rows of
users sharing a UPN are never narrowed down by date, and the comparison takes the one of the
user the tenant files resolve the UPN to, or creates that user's own."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from reconciler.config.models import Prune
from reconciler.diff import DesiredState, diff_tenant
from reconciler.kinds.technician_settings import TechnicianSettings, mapped_technician_ids
from reconciler.plan import Delete, SafetySettings, Update
from reconciler.profile import default_profile
from reconciler.providers.dynamics.reading import DynamicsLive
from reconciler.providers.dynamics.settings import settings_from_rows
from reconciler.providers.dynamics.settings_read import share_rows, users_by_upn
from reconciler.resources import LiveMeta, LiveState
from reconciler.resources.matching import name_key

PROFILE = default_profile()
OLD = "dddddddd-0000-4000-8000-000000000004"
NEW = "aaaaaaaa-0000-4000-8000-000000000001"
DAVE = "dave@contoso.com"


def _row(row_id: str, user: str, modified: str) -> dict[str, str]:
    ts = PROFILE.technician_settings
    return {
        ts.id_column: row_id,
        ts.user_value_column: user,
        ts.columns["sso_id"]: row_id,
        "modifiedon": modified,
    }


def test_rows_of_users_sharing_a_upn_are_all_kept_none_chosen() -> None:
    rows = [_row("r-old", OLD, "2026-03-01"), _row("r-new", NEW, "2026-01-01")]
    result = settings_from_rows(rows, {OLD: DAVE, NEW: DAVE}, PROFILE)
    assert result.by_user == {} and result.duplicates == []
    assert {(r.meta.id, r.user_id) for r in result.shared[DAVE]} == {("r-old", OLD), ("r-new", NEW)}


def _plan(live: LiveState, want: TechnicianSettings, prune: bool = False) -> list[tuple[str, str]]:
    desired = DesiredState(resources=[want] if want.user else [])
    if want.user:
        desired.declared.add(want.ident)
    live.listed.add("technician")
    plan = diff_tenant(
        "t",
        desired,
        live,
        prune=Prune(technicians=prune),
        entra_tenant_id="",
        desired_digest="",
        safety=SafetySettings(),
    )
    return [(c.op, c.id) for c in plan.changes] + [("unmanaged", u.key) for u in plan.unmanaged]


def _live(*rows: TechnicianSettings, shared: bool) -> LiveState:
    live = LiveState()
    if shared:
        live.shared[("technician", DAVE)] = rows
    else:
        for row in rows:
            live.add(row)
    return live


def _settings(user_id: str, sso: str, row_id: str = "") -> TechnicianSettings:
    meta = LiveMeta(id=row_id, etag="1") if row_id else LiveMeta()
    return TechnicianSettings(user=DAVE, technician_id="41004", sso_id=sso, user_id=user_id, meta=meta)


def test_another_users_row_under_the_upn_is_never_updated_into_this_ones() -> None:
    live = _live(_settings(OLD, "old", "r-old"), shared=False)
    assert _plan(live, _settings(NEW, "dave")) == [("create", f"technician:{DAVE}")]


def test_the_row_of_the_resolved_user_among_shared_rows_is_the_live_row() -> None:
    rows = (_settings(OLD, "old", "r-old"), _settings(NEW, "dave", "r-new"))
    assert _plan(_live(*rows, shared=True), _settings(NEW, "dave")) == []
    assert _plan(_live(*rows, shared=True), _settings(NEW, "other")) == [("update", f"technician:{DAVE}")]
    assert _plan(_live(rows[0], shared=True), _settings(NEW, "dave")) == [("create", f"technician:{DAVE}")]


def test_shared_rows_nothing_declares_are_unmanaged_never_pruned() -> None:
    rows = (_settings(OLD, "old", "r-old"), _settings(NEW, "dave", "r-new"))
    nothing = TechnicianSettings(user="")
    assert _plan(_live(*rows, shared=True), nothing, prune=True) == [("unmanaged", DAVE)]


def test_shared_rows_still_map_their_technicians_for_health_and_export() -> None:
    live = _live(_settings(OLD, "old", "r-old"), _settings(NEW, "dave", "r-new"), shared=True)
    assert mapped_technician_ids(live, {"41004"}) == ["41004"]
    assert [r.meta.id for r in live.every("technician")] == ["r-old", "r-new"]


# Property: over users sharing UPNs (some disabled) and their rows, a row is only ever updated for
# its own user and never deleted unless it is the one row of an undeclared UPN's one user.
UPNS = ("dave@contoso.com", "erin@contoso.com")
user_strategy = st.lists(st.tuples(st.sampled_from(UPNS), st.booleans()), min_size=1, max_size=5)


@given(
    users=user_strategy,
    owners=st.lists(st.integers(0, 4), max_size=6),
    pinned=st.integers(0, 4),
    prune=st.booleans(),
)
def test_no_change_targets_another_users_row(
    users: list[tuple[str, bool]], owners: list[int], pinned: int, prune: bool
) -> None:
    ids = [f"00000000-0000-4000-8000-{i:012d}" for i in range(len(users))]
    user_rows = [
        {"systemuserid": i, "domainname": upn, "isdisabled": off}
        for i, (upn, off) in zip(ids, users, strict=True)
    ]
    rows = [_row(f"r{n}", ids[o % len(ids)], f"2026-01-{n + 1:02d}") for n, o in enumerate(owners)]
    read = settings_from_rows(rows, {i: upn for i, (upn, _) in zip(ids, users, strict=True)}, PROFILE)
    live = DynamicsLive()
    for resource in read.by_user.values():
        live.state.add(resource)
    live.state.shared.update({("technician", upn): found for upn, found in read.shared.items()})
    live.users_by_upn = users_by_upn(user_rows, {name_key(u) for u in UPNS})
    share_rows(live)
    me = ids[pinned % len(ids)]
    want = TechnicianSettings(user=users[pinned % len(ids)][0], technician_id="9", sso_id="new", user_id=me)
    desired = DesiredState(resources=[want])
    desired.declared.add(want.ident)
    plan = diff_tenant(
        "t",
        desired,
        live.state,
        prune=Prune(technicians=prune),
        entra_tenant_id="",
        desired_digest="",
        safety=SafetySettings(),
    )
    shared_upns = {upn for upn, found in live.users_by_upn.items() if len(found) > 1}
    for change in plan.changes:
        if isinstance(change, Update):
            assert isinstance(change.live, TechnicianSettings) and change.live.user_id == me
        if isinstance(change, Delete):
            assert change.key != want.user and name_key(change.key) not in shared_upns
