"""docs/ARCHITECTURE.md stays true: every `path.py:function` it names exists, and its worked
example (a new integration option touches three product modules) holds."""

from __future__ import annotations

import ast
import dataclasses
import os
import re
import shutil
import subprocess
import sys
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


# -- the worked examples: the files the doc lists are all a field needs -------------------------
#
# Each example's edits, applied in a copy of the tree to exactly the files listed. Product
# modules (reconciler/*.py) are what the doc's "Edit" list names; the rest is data the product
# reads (the solution profile), the emulated service's own knowledge (rescue_sandbox/, not
# product code), generated files (`reconcile schema`) and the kind's test example.

Edit = tuple[str, str, str]  # (file, text found once, the text that replaces it)

SHOW_SURVEY: tuple[Edit, ...] = (
    (
        "reconciler/config/models.py",
        '        default=None, description="Do not pass custom field 1 to Rescue."\n    )\n',
        '        default=None, description="Do not pass custom field 1 to Rescue."\n    )\n'
        '    show_survey: bool | None = Field(default=None, description="Show the survey when a session ends.")\n',
    ),
    (
        "reconciler/kinds/integration.py",
        "    do_not_pass_custom_field_1: bool | None = None\n",
        "    do_not_pass_custom_field_1: bool | None = None\n    show_survey: bool | None = None\n",
    ),
    (
        "reconciler/profile/columns.py",
        '        ("Non passare il campo personalizzato 1",),\n    ),\n',
        '        ("Non passare il campo personalizzato 1",),\n    ),\n'
        '    Column("integration", "show_survey", "boolean", ("Show survey",), ("Mostra il sondaggio",)),\n',
    ),
    (
        "reconciler/profile/solution_profile.yaml",
        "    do_not_pass_custom_field_1: lmi_donotpasscustomfield1\n",
        "    do_not_pass_custom_field_1: lmi_donotpasscustomfield1\n    show_survey: lmi_showsurvey\n",
    ),
    (
        "rescue_sandbox/dataverse/solution_schema.yaml",
        "    do_not_pass_custom_field_1: lmi_donotpasscustomfield1\n",
        "    do_not_pass_custom_field_1: lmi_donotpasscustomfield1\n    show_survey: lmi_showsurvey\n",
    ),
    (
        "rescue_sandbox/dataverse/solution_schema.yaml",
        "      {1033: Do not pass Custom Field 1, 1040: Non passare il campo personalizzato 1}\n",
        "      {1033: Do not pass Custom Field 1, 1040: Non passare il campo personalizzato 1}\n"
        "    show_survey: {1033: Show survey, 1040: Mostra il sondaggio}\n",
    ),
    (
        "rescue_sandbox/dataverse/solution_schema.py",
        '    "do_not_pass_custom_field_1",\n)\n',
        '    "do_not_pass_custom_field_1",\n    "show_survey",\n)\n',
    ),
    (
        "tests/unit/test_kind_fields.py",
        "        do_not_pass_custom_field_1=False,\n    ),\n",
        "        do_not_pass_custom_field_1=False,\n        show_survey=True,\n    ),\n",
    ),
)

