"""Finding the row a URL or an ``@odata.id`` / ``@odata.bind`` reference points at.

Rows are addressed by primary key (``systemusers(<guid>)``) or by an alternate key
(``lmi_logmeinsessions(lmi_sessionid='S-1')``, lookups as ``_x_value=<guid>``). A key is only
usable while its index is Active; ``systemuser`` derives from ``principal`` and has none.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from rescue_sandbox.dataverse import errors
from rescue_sandbox.dataverse.protocol import ApiRequest, parse_key, relative_path, split_path
from rescue_sandbox.dataverse.schema import EntityKeyDef, TableDef

if TYPE_CHECKING:
    from rescue_sandbox.dataverse.org import DataverseOrg

Key = str | dict[str, Any]
_URL_SAFE = "/(),'=$:@-._~"


def entity_url(req: ApiRequest, table: TableDef, row_id: str) -> str:
    return f"{req.api_root}/{table.entity_set}({row_id})"


def resource_url(req: ApiRequest) -> str:
    return f"{req.api_root}/{quote(req.path, safe=_URL_SAFE)}"


def match_key(
    org: DataverseOrg, table: TableDef, pairs: dict[str, Any]
) -> tuple[EntityKeyDef, tuple[Any, ...]]:
    """The alternate key whose columns the URL names, with the values in key-column order."""
    if table.logical_name == "systemuser":
        raise errors.query_error(
            "The entity 'systemuser' derives from 'principal' and cannot be addressed by an alternate key; "
            "use systemusers(<systemuserid>)."
        )
    for kdef in table.keys:
        props = [table.by_logical[c].prop for c in kdef.columns]
        if set(props) == set(pairs):
            state = org.key_states[(table.logical_name, kdef.logical_name)]
            if state.status != "Active":
                raise errors.DataverseError(
                    400,
                    errors.KEY_NOT_ACTIVE,
                    f"The entity key '{kdef.schema_name}' of entity '{table.logical_name}' is not active "
                    f"(EntityKeyIndexStatus: {state.status}); it cannot be used to address records.",
                )
            return kdef, tuple(pairs[p] for p in props)
    names = ", ".join(sorted(pairs))
    raise errors.query_error(
        f"The key attributes ({names}) do not match any alternate key defined for entity '{table.logical_name}'."
    )


def find_row(org: DataverseOrg, table: TableDef, key: Key, *, required: bool = True) -> dict[str, Any] | None:
    store = org.stores[table.logical_name]
    if isinstance(key, str):
        row = store.get(key)
        if row is None and required:
            raise errors.not_found(table.logical_name, key)
        return row
    kdef, values = match_key(org, table, key)
    ids = store.key_lookup(kdef, values)
    if not ids:
        if required:
            raise errors.key_not_found(table.logical_name)
        return None
    return store.get(min(ids))


def key_columns(org: DataverseOrg, table: TableDef, key: Key) -> dict[str, Any]:
    """Column values an upsert by alternate key writes into a new row."""
    if isinstance(key, str):
        return {table.id_column: key}
    kdef, values = match_key(org, table, key)
    return {table.by_logical[c].prop: v for c, v in zip(kdef.columns, values, strict=True)}


def resolve_reference(org: DataverseOrg, req: ApiRequest, value: Any) -> tuple[TableDef, str]:
    """The table and id an ``@odata.id`` / ``@odata.bind`` value points at ("$1" in a change set)."""
    if not isinstance(value, str) or not value:
        raise errors.payload_error("", f"The entity reference {value!r} is not a URL.")
    if value.startswith("$"):
        ref = req.content_ids.get(value[1:])
        if ref is None:
            raise errors.DataverseError(
                400,
                errors.BAD_PROPERTY,
                f"Content-ID Reference: '{value}' does not exist in the batch context.",
            )
        value = ref
    segments = split_path(relative_path(value))
    if len(segments) != 1 or segments[0].key is None:
        raise errors.payload_error("", f"The entity reference '{value}' does not address a single record.")
    target = org.by_set.get(segments[0].name)
    if target is None:
        raise errors.segment_not_found(segments[0].name)
    row = find_row(org, target, parse_key(segments[0].key))
    assert row is not None
    return target, str(row[target.id_column])
