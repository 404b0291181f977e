"""The diff engine: pure functions from desired and live resources to a plan."""

from reconciler.diff.desired import (
    NEW_TECHNICIAN_PREFIX,
    DesiredState,
    RescueDirectory,
    build_desired,
)
from reconciler.diff.engine import diff_tenant, field_changes

__all__ = [
    "NEW_TECHNICIAN_PREFIX",
    "DesiredState",
    "RescueDirectory",
    "build_desired",
    "diff_tenant",
    "field_changes",
]
