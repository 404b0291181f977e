"""The generated JSON Schema and tenant reference: current, valid, and in step with the models."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from pydantic import BaseModel

from reconciler.config import Tenant, load_tenants, reference_markdown, tenant_json_schema
from reconciler.config.schema import SCHEMA_DIALECT

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = tenant_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.fixture(scope="module")
def examples() -> dict[str, dict[str, Any]]:
    """The example tenants' merged data (with _defaults.yaml), as JSON sees it (dates as text)."""
    tenants = load_tenants([REPO / "tenants"])
    return {t.name: json.loads(json.dumps(t.data, default=str)) for t in tenants}


def test_schema_header() -> None:
    schema = tenant_json_schema()
    assert schema["$schema"] == SCHEMA_DIALECT == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] and schema["title"]
    assert "never the secret itself" in schema["$defs"]["SecretRef"]["description"]


def test_schema_validates_the_example_tenants(validator: Any, examples: dict[str, Any]) -> None:
    assert sorted(examples) == ["contoso", "fabrikam"]
    for data in examples.values():
        assert list(validator.iter_errors(data)) == []


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("connection", "dynamics", "org_url"), "http://contoso.crm.dynamics.com"),
        (("connection", "dynamics", "tenant_id"), "not-a-guid"),
        (("connection", "rescue", "authcode"), "plain-text"),
        (("connection", "rescue", "authcode"), {"env": "A", "file": "b"}),
        (("integration", "company_id"), "12ab"),
        (("solution", "min_version"), "latest"),
        (("integration", "options", "close_tiket_on_session_end"), True),
        (("tenant",), "Not Safe"),
        (("technicians", 0, "user"), "no-at-sign"),
    ],
)
def test_schema_rejects_what_validate_rejects(
    validator: Any, examples: dict[str, Any], path: tuple[str | int, ...], value: Any
) -> None:
    data = copy.deepcopy(examples["contoso"])
    target = data
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    assert list(validator.iter_errors(data)), f"schema accepted {path}={value!r}"


def test_schema_accepts_an_unquoted_company_id(validator: Any, examples: dict[str, Any]) -> None:
    data = copy.deepcopy(examples["contoso"])
    data["integration"]["company_id"] = 1234567
    assert list(validator.iter_errors(data)) == []
    assert Tenant.model_validate(data).integration is not None


def _all_fields(model: type[BaseModel], seen: set[type[BaseModel]]) -> set[str]:
    if model in seen:
        return set()
    seen.add(model)
    names: set[str] = set()
    for name, field in model.model_fields.items():
        names.add(name)
        for sub in _models(field.annotation):
            names |= _all_fields(sub, seen)
    return names


def _models(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in getattr(annotation, "__args__", ()) for m in _models(arg)]


def test_reference_lists_every_key_of_every_model() -> None:
    text = reference_markdown()
    missing = {n for n in _all_fields(Tenant, set()) if f"| `{n}` |" not in text}
    assert missing == set()
    assert "| `instance` | `production` \\| `beta` | **required** |" in text
    assert '| `roles` | list of text | `["LogMeIn Integration User"]` |' in text
    assert "## `technicians[].create`" in text


def test_checked_in_files_are_current(reconcile: Any) -> None:
    outcome = reconcile(["schema", "--check"], cwd=REPO)
    assert outcome.exit_code == 0, outcome.stderr
    assert json.loads((REPO / "schemas" / "tenant.schema.json").read_text("utf-8")) == tenant_json_schema()


def test_schema_writes_then_check_spots_staleness(reconcile: Any, tmp_path: Path) -> None:
    args = ["--out", "s/tenant.schema.json", "--reference", "d/ref.md"]
    missing = reconcile(["schema", "--check", *args], cwd=tmp_path)
    assert missing.exit_code == 1
    assert "s/tenant.schema.json is missing; d/ref.md is missing; run `reconcile schema`" in missing.stderr
    written = reconcile(["schema", *args], cwd=tmp_path)
    assert written.exit_code == 0
    assert written.stdout.splitlines() == ["wrote s/tenant.schema.json", "wrote d/ref.md"]
    assert reconcile(["schema", "--check", *args], cwd=tmp_path).exit_code == 0
    (tmp_path / "d" / "ref.md").write_text("edited by hand\n", encoding="utf-8")
    stale = reconcile(["schema", "--check", *args], cwd=tmp_path)
    assert stale.exit_code == 1
    assert "error: d/ref.md is stale; run `reconcile schema` and commit the result" in stale.stderr
    assert "s/tenant.schema.json" not in stale.stderr
    again = reconcile(["schema", *args], cwd=tmp_path)
    assert again.stdout.splitlines() == ["s/tenant.schema.json is up to date", "wrote d/ref.md"]


def test_example_tenant_files_point_at_the_schema() -> None:
    for path in sorted((REPO / "tenants").glob("*/*.yaml")):
        first = path.read_text("utf-8").splitlines()[0]
        assert first == "# yaml-language-server: $schema=../../schemas/tenant.schema.json", path
