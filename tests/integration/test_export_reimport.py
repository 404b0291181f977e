"""Review of issue 16 (F6): an exported tenant file passes validate and plans to no change, however
the live group names read: an NFD name is written in NFC, a zero-width character left out, a path
that names several live groups is pinned by node_id, and a group no path can name alone (a '/'
inside its name, a sibling equal but for case or spaces) is left out with a comment."""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import invoke
from .test_ambiguity import CASE_1, _contoso, _fast_clients, _seed, sandbox_of

__all__ = ["_fast_clients", "sandbox_of"]  # fixtures used by name

pytestmark = pytest.mark.integration

HOSTILE = [
    *CASE_1,
    {"name": unicodedata.normalize("NFD", "Café"), "node_id": 41700},
    {"name": "Help\u200bdesk", "node_id": 41710},
]


def test_an_exported_file_validates_and_plans_to_no_change(sandbox_of: Any, tmp_path: Path) -> None:
    handle = sandbox_of(_seed(rescue_groups=HOSTILE, users=[{"domainname": "mallory@contoso.com"}]))
    out = tmp_path / "exported" / "contoso" / "tenant.yaml"
    run = invoke(
        "export",
        str(_contoso(tmp_path)),
        "--tenant",
        "contoso",
        "--sandbox",
        str(handle.state_dir),
        "--out",
        str(out),
    )
    assert run.code == 0, run.output
    text = out.read_text()
    groups = {g["path"]: g.get("node_id") for g in yaml.safe_load(text)["rescue_groups"]}
    assert groups == {
        "Café": None,
        "Helpdesk": None,
        "Support": "41100",
        "Support/Tier 1": None,
        "Support/Tier 2": "41120",
    }
    assert all(unicodedata.is_normalized("NFC", p) for p in groups)
    assert '# - path: "Support/Tier 2"   (node 41900) left out:' in text
    assert '# - path: "SUPPORT"   (node 41950) left out:' in text

    check = invoke("validate", str(out.parent.parent))
    assert check.code == 0, check.output
    plan = invoke("plan", str(out.parent.parent), "--sandbox", str(handle.state_dir), "--detailed-exitcode")
    assert plan.code == 0 and "no changes" in plan.output, plan.output
