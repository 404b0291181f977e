"""Pure mapping between Dataverse rows and resources (no HTTP; unit-tested on plain dicts).

Every logical name of the LogMeIn solution comes from the solution profile. The runtime auth
code column is never selected, so it can never reach a resource, a plan or an export.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.profile import SolutionProfile
from reconciler.resources import (
    ApplicationUser,
    IntegrationConfig,
    LiveMeta,
    SecretHasher,
    SessionKey,
    Solution,
    TechnicianSettings,
)

# The settings row's logical fields, in column order, from the resource type itself; the
# boolean ones are those the model declares ``bool | None``.
INTEGRATION_FIELDS = tuple(
    f.name
    for f in dataclasses.fields(IntegrationConfig)
    if f.name not in ("meta", *IntegrationConfig.key_fields)
)
_BOOL_FIELDS = tuple(
    name
    for name, hint in typing.get_type_hints(IntegrationConfig).items()
    if name in INTEGRATION_FIELDS and hint == bool | None
)
_URL_FIELDS = ("endpoint", "org_url")


def _etag(row: Mapping[str, Any]) -> str:
    return str(row.get("@odata.etag") or "")


def _url(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().rstrip("/")
    scheme, sep, rest = text.partition("://")
    if not sep:
        return text
    host, slash, path = rest.partition("/")
    return f"{scheme.lower()}://{host.lower()}{slash}{path}"


def _guid(value: Any) -> str | None:
    return value.strip().strip("{}").lower() if isinstance(value, str) and value.strip() else None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def solution_select() -> list[str]:
    return ["solutionid", "uniquename", "friendlyname", "version", "ismanaged"]


def solution_from_row(row: Mapping[str, Any]) -> Solution:
    return Solution(
        unique_name=str(row["uniquename"]),
        version=_text(row.get("version")),
        managed=bool(row.get("ismanaged")),
        meta=LiveMeta(id=str(row.get("solutionid", "")), etag=_etag(row)),
    )


def integration_select(profile: SolutionProfile) -> list[str]:
    cols = profile.integration.columns
    return [profile.integration.id_column, "modifiedon", *(getattr(cols, f) for f in INTEGRATION_FIELDS)]


def integration_from_row(
    row: Mapping[str, Any], profile: SolutionProfile, hasher: SecretHasher
) -> IntegrationConfig:
    """The configuration row as a resource; the SSO password only as a keyed digest."""
    cols = profile.integration.columns
    names = {v: k for k, v in profile.integration.instance_values.items()}
    raw_instance = row.get(cols.instance)
    instance = names.get(int(raw_instance)) if isinstance(raw_instance, int) else _text(raw_instance)
    values: dict[str, Any] = {
        "instance": instance,
        "endpoint": _url(row.get(cols.endpoint)),
        "company_id": _text(row.get(cols.company_id)),
        "sso_password": hasher.sensitive(_text(row.get(cols.sso_password))),
        "org_url": _url(row.get(cols.org_url)),
        "office365_tenant_id": _guid(row.get(cols.office365_tenant_id)),
    }
    for name in _BOOL_FIELDS:
        raw = row.get(getattr(cols, name))
        values[name] = bool(raw) if raw is not None else None
    return IntegrationConfig(
        **values,
        meta=LiveMeta(id=str(row.get(profile.integration.id_column, "")), etag=_etag(row)),
    )


def integration_to_row(
    fields: Mapping[str, Any], profile: SolutionProfile, *, sso_password: str | None
) -> dict[str, Any]:
    """Columns to write for the given logical fields (None = leave alone).

    ``sso_password`` is the resolved secret, passed separately so it never sits in a resource.
    """
    cols = profile.integration.columns
    row: dict[str, Any] = {}
    for name in INTEGRATION_FIELDS:
        if name == "sso_password":
            if sso_password is not None:
                row[cols.sso_password] = sso_password
            continue
        value = fields.get(name)
        if value is None:
            continue
        if name == "instance":
            value = profile.integration.instance_values[str(value)]
        row[getattr(cols, name)] = value
    return row


def settings_select(profile: SolutionProfile) -> list[str]:
    ts = profile.technician_settings
    return [ts.id_column, ts.user_value_column, ts.columns.technician_id, ts.columns.sso_id, "modifiedon"]


@dataclass(frozen=True)
class SettingsRows:
    """Settings rows keyed by user, plus what did not fit that shape."""

    by_user: dict[str, TechnicianSettings]
    duplicates: list[str]
    orphans: list[str]


def settings_from_rows(
    rows: Iterable[Mapping[str, Any]], users: Mapping[str, str], profile: SolutionProfile
) -> SettingsRows:
    """Rows -> resources keyed by the user's UPN.

    ``users`` maps systemuserid -> UPN. When a user has several rows, the most recently
    modified one is kept (it is what the integration reads last) and the others are reported.
    """
    ts = profile.technician_settings
    grouped: dict[str, list[Mapping[str, Any]]] = {}
    orphans: list[str] = []
    for row in rows:
        user_id = _guid(row.get(ts.user_value_column))
        upn = users.get(user_id or "")
        if upn is None:
            orphans.append(str(row.get(ts.id_column, "")))
            continue
        grouped.setdefault(upn, []).append(row)
    by_user: dict[str, TechnicianSettings] = {}
    duplicates: list[str] = []
    for upn, group in grouped.items():
        group.sort(key=lambda r: (str(r.get("modifiedon") or ""), str(r.get(ts.id_column))), reverse=True)
        keep = group[0]
        if len(group) > 1:
            others = ", ".join(str(r.get(ts.id_column)) for r in group[1:])
            duplicates.append(
                f"{upn} has {len(group)} LogMeIn settings rows; keeping {keep.get(ts.id_column)} "
                f"(most recently modified), not managing {others}"
            )
        by_user[upn] = TechnicianSettings(
            user=upn,
            technician_id=_text(keep.get(ts.columns.technician_id)),
            sso_id=_text(keep.get(ts.columns.sso_id)),
            user_id=_guid(keep.get(ts.user_value_column)),
            meta=LiveMeta(id=str(keep.get(ts.id_column, "")), etag=_etag(keep)),
        )
    return SettingsRows(by_user, duplicates, orphans)


def settings_to_row(
    fields: Mapping[str, Any], profile: SolutionProfile, *, user_id: str | None = None
) -> dict[str, Any]:
    """Columns to write for a settings row (the auth code column is never written)."""
    ts = profile.technician_settings
    row: dict[str, Any] = {}
    if fields.get("technician_id") is not None:
        row[ts.columns.technician_id] = fields["technician_id"]
    if fields.get("sso_id") is not None:
        row[ts.columns.sso_id] = fields["sso_id"]
    if user_id is not None:
        row[f"{ts.user_navigation}@odata.bind"] = f"/systemusers({user_id})"
    return row


APP_USER_SELECT = [
    "systemuserid",
    "applicationid",
    "firstname",
    "lastname",
    "internalemailaddress",
    "isdisabled",
    "_businessunitid_value",
]


def application_user_from_row(
    row: Mapping[str, Any], role_names: Iterable[str], business_units: Mapping[str, str]
) -> ApplicationUser:
    """``business_units`` maps businessunitid -> name."""
    email = _text(row.get("internalemailaddress"))
    return ApplicationUser(
        app_id=_guid(row.get("applicationid")) or "",
        first_name=_text(row.get("firstname")),
        last_name=_text(row.get("lastname")),
        email=email.lower() if email else None,
        business_unit=business_units.get(_guid(row.get("_businessunitid_value")) or ""),
        roles=frozenset(role_names),
        meta=LiveMeta(
            id=_guid(row.get("systemuserid")) or "",
            etag=_etag(row),
            extra=(("business_unit_id", _guid(row.get("_businessunitid_value")) or ""),),
        ),
    )


def application_user_to_row(fields: Mapping[str, Any], *, business_unit_id: str | None) -> dict[str, Any]:
    """Columns for create/update (``fullname`` is computed by Dataverse: never sent)."""
    mapping = {"first_name": "firstname", "last_name": "lastname", "email": "internalemailaddress"}
    row: dict[str, Any] = {col: fields[name] for name, col in mapping.items() if fields.get(name) is not None}
    if fields.get("app_id") is not None:
        row["applicationid"] = fields["app_id"]
    if business_unit_id is not None:
        row["businessunitid@odata.bind"] = f"/businessunits({business_unit_id})"
    return row


def session_key_from_metadata(
    key: Mapping[str, Any], profile: SolutionProfile, job: Mapping[str, Any] | None
) -> SessionKey:
    extra: list[tuple[str, str]] = [("metadata_id", str(key.get("MetadataId", "")))]
    async_job = _guid(key.get("AsyncJob"))
    if async_job:
        extra.append(("async_job", async_job))
    if job is not None:
        extra.append(("job_status", str(job.get("statuscode", ""))))
        message = _text(job.get("friendlymessage")) or _text(job.get("message"))
        if message:
            extra.append(("job_message", message[:500]))
    return SessionKey(
        table=profile.session.table,
        key_name=profile.session.key_logical_name,
        status=_text(key.get("EntityKeyIndexStatus")),
        meta=LiveMeta(id=str(key.get("MetadataId", "")), extra=tuple(extra)),
    )
