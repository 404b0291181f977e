"""Bulk operation messages: the collection-bound actions ``CreateMultiple``, ``UpdateMultiple``
and ``UpsertMultiple`` (Learn: "Use bulk operation messages", the Web API action references).

``POST <set>/Microsoft.Dynamics.CRM.<Action>`` with ``{"Targets": [{"@odata.type":
"Microsoft.Dynamics.CRM.<logical name>", ...columns}]}``:

* ``CreateMultiple`` -> 200 ``{"@odata.context": "<root>/$metadata#Microsoft.Dynamics.CRM.
  CreateMultipleResponse", "Ids": [...]}``, ids in ``Targets`` order. A target may set its
  primary id; an id already in use is 412 "Cannot insert duplicate key.".
* ``UpdateMultiple`` -> 204. Each target names its row by its primary id column or by
  ``@odata.id`` (``<set>(<guid>)`` or an alternate key ``<set>(key='v')``); unknown ids are one
  404 ``0x80040217`` "<table> With Ids = <ids> Do Not Exist".
* ``UpsertMultiple`` -> **204 without a body**: the Web API reference says the
  ``UpsertMultipleResponse`` complex type is not returned. Rows are found like ``Upsert`` does
  (primary id first, else the ``@odata.id`` key); found -> update without the key columns,
  not found -> create from the body plus the key values the body does not already carry.

Standard tables run a bulk message in one transaction: any failing target fails the whole
request with that target's error and nothing is written (the router's transaction undoes it).
Every target must carry ``@odata.type`` of the bound table. Lookups are set with
``nav@odata.bind`` and every write bumps the row version, exactly as single writes do (both go
through :func:`writes.body_changes` and :class:`DataverseOrg`). The service protection limiter
counts the request once; its whole duration, all targets included, counts as execution time.

Dataverse sets no fixed number of targets for standard tables (it suggests starting at 1,000
and sending fewer when requests time out). The sandbox refuses more than :data:`MAX_TARGETS`
with 400 and the sandbox-chosen code ``errors.BULK_LIMIT``, so a client learns to chunk. The
wording of the payload errors below is the sandbox's own ⚠; clients should branch on status.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rescue_sandbox.dataverse import errors
from rescue_sandbox.dataverse.addressing import Key, find_row, key_columns, match_key
from rescue_sandbox.dataverse.protocol import (
    ApiRequest,
    ApiResponse,
    json_response,
    no_content,
    parse_key,
    relative_path,
    split_path,
)
from rescue_sandbox.dataverse.schema import TableDef
from rescue_sandbox.dataverse.values import normalize_guid
from rescue_sandbox.dataverse.writes import associate, body_changes

if TYPE_CHECKING:
    from rescue_sandbox.dataverse.org import DataverseOrg

NAMESPACE = "Microsoft.Dynamics.CRM."
ACTIONS = frozenset(f"{NAMESPACE}{name}" for name in ("CreateMultiple", "UpdateMultiple", "UpsertMultiple"))
MAX_TARGETS = 1000
_TYPE = "@odata.type"
_ID = "@odata.id"


@dataclass(frozen=True)
class Target:
    """One item of ``Targets``: its position, its body (annotations removed), the primary id it
    sets and the key its ``@odata.id`` names (a GUID or alternate-key values)."""

    index: int
    body: dict[str, Any]
    row_id: str | None = None
    reference: Key | None = None

    @property
    def key(self) -> Key | None:
        """How the row is looked up: the primary id wins over ``@odata.id`` (as in Upsert)."""
        return self.row_id or self.reference


def handle(org: DataverseOrg, req: ApiRequest, table: TableDef, action: str) -> ApiResponse:
    """Run a bulk action bound to ``table``'s entity set (``action`` is in :data:`ACTIONS`)."""
    name = action.removeprefix(NAMESPACE)
    if req.method != "POST":
        raise errors.DataverseError(
            405,
            errors.BAD_SEGMENT,
            f"No HTTP resource was found that matches the request URI '{req.api_root}/{req.path}' "
            f"for method {req.method}.",
        )
    if table.intersect or (name != "UpdateMultiple" and not table.creatable):
        raise errors.method_not_supported(name, table.logical_name)
    targets = read_targets(org, req, table, name)
    with org.transaction():
        if name == "CreateMultiple":
            ids = [_create(org, req, table, t) for t in targets]
            payload = {
                "@odata.context": f"{req.api_root}/$metadata#{NAMESPACE}CreateMultipleResponse",
                "Ids": ids,
            }
            return json_response(200, payload)
        if name == "UpdateMultiple":
            _check_rows_exist(org, table, targets)
            for target in targets:
                _update(org, req, table, target)
            return no_content()
        for target in targets:
            _upsert(org, req, table, target)
        return no_content()


