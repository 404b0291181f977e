"""The diff engine: pure functions from desired and live resources to a plan."""

from reconciler.diff.compare import diff_tenant
from reconciler.diff.desired import DesiredState, build_desired
from reconciler.diff.resolve import Directories, RescueDirectory, resolve, rule_users
from reconciler.kinds import field_changes

__all__ = [
    "DesiredState",
    "Directories",
    "RescueDirectory",
    "build_desired",
    "diff_tenant",
    "field_changes",
    "resolve",
    "rule_users",
]
