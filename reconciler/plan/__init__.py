"""Plans: the pure value a diff produces and apply consumes (no I/O here but `reader.py`, the one
reader of saved plan files)."""

from reconciler.plan.changes import (
    OPS,
    Action,
    ActionName,
    Change,
    Create,
    Delete,
    FieldChange,
    Manual,
    Op,
    UnknownChange,
    Update,
)
from reconciler.plan.model import FORMAT_VERSION, Plan, SafetySettings, SafetyViolation, TenantPlan
from reconciler.plan.reader import decode_plan, read_plan_file
from reconciler.plan.result import ApplyResult, Outcome, TenantApplyResult
from reconciler.plan.serialize import encode_plan, encode_resource, encode_value

__all__ = [
    "FORMAT_VERSION",
    "OPS",
    "Action",
    "ActionName",
    "ApplyResult",
    "Change",
    "Create",
    "Delete",
    "FieldChange",
    "Manual",
    "Op",
    "Outcome",
    "Plan",
    "SafetySettings",
    "SafetyViolation",
    "TenantApplyResult",
    "TenantPlan",
    "UnknownChange",
    "Update",
    "decode_plan",
    "encode_plan",
    "encode_resource",
    "encode_value",
    "read_plan_file",
]
