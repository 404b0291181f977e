"""Review of issue 16 (F6), pure side: the rescue_group kind's export over hostile live names."""

from __future__ import annotations

from collections.abc import Mapping

import yaml

from reconciler.kinds.base import ExportContext
from reconciler.kinds.rescue_group import KIND
from reconciler.profile import default_profile
from reconciler.resources import LiveState


def _export(names: Mapping[str, tuple[str, ...]]) -> tuple[dict[str, str | None], str]:
    context = ExportContext(
        live=LiveState(),
        profile=default_profile(),
        node_emails={},
        group_names=names,
        root_business_unit=None,
        org_url="https://x.crm.dynamics.com",
        entra_tenant_id="t",
        sso_password_ref="P",
    )
    text = "\n".join(KIND.export(context))
    return {g["path"]: g.get("node_id") for g in yaml.safe_load(text)["rescue_groups"]}, text


def test_hostile_names_are_written_validly_pinned_or_left_out_with_their_descendants() -> None:
    groups, text = _export(
        {
            "1": ("Support",),
            "2": ("Support", "Tier 1"),
            "3": ("support",),  # the same path but for case: only one is listed
            "4": ("support", "Tier 1"),  # the path of node 2 too: pinned apart
            "5": ("A/B",),  # a '/' inside the name
            "6": ("A/B", "C"),  # below it: no path names it alone
            "7": ("..",),
            "8": ("x" * 200,),
            "9": ("Help\u200bdesk ",),
        }
    )
    assert groups == {"Support": "1", "Support/Tier 1": "2", "Helpdesk": None}
    for node in ("3", "4", "5", "6", "7", "8"):
        assert f"(node {node}) left out:" in text
    assert "\n" not in "".join(line for line in text.splitlines() if "left out" in line)
    assert "# the path also names node 3" in text


def test_a_path_of_one_group_is_written_without_a_pin() -> None:
    groups, text = _export({"1": ("Support",), "2": ("Support", "Tier 1")})
    assert groups == {"Support": None, "Support/Tier 1": None} and "left out" not in text
