"""The plan file's schema (docs/plan-format.md): the type of every field, checked before a saved
plan is decoded, so a wrong type is one located line instead of a traceback half-way through
a command.

Strict: no coercion (``"1"`` is not a number, ``true`` is not ``1``), no key the format does not
have, no NaN or infinity. A resource's ``fields`` are checked against its kind's resource type
(its kind module, looked up in ``resources/registry.py``), read from the dataclass itself: a field added to a kind is
checked without an edit here, and a field of a type this module does not know fails at import,
not silently at run time.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from functools import cache
from typing import Annotated, Any, Literal, Union

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, create_model

from reconciler.plan.changes import OPS, ActionName
from reconciler.resources import Sensitive, kinds, resource_type, resource_types

SENSITIVE_ITEM = "(sensitive)"  # what an update's item shows for a secret, before and after


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False, frozen=True)


class SensitiveRef(_Strict):
    """A secret in a resource: its reference only (``{"sensitive": true, "ref": "env:NAME"}``)."""

    sensitive: Literal[True]
    ref: str


class MetaFile(_Strict):
    id: str
    etag: str
    extra: dict[str, str]


def _json_type(annotation: Any) -> Any:
    """The JSON-side type of a resource field's annotation."""
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        return Union[tuple(_json_type(a) for a in typing.get_args(annotation))]  # noqa: UP007
    if origin is Literal or annotation in (str, bool, int, type(None)):
        return annotation
    if annotation is float:
        return float
    if annotation is Sensitive:
        return SensitiveRef
    if origin in (frozenset, tuple) and typing.get_args(annotation)[:1] == (str,):
        return list[str]  # encoded as a (sorted) list
    if dataclasses.is_dataclass(annotation) and isinstance(annotation, type):
        return _dataclass_model(annotation)
    raise TypeError(f"plan file schema: no JSON type for {annotation!r}")  # a kind grew a new type


@cache
def _dataclass_model(cls: type) -> type[BaseModel]:
    """A strict model of a dataclass's fields as the plan file holds them (every one present)."""
    hints = typing.get_type_hints(cls)
    fields: dict[str, Any] = {
        f.name: (_json_type(hints[f.name]), ...) for f in dataclasses.fields(cls) if f.name != "meta"
    }
    return create_model(f"{cls.__name__}File", __base__=_Strict, **fields)


def _resource_model(kind: str, cls: type) -> type[BaseModel]:
    tag: Any = Literal[kind]  # a value-dependent type: built here, one per kind
    return create_model(
        f"{cls.__name__}ResourceFile",
        __base__=_Strict,
        kind=(tag, ...),
        key=(str, ...),
        fields=(_dataclass_model(cls), ...),
        meta=(MetaFile | None, None),
    )


# Built when a plan is first checked (``plan/reader.py`` imports this module then), from the
# registry the kind modules filled: ``KindsNotLoaded`` when nothing imported ``reconciler.kinds``.
_RESOURCE_MODELS = tuple(_resource_model(cls.kind, cls) for cls in resource_types())
ResourceFile = Annotated[Union[_RESOURCE_MODELS], Field(discriminator="kind")]  # type: ignore[valid-type]  # noqa: UP007


@cache
def field_adapter(kind: str, name: str) -> TypeAdapter[Any] | None:
    """The type of field ``name`` of ``kind``'s resources (None: the kind has no such field)."""
    cls = resource_type(kind)
    if cls is None:
        return None
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)} - {"meta"}
    if name not in names:
        return None
    return TypeAdapter(_json_type(hints[name]), config=_Strict.model_config)


def _known_kind(name: str) -> str:
    if name not in kinds():
        raise ValueError(f"unknown kind {name!r}; kinds: {', '.join(kinds())}")
    return name


# A kind's name: one the registry holds (known at run time, from the kind modules).
Kind = Annotated[str, AfterValidator(_known_kind)]


class _ChangeFile(_Strict):
    id: str
    kind: Kind
    key: str
    depends_on: list[str]
    fingerprint: str
    source: str | None = None  # only on mappings a technician rule produced


class ItemFile(_Strict):
    path: str
    before: Any
    after: Any
    sensitive: bool


class CreateFile(_ChangeFile):
    op: Literal["create"]
    desired: ResourceFile


class UpdateFile(_ChangeFile):
    op: Literal["update"]
    desired: ResourceFile
    live: ResourceFile
    items: list[ItemFile]