GROUP_DESCRIPTION: tuple[Edit, ...] = (
    (
        "reconciler/config/models.py",
        'left as they are."\n        ),\n    )\n',
        'left as they are."\n        ),\n    )\n'
        "    description: str | None = Field(\n"
        '        default=None, max_length=512, pattern=r"^[^\\r\\n]*$", description="The group\'s description."\n'
        "    )\n",
    ),
    (
        "reconciler/kinds/rescue_group.py",
        "    permissions: tuple[str, ...] | None = None\n",
        "    permissions: tuple[str, ...] | None = None\n    description: str | None = None\n",
    ),
    (
        "reconciler/providers/rescue/groups.py",
        '        permissions=canonical(permission_list(fields.get("PERMISSIONS", ""))),\n',
        '        permissions=canonical(permission_list(fields.get("PERMISSIONS", ""))),\n'
        '        description=fields.get("DESCRIPTION", ""),\n',
    ),
    (
        "reconciler/providers/rescue/groups.py",
        "await self.client.set_group(node, name, permissions=change.desired.permissions)",
        "await self.client.set_group(\n"
        '            node, name, description=change.desired.description or "", permissions=change.desired.permissions\n'
        "        )",
    ),
    (
        "reconciler/providers/rescue/groups.py",
        "        wanted = change.desired.permissions or ()\n"
        "        read = await self.client.get_group(change.live.meta.id)\n"
        '        now = canonical(permission_list(read.get("PERMISSIONS", "")))\n'
        "        if now == wanted:\n"
        '            return "already up to date"\n'
        "        if now != change.live.permissions:\n",
        "        read = await self.client.get_group(change.live.meta.id)\n"
        "        now = group_from_read(change.key, read)\n"
        "        declared = {k: v for k, v in change.desired.content().items() if v is not None}\n"
        "        wanted = dataclasses.replace(now, **declared)\n"
        "        if now.content() == wanted.content():\n"
        '            return "already up to date"\n'
        "        if now.content() != change.live.content():\n",
    ),
    (
        "reconciler/providers/rescue/groups.py",
        '            description=read.get("DESCRIPTION", ""),\n            permissions=wanted,\n',
        '            description=wanted.description or "",\n            permissions=wanted.permissions,\n',
    ),
    (
        "reconciler/providers/rescue/groups.py",
        "from collections.abc import Iterable, Mapping\n",
        "import dataclasses\nfrom collections.abc import Iterable, Mapping\n",
    ),
    (
        "tests/unit/test_kind_fields.py",
        '"rescue_group": RescueGroup(path="Support/Tier 1", permissions=("chat", "remote_control")),',
        '"rescue_group": RescueGroup(\n'
        '        path="Support/Tier 1", permissions=("chat", "remote_control"), description="Tier one"\n'
        "    ),",
    ),
)

# What the round trip declares in the demo's contoso tenant: (text found, added after it, the
# change id, the field).
ROUND_TRIPS = {
    "show_survey": (
        "    do_not_pass_custom_field_1: false\n",
        "    show_survey: true\n",
        "integration:configuration",
    ),
    "description": (
        "  - path: Support/Tier 1\n",
        "    description: First line\n",
        "rescue_group:Support/Tier 1",
    ),
}

ROUND_TRIP_TEST = '''
"""Written by tests/unit/test_architecture_doc.py into a copy of the tree: a worked example's
field, declared in the demo tenant, is planned, applied, and then plans nothing."""

import json
from pathlib import Path

import pytest

import reconciler
from rescue_sandbox import SandboxHandle

from .conftest import invoke

pytestmark = pytest.mark.integration
ROUND_TRIPS = {round_trips!r}


def _changes(tenants: Path, handle: SandboxHandle) -> list:
    run = invoke("plan", str(tenants), "--sandbox", str(handle.state_dir), "--format", "json")
    assert run.code == 0, run.output
    return [c for t in json.loads(run.stdout)["tenants"] for c in t["changes"] if c["op"] != "manual"]


@pytest.mark.parametrize("field", sorted(ROUND_TRIPS))
def test_the_new_field_is_planned_applied_and_then_plans_nothing(
    field: str, demo_sandbox: SandboxHandle, tenants_copy: Path
) -> None:
    assert Path(reconciler.__file__).resolve().is_relative_to(Path(__file__).resolve().parents[2])
    found, added, change_id = ROUND_TRIPS[field]
    tenant = tenants_copy / "contoso" / "tenant.yaml"
    text = tenant.read_text("utf-8")
    assert text.count(found) == 1
    tenant.write_text(text.replace(found, found + added), "utf-8")
    planned = [i["path"] for c in _changes(tenants_copy, demo_sandbox) if c["id"] == change_id for i in c["items"]]
    assert field in planned
    run = invoke("apply", str(tenants_copy), "--sandbox", str(demo_sandbox.state_dir), "--auto-approve", "--force")
    assert run.code == 0, run.output
    assert _changes(tenants_copy, demo_sandbox) == []
'''

