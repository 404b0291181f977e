"""Plan as versioned JSON (docs/plan-format.md)."""

from __future__ import annotations

import json

from reconciler.plan import Plan, encode_plan


def render_json(plan: Plan) -> str:
    return json.dumps(encode_plan(plan), indent=2, sort_keys=False, default=str) + "\n"
