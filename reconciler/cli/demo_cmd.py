"""`reconcile demo`: the whole story against the built-in sandbox, step by step.

sandbox with realistic drift -> plan -> apply (a safety rail first) -> plan shows no changes ->
someone changes things by hand in an admin console -> `reconcile drift` catches it -> sessions
run and `reconcile health` shows a group whose export was never set -> set by hand, it recovers ->
`reconcile report` writes the fleet page of the demo's own runs (their --out results).
Each step runs the real command, in-process, and shows its command line.
"""

from __future__ import annotations

import shlex
import tempfile
from pathlib import Path
from typing import Any

import click
import httpx

from reconciler.errors import EXIT_CHANGES, EXIT_OK, EXIT_UNSAFE, ReconcileError
from reconciler.plan.outcomes import DemoResult, DemoStep
from reconciler.providers.http import make_ssl_context
from rescue_sandbox import running_sandbox

RULE = "─" * 78
# Rescue serves a session report a minute and health asks one per technician: the demo's sandbox
# serves one a second, so the story does not wait five minutes per health run.
DEMO_REPORT_INTERVAL = 1.0


def _title(number: int, text: str) -> None:
    click.echo("")
    click.secho(RULE, dim=True)
    click.secho(f" Step {number}: {text}", bold=True)
    click.secho(RULE, dim=True)


def _run(args: list[str]) -> int:
    """Run a reconcile command in-process, exactly as from a shell; return its exit code."""
    from reconciler.cli import cli

    click.secho("$ reconcile " + " ".join(shlex.quote(a) for a in args), fg="cyan")
    try:
        code = cli.main(args=args, prog_name="reconcile", standalone_mode=False)
    except ReconcileError as exc:
        click.echo(exc.format(), err=True)
        code = exc.exit_code
    code = code if isinstance(code, int) else EXIT_OK
    click.secho(f"(exit code {code})", dim=True)
    return code


def _control(url: str, ca_file: Path, method: str, path: str, body: dict[str, Any]) -> None:
    """Change sandbox state as a person in an admin console would (not through the APIs)."""
    with httpx.Client(verify=make_ssl_context(ca_file), trust_env=False) as client:
        response = client.request(method, f"{url}/_sandbox{path}", json=body)
        response.raise_for_status()


def _session_flow_steps(
    url: str, ca_file: Path, paths: list[str], where: str, expected: list[DemoStep], results: Path
) -> None:
    """Steps 9-10: sessions run; one group's export was never set; it is set by hand."""
    only = ["--tenant", "contoso", "--sandbox", where]
    _title(9, "technicians run Rescue sessions: do they reach Dynamics?")
    click.echo("The Global Administrator grants admin consent to the LogMeIn app (it never was), then")
    click.echo("the technicians of Support/Tier 1 and Support/Tier 2 run three sessions each.")
    _control(url, ca_file, "POST", "/tenants/contoso/identity/service-principals", {})
    for group in ("Support/Tier 1", "Support/Tier 2"):
        _control(
            url,
            ca_file,
            "POST",
            "/tenants/contoso/rescue/sessions",
            {"group": group, "count": 3, "ended_minutes_ago": 180},
        )
    click.echo("Tier 2's export URL was never set in the Admin Center: none of its sessions arrives.")
    expected.append(
        DemoStep(
            "health", _run(["health", *paths, *only, "--out", str(results / "09-health.json")]), EXIT_CHANGES
        )
    )

    _title(10, "the export URL is set by hand; new sessions arrive; the manual step is observed working")
    export = {"url": "https://dynamics.logmeinrescue.com/api/integration", "at_session_end": True}
    _control(
        url,
        ca_file,
        "PUT",
        "/tenants/contoso/rescue/groups/export",
        {"path": "Support/Tier 2", "export": export},
    )
    _control(
        url, ca_file, "POST", "/tenants/contoso/rescue/sessions", {"group": "Support/Tier 2", "count": 2}
    )
    # Rescue serves one report a minute: the sandbox's clock moves on instead of the demo waiting.
    _control(url, ca_file, "POST", "/tenants/contoso/rescue/clock", {"seconds": 61})
    expected.append(
        DemoStep("health", _run(["health", *paths, *only, "--out", str(results / "10-health.json")]), EXIT_OK)
    )
    _control(url, ca_file, "POST", "/tenants/contoso/rescue/clock", {"seconds": 61})
    expected.append(
        DemoStep(
            "plan --health",
            _run(["plan", *paths, *only, "--health", "--out", str(results / "10-plan-health.json")]),
            EXIT_OK,
        )
    )


