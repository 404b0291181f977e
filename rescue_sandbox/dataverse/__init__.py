"""The Dataverse Web API emulator of the sandbox (DESIGN.md section 6, reference/dataverse.md).

One :class:`DataverseOrg` per tenant holds the state; :func:`create_dataverse_app` serves every
org under ``/{org host}/api/data/v9.2/`` with Dataverse's query options, paging, ETags,
``$batch``, ``$ref``, actions, bulk actions (``CreateMultiple`` ...), entity-key index jobs,
error bodies and service protection limits.
Only the sandbox server (and the CLI) import this package.
"""

from rescue_sandbox.dataverse.app import DataverseApp, create_dataverse_app
from rescue_sandbox.dataverse.errors import DataverseError
from rescue_sandbox.dataverse.jobstate import KeyState
from rescue_sandbox.dataverse.limits import ServiceLimits
from rescue_sandbox.dataverse.org import DataverseOrg

__all__ = [
    "DataverseApp",
    "DataverseError",
    "DataverseOrg",
    "KeyState",
    "ServiceLimits",
    "create_dataverse_app",
]