class DeleteFile(_ChangeFile):
    op: Literal["delete"]
    live: ResourceFile


class ActionFile(_ChangeFile):
    op: Literal["action"]
    name: ActionName
    reason: str
    steps: list[str]
    desired: ResourceFile
    live: ResourceFile | None


class ManualFile(_ChangeFile):
    op: Literal["manual"]
    title: str
    reason: str
    steps: list[str]


class UnknownFile(_ChangeFile):
    op: Literal["unknown"]
    reason: str


ChangeFile = Annotated[
    CreateFile | UpdateFile | DeleteFile | ActionFile | ManualFile | UnknownFile,
    Field(discriminator="op"),
]
OpName = Literal[OPS]  # type: ignore[valid-type]


class UnmanagedFile(_Strict):
    kind: Kind
    key: str
    note: str


class EndpointRequests(_Strict):
    requests: int = Field(ge=0)
    retries: int = Field(ge=0)


class ServiceRequests(_Strict):
    requests: int = Field(ge=0)
    retries: int = Field(ge=0)
    endpoints: dict[str, EndpointRequests] = Field(default_factory=dict)
    statuses: dict[str, Annotated[int, Field(ge=0)]] = Field(default_factory=dict)


class SafetyFile(_Strict):
    """The rails' thresholds as the tenant file allows them (config/models.py ``Safety``)."""

    max_change_fraction: float = Field(gt=0, le=1)
    min_objects: int = Field(ge=1)


class ViolationFile(_Strict):
    kind: Kind
    reason: str


class TenantFile(_Strict):
    tenant: str
    error: str
    desired_digest: str
    summary: dict[Kind, dict[OpName, Annotated[int, Field(ge=0)]]]
    has_changes: bool
    incomplete: bool
    changes: list[ChangeFile]
    unmanaged: list[UnmanagedFile]
    problems: list[str]
    notes: list[str]
    findings: list[str]
    live_counts: dict[Kind, Annotated[int, Field(ge=0)]]
    requests: dict[str, ServiceRequests]
    safety: SafetyFile
    violations: list[ViolationFile]


class PlanFile(_Strict):
    format_version: int
    created_at: str
    tool_version: str
    has_changes: bool
    incomplete: bool
    totals: dict[OpName, Annotated[int, Field(ge=0)]]
    tenants: list[TenantFile]


def _where(loc: tuple[int | str, ...]) -> str:
    """``tenants[0].changes[3].desired.fields.sso_id``: pydantic's location without the tag it
    adds after a discriminated union (a change's op, a resource's kind)."""
    out = ""
    for n, part in enumerate(loc):
        before = loc[n - 1] if n else None
        tagged = (isinstance(before, int) and n >= 2 and loc[n - 2] == "changes") or before in _RESOURCE_KEYS
        if isinstance(part, int):
            out += f"[{part}]"
        elif not (tagged and part in _TAGS):
            out += f".{part}" if out else str(part)
    return out or "(top level)"


_RESOURCE_KEYS = frozenset({"desired", "live"})
_TAGS = frozenset(OPS) | frozenset(kinds())


def schema_problems(data: Any) -> list[str]:
    """Every place ``data`` is not a plan file, one ``path: message`` each ([] when it is one)."""
    try:
        PlanFile.model_validate(data)
    except ValidationError as exc:
        return [f"{_where(e['loc'])}: {e['msg']}" for e in exc.errors(include_url=False)]
    return item_problems(data)


def item_problems(data: Mapping[str, Any]) -> list[str]:
    """An update's items name fields of its kind and hold values of their types."""
    problems: list[str] = []
    for t, tenant in enumerate(data["tenants"]):
        for c, change in enumerate(tenant["changes"]):
            if change["op"] != "update":
                continue
            for i, item in enumerate(change["items"]):
                where = f"tenants[{t}].changes[{c}].items[{i}]"
                adapter = field_adapter(change["kind"], item["path"])
                if adapter is None:
                    problems.append(f"{where}.path: {change['kind']} has no field {item['path']!r}")
                    continue
                for side in ("before", "after"):
                    value = item[side]
                    if item["sensitive"]:
                        if value != SENSITIVE_ITEM:
                            problems.append(f"{where}.{side}: a sensitive item shows {SENSITIVE_ITEM!r}")
                        continue
                    try:
                        adapter.validate_python(value)
                    except ValidationError as exc:
                        problems.extend(f"{where}.{side}: {e['msg']}" for e in exc.errors(include_url=False))
    return problems