@click.command()
@click.option(
    "--tenants",
    "tenants_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("tenants"),
    show_default=True,
    help="The example tenant files (contoso and fabrikam).",
)
@click.option(
    "--report-dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Where to keep the runs' results and the fleet report  [default: a new temporary folder].",
)
@click.pass_context
def demo(ctx: click.Context, tenants_dir: Path, report_dir: Path | None) -> None:
    """Show the whole reconcile story against a local sandbox (no real services touched)."""
    if not (tenants_dir / "contoso").is_dir() or not (tenants_dir / "fabrikam").is_dir():
        raise click.UsageError(
            f"{tenants_dir} must hold the example tenants contoso/ and fabrikam/ (run from the repo root)"
        )
    expected: list[DemoStep] = []
    report_dir = report_dir or Path(tempfile.mkdtemp(prefix="reconcile-demo-"))
    results = report_dir / "results"
    results.mkdir(parents=True, exist_ok=True)
    _title(1, "start a local sandbox of Entra ID, Dataverse and Rescue")
    click.echo("It is seeded with the example tenants and realistic drift: two technicians never mapped,")
    click.echo("an SSO ID that differs between Dynamics and Rescue, a flipped option, the application user")
    click.echo("missing its role, a Failed Session Key index, and a Rescue group without its export URL.")
    with running_sandbox(report_interval=DEMO_REPORT_INTERVAL) as sb:
        where = str(sb.state_dir)
        click.echo(f"Sandbox listening on {sb.url}; clients find it through {sb.info_path}")
        paths = [str(tenants_dir)]

        _title(2, "validate the tenant files (no network)")
        expected.append(DemoStep("validate", _run(["validate", *paths]), EXIT_OK))

        _title(3, "plan: what differs between the tenant files and the live services")
        expected.append(
            DemoStep(
                "plan",
                _run(
                    [
                        "plan",
                        *paths,
                        "--sandbox",
                        where,
                        "--detailed-exitcode",
                        "--out",
                        str(results / "03-plan.json"),
                    ]
                ),
                EXIT_CHANGES,
            )
        )

        _title(4, "apply without --force: a safety rail holds back the role change")
        click.echo("Any change to the application user's security roles needs a person to say so.")
        expected.append(
            DemoStep("apply", _run(["apply", *paths, "--sandbox", where, "--auto-approve"]), EXIT_UNSAFE)
        )

        _title(5, "apply --force after review")
        expected.append(
            DemoStep(
                "apply --force",
                _run(
                    [
                        *("apply", *paths, "--sandbox", where, "--auto-approve", "--force"),
                        *("--out", str(results / "05-apply.json")),
                    ]
                ),
                EXIT_OK,
            )
        )

        _title(6, "plan again: no changes (the export URL stays a manual step: no API can set it)")
        expected.append(
            DemoStep("plan", _run(["plan", *paths, "--sandbox", where, "--detailed-exitcode"]), EXIT_OK)
        )

        _title(7, "someone changes things by hand in the admin consoles")
        click.echo("In Dynamics, the 'reassign case at session start' option is switched off;")
        click.echo("in the Rescue Admin Center, Alice's SSO ID is changed.")
        _control(
            sb.url,
            sb.ca_file,
            "PATCH",
            "/tenants/contoso/dynamics/integration",
            {"fields": {"reassign_case_on_session_start": False}},
        )
        _control(
            sb.url,
            sb.ca_file,
            "PATCH",
            "/tenants/contoso/rescue/technicians/alice@contoso.com",
            {"ssoid": "alice.a"},
        )

        _title(8, "scheduled drift detection catches it (exit code 2)")
        expected.append(
            DemoStep(
                "drift",
                _run(["drift", *paths, "--sandbox", where, "--out", str(results / "08-drift.json")]),
                EXIT_CHANGES,
            )
        )

        _session_flow_steps(sb.url, sb.ca_file, paths, where, expected, results)

    _title(11, "the fleet report of these runs: one page, with Tier 2's loss and recovery in its trend")
    expected.append(DemoStep("report", _run(["report", str(results), "--out", str(report_dir)]), EXIT_OK))

    result = DemoResult(tuple(expected))
    click.echo("")
    if result.unexpected:
        click.secho(
            "The demo did not go as expected: " + "; ".join(map(str, result.unexpected)), fg="red", err=True
        )
        ctx.exit(result.exit_code)
    click.secho(
        "Done. To accept a drift instead of reverting it: reconcile export --tenant contoso --overwrite.",
        bold=True,
    )
    click.secho(
        f"The fleet report of the demo's runs: {report_dir / 'fleet.html'} (open it in a browser)", bold=True
    )
