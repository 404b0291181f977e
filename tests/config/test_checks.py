"""Cross-item checks: duplicates and contradictions reported at the repeat, "also at" the first."""

from __future__ import annotations

from reconciler.config.checks import semantic_problems
from reconciler.config.yamlpos import parse_yaml


def check(text: str) -> list[str]:
    doc = parse_yaml(text, "t.yaml")
    return [str(p) for p in semantic_problems(doc.data, doc.positions.locate)]


def test_a_clean_list_has_no_problem() -> None:
    assert check("technicians:\n  - user: a@x.com\n  - user: b@x.com\nrescue_groups:\n  - path: A\n") == []


def test_same_user_twice_even_with_other_case() -> None:
    assert check("technicians:\n  - user: a@x.com\n  - user: A@X.com\n") == [
        "t.yaml:3:11: technicians.1.user: user 'a@x.com' is listed twice; list each Dynamics user once; "
        "also at t.yaml:2:11"
    ]


def test_same_technician_id_for_two_users() -> None:
    text = "technicians:\n  - {user: a@x.com, technician_id: 7}\n  - {user: b@x.com, technician_id: '7'}\n"
    assert check(text) == [
        "t.yaml:3:36: technicians.1.technician_id: technician ID '7' is pinned for two users; a Rescue technician "
        "maps to one Dynamics user; also at t.yaml:2:36"
    ]


def test_two_users_looking_up_one_rescue_email() -> None:
    text = "technicians:\n  - user: a@x.com\n  - {user: b@x.com, rescue_email: a@x.com}\n"
    assert check(text) == [
        "t.yaml:3:35: technicians.1.rescue_email: two users look up the same Rescue technician email 'a@x.com'; "
        "a technician maps to one user; also at t.yaml:2:11"
    ]


def test_same_sso_id_for_two_users() -> None:
    text = "technicians:\n  - {user: a@x.com, sso_id: s}\n  - {user: b@x.com, sso_id: s}\n"
    assert check(text) == [
        "t.yaml:3:29: technicians.1.sso_id: SSO ID 's' is given to two users; SSO IDs identify one technician each; "
        "also at t.yaml:2:29"
    ]


def test_a_repeated_user_is_one_problem_not_three() -> None:
    text = "technicians:\n  - {user: a@x.com, sso_id: s}\n  - {user: a@x.com, sso_id: s}\n"
    assert len(check(text)) == 1


def test_rescue_email_and_technician_id_both_set() -> None:
    text = "technicians:\n  - user: a@x.com\n    rescue_email: b@x.com\n    technician_id: '5'\n"
    assert check(text) == [
        "t.yaml:4:20: technicians.0.technician_id: rescue_email and technician_id are both set; pick one: "
        "technician_id pins the Rescue node, rescue_email looks it up (also at t.yaml:3:19)"
    ]


def test_group_path_twice_ignores_case_and_slashes() -> None:
    assert check("rescue_groups:\n  - path: Support/Tier 1\n  - path: /support/TIER 1/\n") == [
        "t.yaml:3:11: rescue_groups.1.path: group path 'support/TIER 1' is listed twice (paths compare without "
        "case); list each group once; also at t.yaml:2:11"
    ]


def test_create_group_must_be_declared() -> None:
    text = (
        "rescue_groups:\n  - path: Support\n"
        "technicians:\n  - {user: a@x.com, create: {group: support, name: A}}\n"
        "  - {user: b@x.com, create: {group: Sales, name: B}}\n"
    )
    assert check(text) == [
        "t.yaml:5:37: technicians.1.create.group: group 'Sales' is not declared in rescue_groups; declare the "
        "group (add `- path: Sales` under rescue_groups)"
    ]


def test_checks_run_on_the_valid_items_when_others_are_broken() -> None:
    text = "technicians:\n  - user: a@x.com\n  - user: not-an-email\n  - user: a@x.com\n"
    assert check(text) == [
        "t.yaml:4:11: technicians.2.user: user 'a@x.com' is listed twice; list each Dynamics user once; "
        "also at t.yaml:2:11"
    ]


def test_undeclared_group_is_not_claimed_while_a_group_entry_is_broken() -> None:
    text = (
        "rescue_groups:\n  - path: Support\n  - {path: Sales, confirmed: soon}\n"
        "technicians:\n  - {user: a@x.com, create: {group: Sales, name: A}}\n"
    )
    assert check(text) == []


def test_wrong_shapes_are_left_to_the_model() -> None:
    assert check("technicians: 5\nrescue_groups: {a: 1}\n") == []


def test_one_node_pinned_by_two_groups_is_a_located_problem() -> None:
    text = "rescue_groups:\n  - path: Support\n    node_id: '41100'\n  - path: Help\n    node_id: '41100'\n"
    assert check(text) == [
        "t.yaml:5:14: rescue_groups.1.node_id: node_id 41100 is pinned by two groups; a Rescue group has one "
        "path, pin it once; also at t.yaml:3:14"
    ]
    assert check("rescue_groups:\n  - path: A\n    node_id: '1'\n  - path: B\n    node_id: '2'\n") == []
