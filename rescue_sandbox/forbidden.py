"""The ``403`` fault: a refused request in each service's own shape.

A reconciler whose application user lacks a privilege must say which privilege on which table,
and must treat what it could not read as Unknown (DESIGN §5). The org's roles and privileges
(dataverse/security.py) refuse what a caller lacks; the ``403`` fault refuses a share of requests
on demand, in the same shape, and nothing is processed.

Dataverse (``0x80040220``, documented as "Principal user is missing privilege on OTC for entity",
error code -2147220960; Microsoft's examples show it with HTTP 403)::

    {"error": {"code": "0x80040220", "message": "Principal user (Id=<caller>, type=8, roleCount=1,
     privilegeCount=412, accessMode=4), is missing prvRead<table> privilege (Id=<guid>) on
     OTC=<n> for entity '<table>'. context.Caller=<caller>."}}

The privilege comes from the method (GET Read, POST Create, PATCH/PUT Write, DELETE Delete,
``$ref`` Append) and the table from the path's entity set. Sandbox-chosen: the principal id is
the token's ``oid`` (Dataverse shows the application user's systemuserid), the role and privilege
counts, the privilege ids (stable per name), custom tables' object type codes (10000 + a stable
number; real orgs number them in order of creation) and the privilege named for a path that is
no entity set (``prvImportCustomization`` for ImportSolution, ``prvReadEntity`` for metadata,
otherwise ``prv<Verb><segment>``). A ``$batch`` is answered as Dataverse answers a batch whose
operations fail: a batch response whose parts are 403 (the first one only and outer status 400,
or every part and outer status 200 with ``Prefer: odata.continue-on-error``).

Rescue reports authorization problems as HTTP 200 with a status token; a 403 can only come from
the web front end, so the fault is a plain HTTP 403 with a short text body. Graph answers
``Authorization_RequestDenied``; the token endpoint Entra's ``access_denied`` (AADSTS53003,
blocked by Conditional Access) in its OAuth error shape.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from rescue_sandbox.dataverse import errors, security
from rescue_sandbox.dataverse.batch import ChangeSet, Operation, parse_batch
from rescue_sandbox.dataverse.protocol import relative_path

if TYPE_CHECKING:
    from rescue_sandbox.dataverse.org import DataverseOrg

MISSING_PRIVILEGE = security.MISSING_PRIVILEGE
_NAMESPACE = uuid.UUID("0c9f3b6e-5d1a-4e7b-9a2c-8f4d6e1b3a70")
_DATAVERSE_HEADERS = {"Content-Type": "application/json; odata.metadata=minimal", "OData-Version": "4.0"}

Answer = tuple[int, dict[str, str], bytes]


def caller_id(authorization: str | None, fallback: str) -> str:
    """The ``oid`` claim of the bearer token (not verified: only named), else a stable GUID."""
    token = (authorization or "").partition(" ")[2]
    parts = token.split(".")
    if len(parts) == 3:
        try:
            padded = parts[1] + "=" * (-len(parts[1]) % 4)
            claims = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        except (ValueError, binascii.Error, UnicodeError):
            claims = None
        if isinstance(claims, dict) and isinstance(claims.get("oid"), str):
            return str(claims["oid"])
    return str(uuid.uuid5(_NAMESPACE, fallback))


def missing_privilege_message(org: DataverseOrg | None, method: str, path: str, caller: str) -> str:
    """The 0x80040220 message for ``method`` on ``path`` (relative to the API root); the privilege
    and table as the org's own authorization names them (security.py)."""
    path = path.split("?", 1)[0].lstrip("/")
    principal = (
        f"Principal user (Id={caller}, type=8, roleCount=1, privilegeCount=412, accessMode=4), is missing"
    )
    privilege, table = security.required_privilege(org, method, path) if org is not None else (None, None)
    if privilege is None:  # no table and no named operation: a privilege named after the segment
        segment = path.split("/", 1)[0].split("(", 1)[0]
        verb = "Append" if path.endswith("/$ref") else security.VERBS.get(method.upper(), "Read")
        privilege = f"prv{verb}{segment.strip('$') or 'Organization'}"
    where = f" on OTC={security.object_type_code(table)} for entity '{table.logical_name}'" if table else ""
    return f"{principal} {privilege} privilege (Id={security.privilege_id(privilege)}){where}. context.Caller={caller}."


