"""`technician_rules` in tenant files: `reconcile validate` locates every bad rule."""

from __future__ import annotations

from typing import Any

GROUP = "5d0b2f3e-8c1a-4e6b-9f70-1a2b3c4d5e01"


def test_rules_validate_and_bad_ones_are_located(reconcile: Any, write_tree: Any, acme: str) -> None:
    good = (
        acme
        + f"""\
technician_rules:
  - rescue_group: Support
    sso_id: "{{local}}"
  - entra_group: {GROUP.upper()}
    user: "{{local}}@acme.com"
    exclude: [Boss@acme.com]
"""
    )
    root = write_tree({"tenants/acme/tenant.yaml": good})
    outcome = reconcile(["validate"], cwd=root)
    assert outcome.exit_code == 0, outcome.stderr
    assert outcome.stdout.strip() == "acme: ok (2 technicians, 2 technician rules, 1 rescue group, 1 file)"

    bad = (
        acme
        + f"""\
technician_rules:
  - rescue_group: Support
    sso_id: "{{nickname}}"
  - entra_group: {GROUP}
    sso_id: "{{node_id}}"
  - rescue_group: Support
    entra_group: {GROUP}
  - entra_group: not-a-guid
  - rescue_group: Support
    user: "{{email!r}}"
  - rescue_group: Sales
  - rescue_group: sales
"""
    )
    root = write_tree({"tenants/acme/tenant.yaml": bad})
    outcome = reconcile(["validate"], cwd=root)
    assert outcome.exit_code == 1
    lines = outcome.stderr.splitlines()
    where = "tenants/acme/tenant.yaml"

    def line(n: int) -> str:
        return next(x for x in lines if f"{where}:{n}:" in x)

    start = len(acme.splitlines()) + 2  # the line of the first rule
    assert "technician_rules.0.sso_id" in line(start + 1) and "unknown placeholder {nickname}" in line(
        start + 1
    )
    assert "technician_rules.1" in line(start + 2) and "{node_id}" in line(start + 2)
    assert "exactly one source" in line(start + 4)
    assert "technician_rules.3.entra_group" in line(start + 6)
    assert "technician_rules.4.user" in line(start + 8) and "{name} only" in line(start + 8)
    assert "technician_rules.6.rescue_group" in line(start + 10) and "used by two technician rules" in line(
        start + 9
    )