EXAMPLES = {"show_survey": SHOW_SURVEY, "description": GROUP_DESCRIPTION}
KIND_MODULES = {
    "show_survey": "reconciler/kinds/integration.py",
    "description": "reconciler/kinds/rescue_group.py",
}
HEADINGS = {
    "show_survey": "### Worked example: `show_survey`",
    "description": "### Worked example: a Rescue group's `description`",
}
COPIED = ("reconciler", "rescue_sandbox", "tests", "tenants", "schemas", "docs", "pyproject.toml")


def _example_text(name: str) -> str:
    text = DOC.read_text("utf-8")
    start = text.index(HEADINGS[name])
    end = text.find("\n#", start + 1)
    return text[start : end if end != -1 else len(text)]


def test_each_worked_example_lists_exactly_the_product_modules_it_edits() -> None:
    for name, edits in EXAMPLES.items():
        listed = set(re.findall(r"`(reconciler/[\w/]+\.py)`", _example_text(name).split("Nothing else")[0]))
        edited = {path for path, _, _ in edits if path.startswith("reconciler/") and path.endswith(".py")}
        assert listed == edited, name
        assert len(edited) <= 3, name  # the bound: tenant model, kind module, provider side


def _apply(root: Path, edits: tuple[Edit, ...]) -> None:
    for path, found, replacement in edits:
        file = root / path
        text = file.read_text("utf-8")
        assert text.count(found) == 1, f"{path}: the example's anchor is gone: {found!r}"
        file.write_text(text.replace(found, replacement), "utf-8")


def _pytest(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root), "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def test_the_listed_files_are_all_a_field_needs(tmp_path: Path) -> None:
    """In a copy of the tree, each example's edits to exactly the listed files (and the data,
    sandbox, generated files and test example beside them) make a field that is compared,
    planned when it differs, written and read back; without the kind module's edit the tests
    fail and name the field."""
    root = tmp_path / "tree"
    ignore = shutil.ignore_patterns("__pycache__", ".venv", "*.pyc")
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, root / name, ignore=ignore)
        else:
            shutil.copy2(source, root / name)
    originals = {path: (root / path).read_text("utf-8") for path in KIND_MODULES.values()}
    kind_tests = (root / "tests/unit/test_kind_fields.py").read_text("utf-8")
    for edits in EXAMPLES.values():
        _apply(root, edits)
    regenerated = subprocess.run(
        [sys.executable, "-m", "reconciler", "schema"],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert regenerated.returncode == 0, regenerated.stderr
    (root / "tests/integration/test_worked_examples.py").write_text(
        ROUND_TRIP_TEST.format(round_trips=ROUND_TRIPS), "utf-8"
    )
    passed = _pytest(
        root,
        "tests/unit/test_kind_fields.py",
        "tests/unit/test_solution_columns.py",
        "tests/config/test_schema.py::test_checked_in_files_are_current",
        "tests/integration/test_worked_examples.py",
    )
    assert passed.returncode == 0, passed.stdout[-3000:]
    assert "skipped" not in passed.stdout and "deselected" not in passed.stdout, passed.stdout
    assert "show_survey" in (root / "schemas/tenant.schema.json").read_text("utf-8")

    # Forget the kind module (and so its test example): the field is declared and nothing
    # compares it; the field-completeness tests say so.
    for path, text in originals.items():
        (root / path).write_text(text, "utf-8")
    (root / "tests/unit/test_kind_fields.py").write_text(kind_tests, "utf-8")
    failed = _pytest(root, "-vv", "tests/unit/test_kind_fields.py")
    assert failed.returncode == 1, failed.stdout[-3000:]
    assert "tenant field 'description' is not a field of RescueGroup" in failed.stdout
    assert "integration: option 'show_survey' is not a field of IntegrationConfig" in failed.stdout
