"""Unbound actions and functions: ImportSolution(Async), ReactivateEntityKey, WhoAmI.

``ImportSolution`` answers only after the import's duration (``org.import_seconds``, growing
with the package; the app waits before running it), so a client's request timeout fires first,
as it does against a real org with a real package; the import still happens. It reads the unique name, version and managed flag from the zip's
``solution.xml`` (``ImportExportXml/SolutionManifest``), installs or upgrades the ``solutions``
row and records an ``importjobs`` row (progress 100); a bad base64 string, a file that is not a
zip, a zip without ``solution.xml`` or an unreadable manifest is a 400. ``ImportSolutionAsync``
does the same as an operationtype-203 system job. One import at a time (``jobs.running_import``):
a second synchronous import is refused with a 429 (app.py), a second asynchronous one gets a job
that has failed with the customization-lock error. ``ReactivateEntityKey`` submits a new
operationtype-63 index job and answers 204 without a body.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
import zipfile
from typing import TYPE_CHECKING, Any
from xml.etree import ElementTree

from rescue_sandbox.dataverse import errors, jobs
from rescue_sandbox.dataverse.protocol import (
    ApiRequest,
    ApiResponse,
    Segment,
    error_response,
    json_response,
    no_content,
)
from rescue_sandbox.dataverse.values import normalize_guid

if TYPE_CHECKING:
    from rescue_sandbox.dataverse.org import DataverseOrg

OPERATIONS = {"ImportSolution", "ImportSolutionAsync", "ReactivateEntityKey", "WhoAmI"}
_MAX_MANIFEST = 5 * 1024 * 1024
# "The maximum size of a solution file is 95 MB" (Microsoft Learn, Power Apps, "Import solutions"):
# read as 95,000,000 bytes, the stricter reading (docs/sandbox.md).
MAX_SOLUTION_FILE_BYTES = 95_000_000
_VERSION = re.compile(r"^\d+(\.\d+){1,3}$")


def _invalid(reason: str) -> errors.DataverseError:
    return errors.DataverseError(400, errors.IMPORT_FAILED, f"The import file is invalid. {reason}")


def read_manifest(customization_file: Any) -> dict[str, Any]:
    """Unique name, version, managed flag and friendly name of a solution zip (base64)."""
    if not isinstance(customization_file, str) or not customization_file:
        raise errors.payload_error("", "CustomizationFile is required and must be a base64 string.")
    try:
        data = base64.b64decode(customization_file, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _invalid("CustomizationFile is not valid base64.") from exc
    if len(data) > MAX_SOLUTION_FILE_BYTES:
        raise _invalid(f"The solution file is {len(data):,} bytes; at most 95 MB can be imported.")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise _invalid("The file is not a solution zip file.") from exc
    with archive:
        entry = next((i for i in archive.infolist() if i.filename.lower() == "solution.xml"), None)
        if entry is None:
            raise _invalid("The solution zip file does not contain solution.xml.")
        if entry.file_size > _MAX_MANIFEST:
            raise _invalid("solution.xml is too large.")
        try:
            root = ElementTree.fromstring(archive.read(entry))
        except (ElementTree.ParseError, zipfile.BadZipFile, OSError) as exc:
            raise _invalid(f"solution.xml cannot be read: {exc}") from exc
    manifest = root.find("SolutionManifest") if root.tag == "ImportExportXml" else None
    if manifest is None:
        raise _invalid("solution.xml has no ImportExportXml/SolutionManifest element.")
    name = (manifest.findtext("UniqueName") or "").strip()
    version = (manifest.findtext("Version") or "").strip()
    managed = (manifest.findtext("Managed") or "").strip()
    if not name or not _VERSION.match(version) or managed not in ("0", "1"):
        raise _invalid("solution.xml must give UniqueName, Version (a.b.c.d) and Managed (0 or 1).")
    friendly = None
    label = manifest.find("LocalizedNames/LocalizedName")
    if label is not None:
        friendly = label.get("description")
    return {"uniquename": name, "version": version, "managed": managed == "1", "friendlyname": friendly}


def _import_job_id(body: dict[str, Any]) -> str:
    given = body.get("ImportJobId")
    if given is None:
        raise errors.payload_error("", "ImportJobId is required.")
    job_id = normalize_guid(given) if isinstance(given, str) else None
    if job_id is None:
        raise errors.payload_error(
            "", f"Cannot convert the literal '{given}' to the expected type 'Edm.Guid'."
        )
    return job_id


def _import(org: DataverseOrg, req: ApiRequest) -> ApiResponse:
    body = req.json()
    import_job_id = _import_job_id(body)
    for flag in ("OverwriteUnmanagedCustomizations", "PublishWorkflows"):
        if flag in body and not isinstance(body[flag], bool):
            raise errors.payload_error("", f"{flag} must be a boolean.")
    manifest = read_manifest(body.get("CustomizationFile"))
    try:
        with org.transaction():
            jobs.apply_import(org, manifest, import_job_id)
    except errors.DataverseError as exc:
        jobs.record_import_job(org, import_job_id, manifest, exc.message)
        return error_response(exc)
    return no_content()


def _import_async(org: DataverseOrg, req: ApiRequest) -> ApiResponse:
    body = req.json()
    import_job_id = _import_job_id(body)
    manifest: dict[str, Any] | None = None
    failure: str | None = None
    try:
        manifest = read_manifest(body.get("CustomizationFile"))
    except errors.DataverseError as exc:
        if exc.code == errors.PAYLOAD_ERROR:
            raise
        failure = exc.message
    size = len(str(body.get("CustomizationFile") or "")) * 3 // 4  # base64 -> bytes
    if jobs.running_import(org) is not None:
        # Accepted, but its job fails at once: one solution operation at a time.
        job_id = jobs.refused_import_job(org, manifest, import_job_id)
    else:
        job_id = jobs.submit_import_job(org, manifest, import_job_id, failure, size)
    payload = {
        "@odata.context": f"{req.api_root}/$metadata#Microsoft.Dynamics.CRM.ImportSolutionAsyncResponse",
        "AsyncOperationId": job_id,
        "ImportJobKey": import_job_id,
    }
    return json_response(200, payload)


def _reactivate(org: DataverseOrg, req: ApiRequest) -> ApiResponse:
    body = req.json()
    table_name, key_name = body.get("EntityLogicalName"), body.get("EntityKeyLogicalName")
    if not isinstance(table_name, str) or not isinstance(key_name, str):
        raise errors.payload_error("", "EntityLogicalName and EntityKeyLogicalName are required strings.")
    table = org.tables.get(table_name)
    if table is None:
        raise errors.DataverseError(404, errors.NOT_FOUND, f"Could not find entity with name {table_name}.")
    if table.key(key_name) is None:
        raise errors.DataverseError(
            404, errors.NOT_FOUND, f"Could not find entity key {key_name} on entity {table_name}."
        )
    state = org.key_states[(table_name, key_name)]
    if state.status == "Active":
        raise errors.DataverseError(
            400,
            errors.KEY_ALREADY_ACTIVE,
            f"The entity key {key_name} is already active; there is nothing to reactivate.",
        )
    jobs.submit_index_job(org, table_name, key_name)
    return no_content()


def _who_am_i(org: DataverseOrg, req: ApiRequest) -> ApiResponse:
    caller = req.caller
    app_id = str(caller.get("appid") or caller.get("azp") or "")
    users = org.find("systemuser", "applicationid", app_id) if normalize_guid(app_id) else []
    root = next((r for r in org.rows("businessunit") if r["_parentbusinessunitid_value"] is None), None)
    user_id = users[0]["systemuserid"] if users else normalize_guid(str(caller.get("oid") or "")) or ""
    business_unit = users[0]["_businessunitid_value"] if users else (root["businessunitid"] if root else None)
    payload = {
        "@odata.context": f"{req.api_root}/$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse",
        "BusinessUnitId": business_unit,
        "UserId": user_id,
        "OrganizationId": org.organization_id,
    }
    return json_response(200, payload)


def handle(org: DataverseOrg, req: ApiRequest, segments: list[Segment]) -> ApiResponse:
    head = segments[0]
    if len(segments) != 1:
        raise errors.segment_not_found(segments[1].name)
    if head.name == "WhoAmI":
        if req.method != "GET" or head.key not in (None, ""):
            raise errors.DataverseError(
                404,
                errors.BAD_SEGMENT,
                f"No HTTP resource was found that matches the request URI '{req.api_root}/{req.path}'.",
            )
        return _who_am_i(org, req)
    if req.method != "POST" or head.key is not None:
        raise errors.DataverseError(
            404,
            errors.BAD_SEGMENT,
            f"No HTTP resource was found that matches the request URI '{req.api_root}/{req.path}'.",
        )
    if head.name == "ImportSolution":
        return _import(org, req)
    if head.name == "ImportSolutionAsync":
        return _import_async(org, req)
    return _reactivate(org, req)
