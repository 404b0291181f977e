"""``reconcile sandbox``: run the local emulators, or generate a large seed.

    reconcile sandbox serve [--seed FILE] [--state-dir DIR] [--port N] [--port-file FILE] [--faults SPEC]
    reconcile sandbox seed --out DIR --tenants T --technicians N [--drift P] [--rng-seed S]

``serve`` prints the URL and the path of sandbox.json once it accepts connections, and runs
until Ctrl-C or SIGTERM (exit 0). The main CLI registers the group; bad options raise
:class:`~reconciler.errors.InputError` so the one exit-code table applies.
"""

from __future__ import annotations

from pathlib import Path

import click

from reconciler.atomicfile import write_atomic
from reconciler.errors import InputError
from rescue_sandbox import SandboxHandle, generate, generate_fleet, mint_token, serve


@click.group("sandbox")
def sandbox() -> None:
    """Local HTTPS emulators of Entra ID, Dataverse, Rescue and Graph."""


def _announce(handle: SandboxHandle) -> None:
    click.echo(f"sandbox listening on {handle.url}")
    click.echo(f"connection info: {handle.info_path}")
    click.echo(f"tenants: {', '.join(sorted(handle.info['tenants']))}")
    click.echo("press Ctrl-C to stop")


@sandbox.command("serve")
@click.option(
    "--seed", "seed", type=click.Path(path_type=Path), help="Seed YAML (default: the built-in demo)."
)
@click.option(
    "--state-dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Where sandbox.json, the CA and the persisted state live (default: a temporary folder).",
)
@click.option("--port", type=int, default=0, show_default=True, help="Port on 127.0.0.1; 0 picks a free one.")
@click.option(
    "--port-file", type=click.Path(path_type=Path, dir_okay=False), help="Write the port to this file."
)
@click.option("--faults", help="Fault spec, e.g. 'rescue:429=0.2,retry_after=2;seed=7' (docs/sandbox.md).")
def serve_cmd(
    seed: Path | None, state_dir: Path | None, port: int, port_file: Path | None, faults: str | None
) -> None:
    """Serve the sandbox in the foreground until Ctrl-C."""
    if seed is not None and not seed.is_file():
        raise InputError(f"--seed: no such file: {seed}")
    if not 0 <= port <= 65535:
        raise InputError("--port must be between 0 and 65535")
    serve(seed, state_dir=state_dir, port=port, faults=faults, port_file=port_file, on_ready=_announce)
    click.echo("sandbox stopped")


@sandbox.command("seed")
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="The folder to write seed.yaml and tenants/ into (made if missing).",
)
@click.option("--tenants", type=int, required=True, help="Number of tenants (1-9,999).")
@click.option("--technicians", type=int, required=True, help="Technicians per tenant.")
@click.option(
    "--drift", type=float, default=0.0, show_default=True, help="Share of objects that drift (0-1)."
)
@click.option("--rng-seed", type=int, default=0, show_default=True, help="Seed of the random source.")
@click.option(
    "--fleet-identity",
    is_flag=True,
    help=(
        "One app registration with one federated credential in every directory, every Rescue secret "
        "in the sandbox's Key Vault (docs/fleet-identity.md); writes a federated token valid for an "
        "hour to OUT/federated-token."
    ),
)
def seed_cmd(
    out: Path, tenants: int, technicians: int, drift: float, rng_seed: int, fleet_identity: bool
) -> None:
    """Write a large seed (seed.yaml) and the matching tenants/ tree to --out."""
    if fleet_identity:
        result = generate_fleet(out, tenants=tenants, technicians=technicians, drift=drift, rng_seed=rng_seed)
        token = out / "federated-token"
        write_atomic(token, mint_token(out, lifetime=3600), private=True)  # a credential: owner only
        click.echo(f"wrote {token}: run with AZURE_FEDERATED_TOKEN_FILE={token}")
    else:
        result = generate(out, tenants=tenants, technicians=technicians, drift=drift, rng_seed=rng_seed)
    click.echo(f"wrote {out / 'seed.yaml'} and {out / 'tenants'}")
    injected = ", ".join(f"{k} {v}" for k, v in result["drift"].items()) or "none"
    click.echo(f"{tenants} tenants x {technicians} technicians; drift injected: {injected}")
