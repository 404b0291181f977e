"""The emulated solution's components: the ``solutioncomponents`` rows of the installed solution.

When the solution the schema names is installed (by the seed or by an import), its tables
(componenttype 1, ``objectid`` = the table's MetadataId), all their columns (2, the
attribute's MetadataId: a table added with its subcomponents) and the Session Key (14) become components of that ``solutions`` row, as the real
solution's managed components are. A client finds the solution's tables from here without
knowing a single logical name (``reconcile profile discover``).
"""

from __future__ import annotations

from rescue_sandbox.dataverse.org_interface import OrgInterface
from rescue_sandbox.dataverse.schema import metadata_id

ENTITY, ATTRIBUTE, ENTITY_KEY = 1, 2, 14


def register(org: OrgInterface, solution_id: str, unique_name: str) -> None:
    """Record the components of ``solution_id`` if it is the emulated solution (idempotent)."""
    if unique_name != org.schema.unique_name or org.find(
        "solutioncomponent", "_solutionid_value", solution_id
    ):
        return
    for part in org.schema.tables:
        table = org.tables[part.table]
        components = [(ENTITY, table.metadata_id)]
        components += [
            (ATTRIBUTE, metadata_id("attribute", table.logical_name, col.name))
            for col in table.by_logical.values()
        ]
        components += [(ENTITY_KEY, key.metadata_id) for key in table.keys]
        for kind, object_id in components:
            org.insert(
                "solutioncomponent",
                {
                    "componenttype": kind,
                    "objectid": object_id,
                    "_solutionid_value": solution_id,
                    "rootcomponentbehavior": 0 if kind == ENTITY else None,
                    "ismetadata": True,
                },
            )
