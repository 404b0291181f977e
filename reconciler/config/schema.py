"""The tenant file JSON Schema and the tenant file reference, both generated from the models.

``schemas/tenant.schema.json`` lets editors (``# yaml-language-server: $schema=...``) flag a
mistake while it is typed; ``docs/tenant-reference.md`` is what an admin reads. Both come from
``Tenant.model_json_schema()`` so they cannot drift from what ``reconcile validate`` accepts:
``reconcile schema --check`` fails when a checked-in copy is stale.

Pydantic cannot see inside the validators of ``types.py``, so their constraints (GUID, https
URL, version, digits, UPN, thumbprint, tenant name) are added here as patterns, found by the
identity of each type's validator, not by field names.
"""

from __future__ import annotations

import json
import types as pytypes
from collections.abc import Sequence
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel

from reconciler.config import types as t
from reconciler.config.models import Tenant

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_ID = "urn:rescue-dynamics-reconciler:tenant.schema.json"

# (type alias, human name, JSON Schema keywords added to its string schema)
_KINDS: tuple[tuple[Any, str, dict[str, Any]], ...] = (
    (t.Guid, "GUID", {"pattern": t._GUID_RE.pattern}),
    (
        t.HttpsUrl,
        "https URL",
        {"pattern": "^[hH][tT][tT][pP][sS]://[^/?#@\\s]+(/[^?#\\s]*)?$", "format": "uri"},
    ),
    (t.OrgUrl, "org URL", {"pattern": "^[hH][tT][tT][pP][sS]://[^/?#@\\s]+/?$", "format": "uri"}),
    (t.Version, "version a.b[.c[.d]]", {"pattern": t._VERSION_RE.pattern}),
    (t.Digits, "digits", {"type": ["string", "integer"], "pattern": t._DIGITS_RE.pattern, "minimum": 0}),
    (t.Upn, "email / UPN", {"pattern": t._UPN_RE.pattern, "format": "email"}),
    (t.Thumbprint, "certificate thumbprint", {"pattern": "^(?:[0-9A-Fa-f]:?){39}[0-9A-Fa-f]$"}),
    (t.TenantName, "tenant name", {"pattern": t._TENANT_NAME_RE.pattern}),
    (t.GroupPath, "group path", {}),
)
_SECRET_DOC = (
    "A secret reference, never the secret itself: `{env: VARIABLE_NAME}` (an environment variable) or "
    "`{file: PATH}` (a file whose content, stripped, is the secret; relative paths start at the tenant folder)."
)


def _kind_by_metadata(metadata: Sequence[Any]) -> tuple[str, dict[str, Any]] | None:
    for alias, name, extra in _KINDS:
        marker = get_args(alias)[1]  # the validator object every use of the alias shares
        if any(m is marker for m in metadata):
            return name, extra
    return None


def _kind_of(annotation: Any) -> tuple[str, dict[str, Any]] | None:
    """The entry of ``_KINDS`` that ``annotation`` (or its optional / list member) uses."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _kind_by_metadata(get_args(annotation)[1:])
    if origin in (Union, pytypes.UnionType, list):
        for member in get_args(annotation):
            found = _kind_of(member)
            if found:
                return found
    return None


def _apply(prop: dict[str, Any], extra: dict[str, Any]) -> None:
    if "anyOf" in prop:
        for branch in prop["anyOf"]:
            if branch.get("type") == "string":
                branch.update(extra)
    elif prop.get("type") == "array":
        prop["items"].update(extra)
    else:
        prop.update(extra)


def _enrich(
    model: type[BaseModel], schema: dict[str, Any], kinds: dict[tuple[str, str], str], seen: set[str]
) -> None:
    """Add the constraints of ``types.py`` to each model's properties, recursively.

    ``kinds`` records ``(model name, field) -> human type name`` for the reference.
    """
    if model.__name__ in seen:
        return
    seen.add(model.__name__)
    target = schema if model is Tenant else schema["$defs"][model.__name__]
    for name, field in model.model_fields.items():
        kind = _kind_by_metadata(field.metadata) or _kind_of(field.annotation)
        prop = target["properties"][name]
        if kind is not None:
            _apply(prop, kind[1])
            kinds[(model.__name__, name)] = kind[0]
        if field.default_factory is not None:
            # Pydantic leaves factory defaults out; editors and the reference want simple ones.
            value = field.get_default(call_default_factory=True, validated_data={})
            if isinstance(value, str | int | float | bool | list) and not any(
                isinstance(v, BaseModel) for v in (value if isinstance(value, list) else [])
            ):
                prop["default"] = value
        for sub in _models_in(field.annotation):
            _enrich(sub, schema, kinds, seen)


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models_in(arg)]


def _build() -> tuple[dict[str, Any], dict[tuple[str, str], str]]:
    body = Tenant.model_json_schema()
    kinds: dict[tuple[str, str], str] = {}
    _enrich(Tenant, body, kinds, set())
    secret = body["$defs"]["SecretRef"]
    secret["description"] = _SECRET_DOC
    secret["oneOf"] = [{"required": ["env"]}, {"required": ["file"]}]
    body["title"] = "Rescue-Dynamics reconciler tenant"
    body["description"] = (
        "One tenant's desired state: tenants/<name>/*.yaml merged together, with tenants/_defaults.yaml "
        "merged under them. Generated by `reconcile schema`; do not edit."
    )
    return {"$schema": SCHEMA_DIALECT, "$id": SCHEMA_ID, **body}, kinds


def tenant_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of one tenant's merged files."""
    return _build()[0]


