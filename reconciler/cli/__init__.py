"""The `reconcile` command line: parse, call the engine, render, map errors to exit codes.

Exit codes (one table, here): 0 success / no changes · 1 error · 2 changes present
(`plan --detailed-exitcode`, `drift`) · 3 incomplete · 4 refused by a safety rail.
"""

from __future__ import annotations

import logging
import sys
from typing import NoReturn

import click

from reconciler import __version__
from reconciler.errors import EXIT_ERROR, ReconcileError

_COMMANDS = {
    "validate": ("reconciler.cli.validate_cmd", "validate"),
    "schema": ("reconciler.cli.schema_cmd", "schema"),
    "plan": ("reconciler.cli.plan_cmd", "plan"),
    "drift": ("reconciler.cli.plan_cmd", "drift"),
    "apply": ("reconciler.cli.apply_cmd", "apply"),
    "export": ("reconciler.cli.export_cmd", "export"),
    "profile": ("reconciler.cli.profile_cmd", "profile"),
    "doctor": ("reconciler.cli.doctor_cmd", "doctor"),
    "sandbox": ("reconciler.cli.sandbox_cmd", "sandbox"),
    "demo": ("reconciler.cli.demo_cmd", "demo"),
    "changed-tenants": ("reconciler.cli.gitops_cmd", "changed_tenants"),
    "gitops": ("reconciler.cli.gitops_cmd", "gitops"),
}


class LazyGroup(click.Group):
    """Imports a command's module only when it runs, so `reconcile validate` stays quick."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name in _COMMANDS if self._load(name) is not None)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self._load(cmd_name)

    @staticmethod
    def _load(name: str) -> click.Command | None:
        target = _COMMANDS.get(name)
        if target is None:
            return None
        import importlib

        try:
            module = importlib.import_module(target[0])
        except ModuleNotFoundError as exc:
            if exc.name == target[0]:
                return None
            raise
        command = getattr(module, target[1])
        assert isinstance(command, click.Command)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="reconcile")
@click.option("-v", "--verbose", count=True, help="More log output on stderr (-vv for debug).")
def cli(verbose: int) -> None:
    """Declarative reconciler for the LogMeIn Rescue <-> Dynamics 365 integration.

    Tenant files in tenants/ describe each tenant's desired state; `plan` shows what differs
    from the live services and `apply` makes it so. `plan` is the default and never writes.
    """
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "httpcore", "msal", "urllib3", "uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


def main(argv: list[str] | None = None) -> NoReturn:
    """Entry point: every error becomes a message and an exit code, never a traceback."""
    try:
        # Without standalone mode, click returns ctx.exit()'s code instead of exiting.
        code = cli.main(args=argv, prog_name="reconcile", standalone_mode=False)
    except ReconcileError as exc:
        click.echo(exc.format(), err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(EXIT_ERROR)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_ERROR)  # usage errors are bad input: exit 1, not click's 2 (2 means "changes")
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)
