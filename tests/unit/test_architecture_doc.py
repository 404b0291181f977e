"""docs/ARCHITECTURE.md stays true: every `path.py:function` it names exists, and its worked
example (a new integration option touches three product modules) holds."""

from __future__ import annotations

import ast
import dataclasses
import re
import typing
from pathlib import Path

from reconciler.config.models import IntegrationOptions
from reconciler.kinds.integration import IntegrationConfig
from reconciler.profile.columns import columns_of
from reconciler.profile.model import IntegrationColumns
from reconciler.providers.dynamics.integration import INTEGRATION_FIELDS

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "ARCHITECTURE.md"
REFERENCE = re.compile(r"(reconciler/[\w/]+\.py):([A-Za-z_][\w.]*)")


def _defined(tree: ast.Module, dotted: str) -> bool:
    scope: list[ast.stmt] = tree.body
    for part in dotted.split("."):
        found = next(
            (
                node
                for node in scope
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
                and node.name == part
            ),
            None,
        )
        if found is None:
            return False
        scope = found.body
    return True


def test_every_function_the_walk_names_exists() -> None:
    references = REFERENCE.findall(DOC.read_text("utf-8"))
    assert len(references) >= 20
    missing = []
    for path, name in references:
        source = ROOT / path
        if not source.is_file() or not _defined(ast.parse(source.read_text("utf-8")), name):
            missing.append(f"{path}:{name}")
    assert missing == []


def test_a_new_integration_option_needs_only_model_resource_and_profile() -> None:
    options = set(IntegrationOptions.model_fields)
    hints = typing.get_type_hints(IntegrationConfig)
    booleans = {name for name in INTEGRATION_FIELDS if hints[name] == bool | None}
    assert options == booleans
    assert {f.name for f in dataclasses.fields(IntegrationConfig)} >= options
    assert set(INTEGRATION_FIELDS) <= set(IntegrationColumns.model_fields)
    # The column table is the one list: the profile type has exactly its roles.
    assert set(IntegrationColumns.model_fields) == {c.role for c in columns_of("integration")}
