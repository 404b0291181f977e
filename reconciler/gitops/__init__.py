"""GitOps helpers behind the workflows in .github/workflows (docs/gitops.md).

``changed``: which tenants a git change touches (git through subprocess). ``comment``: the one
pull-request comment merged from per-tenant plans. ``drift``: one issue per drifting tenant,
deduplicated by a fingerprint of the drift. ``secrets_env``: a tenant's secrets for a job. ``matrix``: the job
matrix (a job per tenant, or shards beyond GitHub's 256 jobs).
The workflows stay a few lines of shell around these, so the logic is here, where it is tested.
"""

from reconciler.gitops.changed import (
    DEFAULT_ALL_WHEN,
    TenantChanges,
    changed_tenants,
    classify,
    tenant_paths_for_files,
)
from reconciler.gitops.comment import (
    comment_body,
    expected_tenants,
    load_plan_file,
    merge_plans,
    plan_files,
    read_saved_plans,
)
from reconciler.gitops.drift import (
    IssueDecision,
    OpenIssue,
    decide,
    drift_fingerprint,
    github_output,
    issue_body,
    parse_issues,
    tenant_plan,
)
from reconciler.gitops.matrix import (
    GITHUB_MAX_JOBS,
    MatrixJob,
    keep_tenants,
    matrix_jobs,
    matrix_json,
    parse_matrix,
)
from reconciler.gitops.secrets_env import (
    MAX_JOB_SECRETS,
    SecretEnv,
    names_output,
    secret_env,
    secret_names,
    slot_values,
)

__all__ = [
    "DEFAULT_ALL_WHEN",
    "GITHUB_MAX_JOBS",
    "MAX_JOB_SECRETS",
    "IssueDecision",
    "MatrixJob",
    "OpenIssue",
    "SecretEnv",
    "TenantChanges",
    "changed_tenants",
    "classify",
    "comment_body",
    "decide",
    "drift_fingerprint",
    "expected_tenants",
    "github_output",
    "issue_body",
    "keep_tenants",
    "load_plan_file",
    "matrix_jobs",
    "matrix_json",
    "merge_plans",
    "names_output",
    "parse_issues",
    "parse_matrix",
    "plan_files",
    "read_saved_plans",
    "secret_env",
    "secret_names",
    "slot_values",
    "tenant_paths_for_files",
    "tenant_plan",
]
