"""The diff engine: pure functions from desired and live resources to a plan."""

from reconciler.diff.desired import (
    DesiredState,
    RescueDirectory,
    build_desired,
)
from reconciler.diff.engine import diff_tenant, field_changes

__all__ = [
    "DesiredState",
    "RescueDirectory",
    "build_desired",
    "diff_tenant",
    "field_changes",
]