def schema_text() -> str:
    """The schema as the checked-in file holds it (stable key order, trailing newline)."""
    return json.dumps(tenant_json_schema(), indent=2, ensure_ascii=False) + "\n"


# ---- the tenant file reference (markdown) ---------------------------------------------------


def _ref_name(prop: dict[str, Any]) -> str | None:
    if "$ref" in prop:
        return str(prop["$ref"]).rsplit("/", 1)[-1]
    for branch in prop.get("anyOf", []):
        if "$ref" in branch:
            return str(branch["$ref"]).rsplit("/", 1)[-1]
    return None


def _type_text(prop: dict[str, Any], child: str, kind: str | None) -> str:
    ref = _ref_name(prop)
    if ref == "SecretRef":
        return "secret reference"
    if ref is not None:
        return f"mapping, see `{child}`"
    present = [b for b in prop.get("anyOf", []) if b.get("type") != "null"]
    if len(present) == 1 and present[0].get("type") == "array":
        prop = present[0]  # an optional list
    if prop.get("type") == "array":
        if _ref_name(prop.get("items", {})):
            return f"list of mappings, see `{child}[]`"
        return f"list of {kind or _scalar_text(prop.get('items', {}))}"
    if kind is not None:
        return kind
    branches = [b for b in prop.get("anyOf", [prop]) if b.get("type") != "null"]
    return " or ".join(_scalar_text(b) for b in branches)


def _scalar_text(prop: dict[str, Any]) -> str:
    if "enum" in prop or "const" in prop:
        return " | ".join(f"`{v}`" for v in prop.get("enum", [prop.get("const")]))
    kind = prop.get("type")
    if kind == "string" and prop.get("format") == "date":
        return "date YYYY-MM-DD"
    names = {"string": "text", "boolean": "true / false", "integer": "whole number", "number": "number"}
    return names.get(str(kind), "mapping")


def _default_text(name: str, prop: dict[str, Any], required: list[str]) -> str:
    if name in required:
        return "**required**"
    if "default" not in prop or prop["default"] is None:
        return "optional"
    return f"`{json.dumps(prop['default'], ensure_ascii=False)}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _section(
    path: str,
    model: str,
    schema: dict[str, Any],
    kinds: dict[tuple[str, str], str],
    out: list[str],
    *,
    heading: str | None = None,
) -> None:
    defs = schema["$defs"]
    obj = schema if model == Tenant.__name__ else defs[model]
    out += ["", heading or (f"## `{path}`" if path else "## Top level"), ""]
    if obj.get("description") and path:
        out += [str(obj["description"]), ""]
    out += ["| key | type | default | description |", "|---|---|---|---|"]
    nested: list[tuple[str, str]] = []
    required = list(obj.get("required", []))
    for name, prop in obj.get("properties", {}).items():
        child = f"{path}.{name}" if path else name
        ref = _ref_name(prop) or _ref_name(prop.get("items", {}))
        description = prop.get("description") or (defs[ref].get("description", "") if ref else "")
        kind = kinds.get((model, name))
        row = [f"`{name}`", _type_text(prop, child, kind), _default_text(name, prop, required), description]
        out.append("| " + " | ".join(_cell(str(c)) for c in row) + " |")
        if ref and ref != "SecretRef":
            nested.append((f"{child}[]" if prop.get("type") == "array" else child, ref))
    for child, ref in nested:
        _section(child, ref, schema, kinds, out)


def reference_markdown() -> str:
    """The tenant file reference: every key with its type, default and description."""
    schema, kinds = _build()
    out = [
        "# Tenant file reference",
        "",
        "<!-- Generated by `reconcile schema` from reconciler/config/models.py; do not edit. -->",
        "",
        "A tenant is the folder `tenants/<name>/`: its `*.yaml` files are merged into one mapping "
        "(a key may be set in only one file; mappings merge), and `tenants/_defaults.yaml` is merged "
        "under every tenant. `reconcile validate` checks the files without any network; the JSON Schema "
        "`schemas/tenant.schema.json` gives editors the same checks.",
    ]
    _section("<secret>", "SecretRef", schema, kinds, out, heading="## Secret references")
    out += [
        "",
        "A plain string where a secret is expected is an error. `reconcile validate --check-secrets` "
        "also resolves every reference (values are never shown).",
    ]
    _section("", Tenant.__name__, schema, kinds, out)
    return "\n".join(out) + "\n"


__all__ = ["SCHEMA_DIALECT", "SCHEMA_ID", "reference_markdown", "schema_text", "tenant_json_schema"]
