"""The emulated solution's components: the ``solutioncomponents`` rows of the installed solution.

When the solution the schema names is installed (by the seed or by an import), its tables
(componenttype 1, ``objectid`` = the table's MetadataId), all their columns (2, the
attribute's MetadataId: a table added with its subcomponents), the Session Key (14), each
table's main form (60) and two views (26), and the solution's security role (20), web resources
(61), plug-in assembly (91), type (90) and steps (92) become components of that ``solutions``
row, as the real solution's managed components are. A client finds the solution's tables from here without
knowing a single logical name (``reconcile profile discover``).
"""

from __future__ import annotations

from rescue_sandbox.dataverse import system_columns
from rescue_sandbox.dataverse.org_interface import OrgInterface
from rescue_sandbox.dataverse.schema import metadata_id

ENTITY, ATTRIBUTE, ENTITY_KEY = 1, 2, 14
# What else a real solution of this kind holds (solutioncomponent.componenttype, Microsoft Learn's
# SolutionComponent table reference): its security role, each table's main form and views, web
# resources and the plug-in assembly, type and steps that carry sessions into the org.
ROLE, SAVED_QUERY, SYSTEM_FORM, WEB_RESOURCE = 20, 26, 60, 61
PLUGIN_TYPE, PLUGIN_ASSEMBLY, SDK_MESSAGE_PROCESSING_STEP = 90, 91, 92
_WEB_RESOURCES = ("lmi_/scripts/configuration.js", "lmi_/images/logmein_16.png")
_STEPS = ("Create of LogMeIn Session", "Update of Case", "Create of LogMeIn Settings")
# Components that are rows (data), not table metadata (solutioncomponent.ismetadata).
_DATA = {
    ROLE,
    SAVED_QUERY,
    SYSTEM_FORM,
    WEB_RESOURCE,
    PLUGIN_TYPE,
    PLUGIN_ASSEMBLY,
    SDK_MESSAGE_PROCESSING_STEP,
}


def register(org: OrgInterface, solution_id: str, unique_name: str) -> None:
    """Record the components of ``solution_id`` if it is the emulated solution (idempotent)."""
    if unique_name != org.schema.unique_name or org.find(
        "solutioncomponent", "_solutionid_value", solution_id
    ):
        return
    for part in org.schema.tables:
        table = org.tables[part.table]
        components = [(ENTITY, table.metadata_id)]
        names = [col.name for col in table.by_logical.values()]
        names += [attr.name for attr in system_columns.metadata_only(table)]
        components += [(ATTRIBUTE, metadata_id("attribute", table.logical_name, name)) for name in names]
        components += [(ENTITY_KEY, key.metadata_id) for key in table.keys]
        components += [(SYSTEM_FORM, metadata_id("systemform", table.logical_name, "main"))]
        components += [
            (SAVED_QUERY, metadata_id("savedquery", table.logical_name, view))
            for view in ("active", "inactive")
        ]
        _insert(org, solution_id, components)
    others = [(ROLE, metadata_id("role", org.schema.app_role))]
    others += [(WEB_RESOURCE, metadata_id("webresource", name)) for name in _WEB_RESOURCES]
    others += [(PLUGIN_ASSEMBLY, metadata_id("pluginassembly", unique_name))]
    others += [(PLUGIN_TYPE, metadata_id("plugintype", unique_name, "SessionPlugin"))]
    others += [
        (SDK_MESSAGE_PROCESSING_STEP, metadata_id("sdkmessageprocessingstep", step)) for step in _STEPS
    ]
    _insert(org, solution_id, others)


def _insert(org: OrgInterface, solution_id: str, components: list[tuple[int, str]]) -> None:
    for kind, object_id in components:
        org.insert(
            "solutioncomponent",
            {
                "componenttype": kind,
                "objectid": object_id,
                "_solutionid_value": solution_id,
                "rootcomponentbehavior": 0 if kind == ENTITY else None,
                "ismetadata": kind not in _DATA,
            },
        )