def read_targets(org: DataverseOrg, req: ApiRequest, table: TableDef, action: str) -> list[Target]:
    """The checked ``Targets``; the whole payload is validated before anything is written."""
    body = req.json(table.entity_set)
    extra = sorted(set(body) - {"Targets"})
    if extra:
        raise errors.payload_error(
            table.entity_set,
            f"The parameter '{extra[0]}' in the request payload is not a valid parameter for the "
            f"operation '{action}'.",
        )
    items = body.get("Targets")
    if not isinstance(items, list):
        raise errors.payload_error(
            table.entity_set, f"The '{action}' action requires 'Targets', a collection of records."
        )
    if not items:
        raise errors.DataverseError(
            400, errors.INVALID_ARGUMENT, f"The 'Targets' collection of '{action}' must not be empty."
        )
    if len(items) > MAX_TARGETS:
        raise errors.DataverseError(
            400,
            errors.BULK_LIMIT,
            f"The number of records in 'Targets' ({len(items)}) exceeds the limit of {MAX_TARGETS} "
            f"per '{action}' request in the sandbox. Send fewer records per request.",
        )
    targets: list[Target] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise errors.payload_error(table.entity_set, f"Targets[{index}] is not a JSON object.")
        _check_type(org, table, index, item)
        body = {k: v for k, v in item.items() if k not in (_TYPE, _ID)}
        if action == "CreateMultiple":
            targets.append(Target(index, body))
        else:
            row_id, reference = _row_id(table, index, item), _reference(org, table, index, item)
            if isinstance(reference, str) and row_id is not None and reference != row_id:
                raise errors.payload_error(
                    table.entity_set, f"Targets[{index}]: '{table.id_column}' does not match its '@odata.id'."
                )
            targets.append(Target(index, body, row_id, reference))
    return targets


def _check_type(org: DataverseOrg, table: TableDef, index: int, item: dict[str, Any]) -> None:
    declared = item.get(_TYPE)
    if declared is None:
        raise errors.payload_error(
            table.entity_set,
            f"Targets[{index}] has no '@odata.type' annotation. Every item of 'Targets' (a collection of "
            f"the abstract type '{NAMESPACE}crmbaseentity') must carry "
            f'\'"@odata.type": "{NAMESPACE}{table.logical_name}"\'.',
        )
    name = declared.removeprefix("#") if isinstance(declared, str) else ""
    logical = name.removeprefix(NAMESPACE) if name.startswith(NAMESPACE) else None
    if logical is None or logical not in org.tables:
        raise errors.payload_error(
            table.entity_set,
            f"Targets[{index}]: a type named '{declared}' could not be resolved by the model. When a "
            "model is available, each type name must resolve to a valid type.",
        )
    if logical != table.logical_name:
        raise errors.DataverseError(
            400,
            errors.INVALID_ARGUMENT,
            f"All records in 'Targets' must be of the entity type '{table.logical_name}' the action is "
            f"bound to; Targets[{index}] is of type '{logical}'.",
        )


