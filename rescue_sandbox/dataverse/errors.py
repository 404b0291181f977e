"""Dataverse-shaped errors: one exception type that every layer of the emulator raises.

Dataverse answers every failure with ``{"error": {"code": "0x...", "message": "..."}}``. The
codes below are the documented ones where Microsoft documents them (reference/dataverse.md, the
Web API troubleshooting and batch pages). Where no code is documented the sandbox picks one and
says so ("sandbox-chosen"), so a client never learns to depend on it: clients should branch on
the HTTP status and only log the code.
"""

from __future__ import annotations

import json
from typing import Any

# Documented codes.
NOT_FOUND = "0x80040217"  # "<table> With Id = <id> Does Not Exist" (404)
ETAG_MISMATCH = "0x80060882"  # stale If-Match (412)
BAD_PROPERTY = "0x80060888"  # unknown property / query option / syntax error in a query (400)
BAD_SEGMENT = "0x8006088a"  # "Resource not found for the segment 'x'." (404)
PAYLOAD_ERROR = "0x80048d19"  # "Error identified in Payload provided by the user ..." (400)
VALIDATION = "0x80044331"  # "A validation error occurred. ..." (400)
OUT_OF_RANGE = "0x8004431a"  # option-set value outside the valid range (400)
DUPLICATE = "0x80040237"  # "Cannot insert duplicate key." / matching key values exist (412)
DUPLICATE_KEY_VALUES = "0x80060892"  # create/update violating an active alternate key (412)
RATE_REQUESTS = "0x80072322"  # service protection: number of requests (429)
RATE_EXECUTION = "0x80072321"  # service protection: combined execution time (429)
RATE_CONCURRENCY = "0x80072326"  # service protection: concurrent requests (429)
UNEXPECTED = "0x80040216"  # "An unexpected error occurred." (500)
METHOD_NOT_SUPPORTED = "0x80040800"  # "The 'Delete' method does not support entities of type ..."
# "Invalid argument." (InvalidArgument). Which bulk-action mistakes get it is the sandbox's choice ⚠:
# a record of another type in Targets (the SDK's CreateMultiple answers it), empty Targets, no id.
INVALID_ARGUMENT = "0x80040203"
# Another solution operation holds the org's customization lock (KB 4343228: "-2147020463 or
# 80071151"); the Web API answers it as 429 in public clients' logs (docs/sandbox.md).
CUSTOMIZATION_LOCK = "0x80071151"
CUSTOMIZATION_LOCK_NUMBER = -2147020463

# Sandbox-chosen codes (no documented code for these conditions).
UNAUTHENTICATED = "0x80072560"  # 401: missing, invalid, expired or foreign bearer token
KEY_NOT_ACTIVE = "0x80060890"  # addressing by an alternate key that is not Active
BATCH_LIMIT = "0x8005e239"  # more than 1,000 requests in a $batch, or a malformed batch
IMPORT_FAILED = "0x80048060"  # ImportSolution: bad base64 / zip / solution.xml, downgrade
JOB_IN_PROGRESS = "0x80040265"  # deleting a system job that has not completed
KEY_ALREADY_ACTIVE = "0x80048d5c"  # ReactivateEntityKey on an Active key
NOT_SUPPORTED = "0x80060999"  # a Dataverse feature the sandbox does not emulate
BULK_LIMIT = "0x80060997"  # more than 1,000 Targets in Create/Update/UpsertMultiple (bulk.MAX_TARGETS)


class DataverseError(Exception):
    """A failure answered to the client as a Dataverse error body with an HTTP status."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message}}

    def body_bytes(self) -> bytes:
        return json.dumps(self.body()).encode("utf-8")


# The text Dataverse gives (microsoft/coe-starter-kit#8757; Microsoft Learn, "Concurrent solution
# operation failures").
IMPORT_RUNNING_MESSAGE = (
    "Cannot start another [Import] because there is a previous [Import] running at this moment. "
    "Use Solution History for more details. -- The solution installation or removal failed due to "
    "the installation or removal of another solution at the same time. Please try again later."
)


def import_running() -> DataverseError:
    """A second solution import while one runs: Dataverse runs one solution operation at a time.

    429 without ``Retry-After``: the lock lasts as long as the running import (minutes), longer
    than any throttling back-off, and the service says nothing of when it ends.
    """
    return DataverseError(429, CUSTOMIZATION_LOCK, IMPORT_RUNNING_MESSAGE)


def not_found(logical_name: str, row_id: str) -> DataverseError:
    return DataverseError(404, NOT_FOUND, f"{logical_name} With Id = {row_id} Does Not Exist")


def key_not_found(logical_name: str) -> DataverseError:
    return DataverseError(
        404, NOT_FOUND, f"A record with the specified key values does not exist in {logical_name} entity"
    )


def segment_not_found(segment: str) -> DataverseError:
    return DataverseError(404, BAD_SEGMENT, f"Resource not found for the segment '{segment}'.")


def unknown_property(name: str, logical_name: str) -> DataverseError:
    return DataverseError(
        400,
        BAD_PROPERTY,
        f"Could not find a property named '{name}' on type 'Microsoft.Dynamics.CRM.{logical_name}'.",
    )


def query_error(message: str) -> DataverseError:
    return DataverseError(400, BAD_PROPERTY, message)


def payload_error(entity_set: str, inner: str) -> DataverseError:
    """The wrapper Dataverse puts around OData payload (deserialisation) failures."""
    return DataverseError(
        400,
        PAYLOAD_ERROR,
        f"Error identified in Payload provided by the user for Entity :'{entity_set}', For more "
        "information on this error please follow this help link "
        "https://go.microsoft.com/fwlink/?linkid=2195293  ----> InnerException : "
        f"Microsoft.OData.ODataException: {inner}",
    )


def validation_error(message: str) -> DataverseError:
    return DataverseError(400, VALIDATION, f"A validation error occurred.  {message}")


def etag_mismatch() -> DataverseError:
    return DataverseError(
        412,
        ETAG_MISMATCH,
        "The version of the existing record doesn't match the RowVersion property provided.",
    )


def duplicate_record(message: str = "A record with matching key values already exists.") -> DataverseError:
    return DataverseError(412, DUPLICATE, message)


def method_not_supported(method: str, logical_name: str) -> DataverseError:
    return DataverseError(
        400,
        METHOD_NOT_SUPPORTED,
        f"The '{method}' method does not support entities of type '{logical_name}'. "
        "MessageProcessorCache returned MessageProcessor.Empty.",
    )


def not_supported(what: str) -> DataverseError:
    """A real Dataverse feature the sandbox leaves out (400, not 5xx, so clients do not retry)."""
    return DataverseError(400, NOT_SUPPORTED, f"The sandbox does not emulate {what}.")
