"""`reconcile export`: write a live tenant as a tenant file (onboarding, or accepting drift)."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path

import click
from pydantic import SecretStr

from reconciler.atomicfile import write_atomic
from reconciler.cli.allow_hosts import allowed_hosts
from reconciler.cli.common import sandbox_info, sandbox_option, write_private
from reconciler.cli.schema_cmd import DEFAULT_SCHEMA as SCHEMA_FILE
from reconciler.config import LoadedTenant, load_tenants
from reconciler.config.loader import DEFAULTS_FILE
from reconciler.config.models import DEFAULT_AUTHORITY_HOST, DEFAULT_RESCUE_API
from reconciler.config.roundtrip import merge_export
from reconciler.config.types import check_tenant_name, normalise_guid, normalise_https_url
from reconciler.config.yamlpos import load_yaml_file
from reconciler.engine.connection import GRAPH_URL, TenantConnection, sandbox_connection
from reconciler.engine.export import ExportInput, env_name, read_and_export, ref_text
from reconciler.engine.vault import VaultCache, open_connection
from reconciler.errors import InputError
from reconciler.profile import effective_profile
from reconciler.providers.entra import ClientSecret
from reconciler.providers.http import ClientSettings, RequestStats
from reconciler.providers.loop import run as run_loop
from reconciler.render.escape import value_text


def _check(kind: str, value: str | None, check: Callable[[str], str]) -> str:
    if not value:
        raise InputError(f"--{kind} is required when the tenant has no tenant file yet")
    try:
        return check(value)
    except ValueError as exc:
        raise InputError(f"--{kind}: {exc}") from None


@click.command()
@click.option("--tenant", "name", required=True, metavar="NAME", help="Tenant name (folder under tenants/).")
@click.argument("root", required=False, type=click.Path(path_type=Path), default=Path("tenants"))
@click.option("--out", type=str, help="Where to write (default tenants/NAME/tenant.yaml; '-' for stdout).")
@click.option(
    "--overwrite",
    is_flag=True,
    help="Accept drift: merge live state into the existing tenant files (keeps comments, confirmed dates, export and create blocks).",
)
@click.option("--org-url", help="Dynamics org URL (when there is no tenant file yet).")
@click.option("--tenant-id", "entra_tenant", help="Entra tenant ID (when there is no tenant file yet).")
@click.option("--client-id", help="App registration client ID (when there is no tenant file yet).")
@click.option(
    "--client-secret-env",
    help="Variable holding the client secret (default <TENANT>_DYNAMICS_CLIENT_SECRET).",
)
@click.option(
    "--rescue-api-url",
    default=DEFAULT_RESCUE_API,
    show_default=True,
    help="The Rescue API the exported tenant file names (connection.rescue.api_url).",
)
@click.option(
    "--rescue-authcode-env", help="Variable holding the Rescue authcode (default <TENANT>_RESCUE_AUTHCODE)."
)
@sandbox_option
def export(
    name: str,
    root: Path,
    out: str | None,
    overwrite: bool,
    org_url: str | None,
    entra_tenant: str | None,
    client_id: str | None,
    client_secret_env: str | None,
    rescue_api_url: str,
    rescue_authcode_env: str | None,
    sandbox: str | None,
) -> None:
    """Read a live tenant and write it as YAML (secrets as references, never values)."""
    try:
        check_tenant_name(name)
    except ValueError as exc:
        raise InputError(f"--tenant: {exc}") from None
    info = sandbox_info(sandbox)
    existing = root / name
    conn: TenantConnection
    loaded: LoadedTenant | None = None
    authcode_ref = rescue_authcode_env or env_name(name, "RESCUE_AUTHCODE")
    sso_ref = env_name(name, "RESCUE_SSO_PASSWORD")
    if existing.is_dir() and any(existing.glob("*.y*ml")):
        (loaded,) = load_tenants([root], only=[name], allow_hosts=allowed_hosts())
        # Its Key Vault secrets (the authcode may be one) are read first, as every run does.
        conn = run_loop(open_connection(loaded, info, VaultCache(), ClientSettings(), RequestStats()))
        dyn = loaded.model.connection.dynamics
        cred = dyn.credential
        if cred.client_secret is not None:
            credential_lines = [f"client_secret: {ref_text(cred.client_secret.ref)}"]
            credential_ref = f"client secret {ref_text(cred.client_secret.ref)}"
        elif cred.certificate is not None:
            credential_lines = [
                "certificate:",
                f"  private_key: {ref_text(cred.certificate.private_key.ref)}",
                f"  thumbprint: {cred.certificate.thumbprint}",
            ]
            credential_ref = f"certificate key {ref_text(cred.certificate.private_key.ref)}"
        else:
            assert cred.federated_token_file is not None
            credential_lines = [f"federated_token_file: {ref_text(cred.federated_token_file.ref)}"]
            credential_ref = f"federated token {ref_text(cred.federated_token_file.ref)}"
        authcode_text = ref_text(loaded.model.connection.rescue.authcode.ref)
        sso_text = (
            ref_text(loaded.model.integration.sso_password.ref)
            if loaded.model.integration is not None
            else ref_text(f"env:{sso_ref}")
        )
        export_input = ExportInput(
            name,
            dyn.org_url,
            dyn.tenant_id,
            dyn.client_id,
            credential_lines,
            loaded.model.connection.rescue.api_url,
            authcode_text,
            sso_text,
            profile_overrides=dict(loaded.model.profile),
            credential_ref=credential_ref,
        )
        profile = effective_profile(loaded.model.profile)
    else:
        secret_ref = client_secret_env or env_name(name, "DYNAMICS_CLIENT_SECRET")
        if info is not None:
            entry = info.tenant(name)
            org = _check("org-url", org_url or str(entry.get("org_url") or ""), normalise_https_url)
            tid = _check(
                "tenant-id",
                entra_tenant or str(entry["authority"]).rstrip("/").rsplit("/", 1)[-1],
                normalise_guid,
            )
            cid = _check("client-id", client_id or str(entry.get("client_id") or ""), normalise_guid)
            conn = sandbox_connection(name, info)
        else:
            org = _check("org-url", org_url, normalise_https_url)
            tid = _check("tenant-id", entra_tenant, normalise_guid)
            cid = _check("client-id", client_id, normalise_guid)
            secret, authcode = os.environ.get(secret_ref), os.environ.get(authcode_ref)
            if not secret or not authcode:
                missing = [n for n, v in ((secret_ref, secret), (authcode_ref, authcode)) if not v]
                raise InputError(f"set the environment variable(s) {', '.join(missing)} first")
            conn = TenantConnection(
                tenant=name,
                dataverse_url=org,
                authority=f"{DEFAULT_AUTHORITY_HOST}/{tid}",
                client_id=cid,
                credential=ClientSecret(SecretStr(secret)),
                rescue_url=normalise_https_url(rescue_api_url),
                authcode=SecretStr(authcode),
                graph_url=GRAPH_URL,
                entra_tenant_id=tid,
            )
        export_input = ExportInput(
            name,
            org,
            tid,
            cid,
            [f"client_secret: {{env: {secret_ref}}}"],
            normalise_https_url(rescue_api_url),
            ref_text(f"env:{authcode_ref}"),
            ref_text(f"env:{sso_ref}"),
            credential_ref=f"client secret {ref_text(f'env:{secret_ref}')}",
        )
        profile = effective_profile(None)
    target = Path(out) if out and out != "-" else root / name / "tenant.yaml"
    # Accepting drift: merge into the tenant's own files, keeping what only a person knows.
    tenant_files = loaded.files if loaded is not None and overwrite and not out else ()
    merge_into = [f for f in tenant_files if f.name != DEFAULTS_FILE]
    if out != "-" and not merge_into:  # checked before anything is read, so a refusal costs no request
        others = sorted(
            p.name
            for p in target.parent.glob("*.y*ml")
            if target.parent.resolve() == existing.resolve() and p.resolve() != target.resolve()
        )
        if others:
            raise InputError(
                f"{existing} is split across several files ({', '.join(others)}); writing {target.name} "
                "beside them would define keys twice: export with --out - and merge by hand"
            )
        if target.exists() and not overwrite:
            raise InputError(
                f"{target} exists; pass --overwrite to replace it (accepting the live state), or --out -"
            )
    export_input = dataclasses.replace(export_input, schema_path=schema_path_from(target.parent))
    result = run_loop(read_and_export(conn, export_input, profile, ClientSettings()))
    if out == "-":
        click.echo(result.text, nl=False)
        return
    if merge_into:
        defaults = next((f for f in tenant_files if f.name == DEFAULTS_FILE), None)
        _write_merged(merge_into, defaults, result.text)
        return
    write_private(target, result.text)
    click.echo(f"Wrote {target}. Secret references in it: {', '.join(result.env_vars)}.", err=True)


def schema_path_from(folder: Path) -> str | None:
    """``schemas/tenant.schema.json`` in ``folder`` or the nearest folder above it, relative to
    ``folder`` (what the exported file's editor directive points at), or None."""
    start = folder.resolve()
    for parent in (start, *start.parents):
        candidate = parent / SCHEMA_FILE
        if candidate.is_file():
            return Path(os.path.relpath(candidate, start)).as_posix()
    return None


def _write_merged(files: list[Path], defaults: Path | None, exported: str) -> None:
    merged = merge_export(
        {f: f.read_text("utf-8") for f in files},
        exported,
        defaults=load_yaml_file(defaults).data if defaults is not None else None,
    )
    for path, text in merged.texts.items():  # each file atomically (a kill leaves each old or new)
        write_atomic(path, text)
    written = ", ".join(str(p) for p in merged.texts) or "nothing (the files already match live state)"
    click.echo(f"Merged the live state into {written}.", err=True)
    if merged.kept:
        click.echo(
            "Kept (the live state does not have them; remove them by hand if they are gone for good): "
            + "; ".join(value_text(k) for k in merged.kept),
            err=True,
        )