def _reference(org: DataverseOrg, table: TableDef, index: int, item: dict[str, Any]) -> Key | None:
    """The key of a target's ``@odata.id`` (``<set>(<guid>)`` or ``<set>(key='value')``)."""
    reference = item.get(_ID)
    if reference is None:
        return None
    segments = split_path(relative_path(reference)) if isinstance(reference, str) else []
    if len(segments) != 1 or segments[0].key is None:
        raise errors.payload_error(
            table.entity_set, f"Targets[{index}]: '@odata.id' {reference!r} does not address a single record."
        )
    if segments[0].name != table.entity_set:
        raise errors.DataverseError(
            400,
            errors.INVALID_ARGUMENT,
            f"Targets[{index}]: '@odata.id' addresses '{segments[0].name}', not '{table.entity_set}'.",
        )
    key = parse_key(segments[0].key)
    if isinstance(key, dict):
        match_key(org, table, key)  # an unknown or inactive key fails before any write
    return key


def _row_id(table: TableDef, index: int, item: dict[str, Any]) -> str | None:
    given = item.get(table.id_column)
    if given is None:
        return None
    row_id = normalize_guid(given) if isinstance(given, str) else None
    if row_id is None:
        raise errors.payload_error(
            table.entity_set,
            f"Cannot convert the literal '{given}' to the expected type 'Edm.Guid' for the property "
            f"'{table.id_column}'.",
        )
    return row_id


def _create(org: DataverseOrg, req: ApiRequest, table: TableDef, target: Target) -> str:
    changes, associations = body_changes(org, req, table, target.body, creating=True)
    row = org.insert(table.logical_name, changes)
    row_id = str(row[table.id_column])
    for rel, other_id in associations:
        associate(org, table, row_id, rel, other_id)
    return row_id


def _check_rows_exist(org: DataverseOrg, table: TableDef, targets: list[Target]) -> None:
    """UpdateMultiple names every missing primary id at once, as Dataverse's message does."""
    store = org.stores[table.logical_name]
    for target in targets:
        if target.key is None:
            raise errors.DataverseError(
                400,
                errors.INVALID_ARGUMENT,
                f"Targets[{target.index}] names no record: set '{table.id_column}' or '@odata.id'.",
            )
    missing = sorted({t.key for t in targets if isinstance(t.key, str) and store.get(t.key) is None})
    if missing:
        raise errors.DataverseError(
            404, errors.NOT_FOUND, f"{table.logical_name} With Ids = {', '.join(missing)} Do Not Exist"
        )


def _update(org: DataverseOrg, req: ApiRequest, table: TableDef, target: Target) -> None:
    assert target.key is not None
    row = find_row(org, table, target.key)
    assert row is not None
    changes, _ = body_changes(org, req, table, target.body, creating=False)
    org.update(table.logical_name, str(row[table.id_column]), changes)


def _upsert(org: DataverseOrg, req: ApiRequest, table: TableDef, target: Target) -> None:
    """Upsert as Learn describes it for standard tables: found -> Update without the alternate
    key columns; not found -> Create from the body plus the key values it does not carry."""
    row = find_row(org, table, target.key, required=False) if target.key is not None else None
    alternate = key_columns(org, table, target.reference) if isinstance(target.reference, dict) else {}
    if row is not None:
        changes, _ = body_changes(org, req, table, target.body, creating=False)
        for prop in alternate:
            changes.pop(prop, None)
        org.update(table.logical_name, str(row[table.id_column]), changes)
        return
    changes, associations = body_changes(org, req, table, target.body, creating=True)
    if isinstance(target.key, str):
        changes.setdefault(table.id_column, target.key)
    for prop, value in alternate.items():
        changes.setdefault(prop, value)
    created = org.insert(table.logical_name, changes)
    for rel, other_id in associations:
        associate(org, table, str(created[table.id_column]), rel, other_id)
