"""`reconcile validate`: check tenant files (YAML, schema, references) without any network.

Every problem of every file is listed at once on stderr as ``file:line:col: path: message``
(raised as ``ConfigErrors``; the CLI's one error table turns it into exit 1). This module
imports only the config layer, so the command starts fast and cannot reach an API. The one
exception: ``--check-secrets`` reads the Key Vault secrets the tenants name (that is the only way
to know they exist and can be read), importing the engine for it only then.
"""

from __future__ import annotations

from pathlib import Path

import click

from reconciler.cli.allow_hosts import allow_host_option, allowed_hosts
from reconciler.config import LoadedTenant, SecretResolver, check_secrets, load_tenants, secret_refs
from reconciler.errors import ConfigErrors, Problem


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def summary_line(tenant: LoadedTenant, *, secrets_checked: bool = False) -> str:
    """``contoso: ok (5 technicians, 2 rescue groups, 2 files)``; technician rules, when any,
    after the technicians (``1 technician, 2 technician rules, ...``)."""
    rules = len(tenant.model.technician_rules)
    parts = [
        _count(len(tenant.model.technicians), "technician"),
        *([_count(rules, "technician rule")] if rules else []),
        _count(len(tenant.model.rescue_groups), "rescue group"),
        _count(len(tenant.files), "file"),
    ]
    if secrets_checked:
        parts.append(f"{_count(len(secret_refs(tenant.model)), 'secret')} resolved")
    return f"{tenant.name}: ok ({', '.join(parts)})"


def _overrides(sandbox: str | None, tenant: LoadedTenant) -> dict[str, str]:
    """The secret values a sandbox run uses for ``tenant`` (none without a sandbox)."""
    if not sandbox:
        return {}
    from reconciler.engine.connection import SandboxInfo  # only here: validate stays light

    entry = SandboxInfo.load(sandbox).tenant(tenant.name)
    return {str(k): str(v) for k, v in dict(entry.get("secrets") or {}).items()}


def _vault_problems(loaded: list[LoadedTenant], sandbox: str | None) -> list[Problem]:
    """Every Key Vault secret the tenants name, read once (no request when none is named)."""
    if not any(ref.keyvault is not None for tenant in loaded for _, ref in secret_refs(tenant.model)):
        return []
    from reconciler.engine.connection import SandboxInfo  # only here: validate stays light
    from reconciler.engine.planner import settings_from_env
    from reconciler.engine.vault import vault_problems
    from reconciler.providers.loop import run

    info = SandboxInfo.load(sandbox) if sandbox else None
    return run(vault_problems(loaded, info, settings_from_env()))


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--tenant", "tenants", multiple=True, metavar="NAME", help="Only this tenant (repeatable).")
@click.option(
    "--check-secrets",
    "resolve_secrets",
    is_flag=True,
    help=(
        "Also resolve every secret reference (environment variables, files, and Key Vault secrets, "
        "read with the fleet's identity); values are never shown."
    ),
)
@click.option(
    "--sandbox",
    envvar="RECONCILE_SANDBOX",
    metavar="DIR",
    help="With --check-secrets: resolve the references the way a run against this sandbox does.",
)
@allow_host_option
def validate(
    paths: tuple[Path, ...], tenants: tuple[str, ...], resolve_secrets: bool, sandbox: str | None
) -> None:
    """Check tenant files (default: tenants/) without opening any network connection.

    Exit 0 with one line per tenant, or exit 1 listing every problem as file:line:col.
    """
    loaded = load_tenants(list(paths) or [Path("tenants")], only=list(tenants), allow_hosts=allowed_hosts())
    if resolve_secrets:
        problems: list[Problem] = []
        for tenant in loaded:
            problems += check_secrets(
                tenant,
                SecretResolver(tenant.folder, overrides=_overrides(sandbox, tenant), owner=tenant.name),
            )
        problems += _vault_problems(loaded, sandbox)
        if problems:
            raise ConfigErrors(problems)
    for tenant in loaded:
        click.echo(summary_line(tenant, secrets_checked=resolve_secrets))