def _dataverse_error(message: str) -> bytes:
    return json.dumps({"error": {"code": MISSING_PRIVILEGE, "message": message}}).encode("utf-8")


def _batch_part(body: bytes, content_id: str | None) -> str:
    lines = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"]
    if content_id is not None:
        lines.append(f"Content-ID: {content_id}")
    lines += ["", "HTTP/1.1 403 Forbidden"]
    lines += [f"{name}: {value}" for name, value in _DATAVERSE_HEADERS.items()]
    lines += ["", body.decode("utf-8")]
    return "\r\n".join(lines)


def forbidden_batch(
    org: DataverseOrg | None, body: bytes, content_type: str, prefer: str, caller: str
) -> Answer:
    """A ``$batch`` whose operations are refused: 403 parts, none of them executed.

    A malformed batch gets the 400 Dataverse gives it (the structure is checked first).
    """
    try:
        items = parse_batch(body, content_type)
    except errors.DataverseError as exc:
        return exc.status, dict(_DATAVERSE_HEADERS), exc.body_bytes()
    continue_on_error = "odata.continue-on-error" in prefer.lower()
    boundary = f"batchresponse_{uuid.uuid4()}"
    parts: list[str] = []
    for item in items:
        first: Operation | None = (
            item.operations[0] if isinstance(item, ChangeSet) and item.operations else None
        )
        op = item if isinstance(item, Operation) else first
        if op is None:
            continue
        message = missing_privilege_message(org, op.method, relative_path(op.url), caller)
        parts.append(_batch_part(_dataverse_error(message), op.content_id))
        if not continue_on_error:
            break
    text = "".join(f"--{boundary}\r\n{part}\r\n" for part in parts) + f"--{boundary}--\r\n"
    headers = {"Content-Type": f"multipart/mixed; boundary={boundary}", "OData-Version": "4.0"}
    return (200 if continue_on_error or not parts else 400), headers, text.encode("utf-8")


def forbidden_response(
    service: str, method: str, template: str, *, org: DataverseOrg | None, caller: str
) -> Answer:
    """Status, headers and body of a refused request (a ``$batch`` goes to :func:`forbidden_batch`)."""
    if service == "dataverse":
        message = missing_privilege_message(org, method, template, caller)
        return 403, dict(_DATAVERSE_HEADERS), _dataverse_error(message)
    if service == "graph":
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
        body = {
            "error": {
                "code": "Authorization_RequestDenied",
                "message": "Insufficient privileges to complete the operation.",
                "innerError": {
                    "date": now,
                    "request-id": str(uuid.uuid4()),
                    "client-request-id": str(uuid.uuid4()),
                },
            }
        }
        return 403, {"Content-Type": "application/json"}, json.dumps(body).encode("utf-8")
    if service == "keyvault":  # as a vault without the caller's role assignment answers
        body_kv = {
            "error": {
                "code": "Forbidden",
                "message": f"Caller is not authorized to perform action on resource. Caller: {caller}",
                "innererror": {"code": "ForbiddenByRbac"},
            }
        }
        return 403, {"Content-Type": "application/json; charset=utf-8"}, json.dumps(body_kv).encode("utf-8")
    if service == "identity":
        body_id = {
            "error": "access_denied",
            "error_description": "AADSTS53003: Access has been blocked by Conditional Access policies. "
            "The access policy does not allow token issuance.",
            "error_codes": [53003],
        }
        return 403, {"Content-Type": "application/json; charset=utf-8"}, json.dumps(body_id).encode("utf-8")
    # Rescue: not a Rescue status token (those come with HTTP 200) but the web front end's refusal.
    return 403, {"Content-Type": "text/plain; charset=utf-8"}, b"403 Forbidden\n"
