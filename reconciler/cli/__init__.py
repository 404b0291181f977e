"""The `reconcile` command line: parse, call the engine, render, exit with the code decided below.

Exit codes: 0 success / no changes · 1 error · 2 changes present (`plan --detailed-exitcode`,
`drift`) · 3 incomplete · 4 refused by a safety rail. Errors carry their own (`reconciler.errors`),
plans and apply results decide theirs (`Plan.exit_code`, `ApplyResult.exit_code`); ``main`` only
passes them on (usage errors are bad input: 1).

The other results decide theirs too (`HealthResult`, `DoctorResult`, `plan/outcomes.py`'s
`ProfileResult` and `DemoResult`): a command exits with a value's ``exit_code``, never a number
or a code it picks (tests/unit/test_exit_codes.py checks every product module).
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys
from typing import NoReturn

import click

from reconciler import __version__
from reconciler.cli.verbosity import VERBOSITY
from reconciler.errors import EXIT_OK, ApplyCancelled, InputError, Interrupted, ReconcileError

_COMMANDS = {
    "validate": ("reconciler.cli.validate_cmd", "validate"),
    "schema": ("reconciler.cli.schema_cmd", "schema"),
    "plan": ("reconciler.cli.plan_cmd", "plan"),
    "drift": ("reconciler.cli.plan_cmd", "drift"),
    "apply": ("reconciler.cli.apply_cmd", "apply"),
    "show": ("reconciler.cli.show_cmd", "show"),
    "export": ("reconciler.cli.export_cmd", "export"),
    "manual": ("reconciler.cli.manual_cmd", "manual"),
    "profile": ("reconciler.cli.profile_cmd", "profile"),
    "doctor": ("reconciler.cli.doctor_cmd", "doctor"),
    "sandbox": ("reconciler.cli.sandbox_cmd", "sandbox"),
    "demo": ("reconciler.cli.demo_cmd", "demo"),
    "health": ("reconciler.cli.health_cmd", "health"),
    "report": ("reconciler.cli.report_cmd", "report"),
    "changed-tenants": ("reconciler.cli.gitops_cmd", "changed_tenants"),
    "gitops": ("reconciler.cli.gitops_cmd", "gitops"),
}
# What `reconcile --help` lists, so that listing imports no command module (they pull in
# pydantic, httpx, aiohttp, msal and the sandbox: most of a second of CPU). A test checks that
# each line is its command's own summary; a command missing here is loaded to list it.
_SUMMARIES = {
    "validate": "Check tenant files (default: tenants/) without opening any network connection.",
    "schema": "Generate the tenant file JSON Schema and reference from the models.",
    "plan": "Show what apply would change (never writes).",
    "drift": "Report drift between the tenant files and live state; exit 2 when there is any.",
    "apply": "Make live state match the tenant files.",
    "show": "Show a saved plan (plan --out), or the shard plans in a folder, without any request.",
    "export": "Read a live tenant and write it as YAML (secrets as references, never values).",
    "manual": "One checklist of the manual steps across the fleet (each step once, with its tenants).",
    "doctor": "Check each tenant's setup before a first run (only reads; exit 1 when a check fails).",
    "health": "Show, per tenant and technician group, whether Rescue sessions reach Dynamics, and why not.",
    "report": "Write the fleet report (HTML, CSV, JSON) from result files or folders of them.",
    "profile": "The solution profile: Dataverse names of the LogMeIn solution.",
    "sandbox": "Local HTTPS emulators of Entra ID, Dataverse, Rescue and Graph.",
    "demo": "Show the whole reconcile story against a local sandbox (no real services touched).",
    "changed-tenants": "Tenants whose files changed between --base and --head (PATH: the tenants folder).",
    "gitops": "Helpers for the GitOps workflows (plan comments, apply matrices, drift issues).",
}


class LazyGroup(click.Group):
    """Imports a command's module only when it runs, so `reconcile validate` stays quick."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name in _COMMANDS if importlib.util.find_spec(_COMMANDS[name][0]) is not None)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self._load(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """click's listing, from ``_SUMMARIES`` instead of the imported commands."""
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(map(len, names))
        rows = []
        for name in names:
            summary = _SUMMARIES.get(name)
            command = click.Command(name, help=summary) if summary is not None else self._load(name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    @staticmethod
    def _load(name: str) -> click.Command | None:
        target = _COMMANDS.get(name)
        if target is None:
            return None
        # Every kind registers its resource type before any command can decode a saved plan or
        # order kinds (``resources/registry.py``): the kind modules load with the command.
        importlib.import_module("reconciler.kinds")
        try:
            module = importlib.import_module(target[0])
        except ModuleNotFoundError as exc:
            if exc.name == target[0]:
                return None
            raise
        command = getattr(module, target[1])
        assert isinstance(command, click.Command)
        _accept_verbose(command)
        return command


def _configure_logging(verbose: int) -> None:
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s", force=True
    )
    for noisy in ("httpx", "httpcore", "msal", "urllib3", "uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


def _more_verbose(ctx: click.Context, _param: click.Parameter, value: int) -> None:
    """`-v` after the subcommand adds to any `-v` before it."""
    if value:
        before = ctx.find_root().params.get("verbose") or 0
        ctx.meta[VERBOSITY] = before + value
        _configure_logging(before + value)  # a no-op when the group already configured logging:
        logging.getLogger().setLevel(logging.INFO if before + value == 1 else logging.DEBUG)


def _accept_verbose(command: click.Command) -> None:
    """Let `reconcile plan -v` mean what `reconcile -v plan` means (on every subcommand)."""
    commands = command.commands.values() if isinstance(command, click.Group) else ()
    for sub in commands:
        _accept_verbose(sub)
    if not any("-v" in p.opts for p in command.params):
        command.params.append(
            click.Option(
                ["-v", "--verbose", "more_verbose"],
                count=True,
                expose_value=False,
                callback=_more_verbose,
                help="More log output on stderr (-vv for debug); also accepted before the command.",
            )
        )


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="reconcile")
@click.option("-v", "--verbose", count=True, help="More log output on stderr (-vv for debug).")
def cli(verbose: int) -> None:
    """Declarative reconciler for the LogMeIn Rescue <-> Dynamics 365 integration.

    Tenant files in tenants/ describe each tenant's desired state; `plan` shows what differs
    from the live services (it never writes) and `apply` makes it so. Start with `reconcile
    validate`, then `reconcile doctor` and `reconcile plan`.
    """
    click.get_current_context().meta[VERBOSITY] = verbose
    _configure_logging(verbose)


def main(argv: list[str] | None = None) -> NoReturn:
    """Entry point: every error becomes a message and an exit code, never a traceback."""
    try:
        # Without standalone mode, click returns ctx.exit()'s code instead of exiting.
        code = cli.main(args=argv, prog_name="reconcile", standalone_mode=False)
    except ReconcileError as exc:
        from reconciler.render.escape import line_text  # here: `reconcile validate` stays quick

        # A message may quote a live value (an API's error text): no raw control character reaches
        # the terminal, line by line so the message's own line breaks stay.
        click.echo("\n".join(line_text(line) for line in exc.format().split("\n")), err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.Abort:  # a prompt ended (Ctrl-C, end of input): nothing was confirmed
        click.echo("Aborted.", err=True)
        sys.exit(ApplyCancelled.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(InputError.exit_code)  # usage errors are bad input: not click's 2 (2 means "changes")
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(Interrupted.exit_code)
    sys.exit(code if isinstance(code, int) else EXIT_OK)  # the command returned: success
