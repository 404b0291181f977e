"""Desired state: tenant files (YAML with source positions) -> validated ``Tenant`` models.

``load_tenants`` reads tenant folders and reports every problem of every file at once;
``SecretResolver`` turns secret references into ``SecretStr`` only when needed; ``schema``
generates the JSON Schema and the tenant file reference from the same models.
"""

from reconciler.config.loader import (
    DEFAULT_PATHS,
    DEFAULTS_FILE,
    LoadedTenant,
    canonical_digest,
    load_tenants,
)
from reconciler.config.models import Tenant
from reconciler.config.schema import reference_markdown, schema_text, tenant_json_schema
from reconciler.config.secrets import SecretResolver, check_secrets, secret_refs
from reconciler.config.types import SecretRef
from reconciler.config.yamlpos import SourceMap, YamlDocument, YamlPath, load_yaml_file, parse_yaml

__all__ = [
    "DEFAULTS_FILE",
    "DEFAULT_PATHS",
    "LoadedTenant",
    "SecretRef",
    "SecretResolver",
    "SourceMap",
    "Tenant",
    "YamlDocument",
    "YamlPath",
    "canonical_digest",
    "check_secrets",
    "load_tenants",
    "load_yaml_file",
    "parse_yaml",
    "reference_markdown",
    "schema_text",
    "secret_refs",
    "tenant_json_schema",
]
