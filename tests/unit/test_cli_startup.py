"""`reconcile --help` starts without the heavy libraries (issue 12: at most 0.3 s of CPU)."""

from __future__ import annotations

import json
import subprocess
import sys

import click

from reconciler.cli import _COMMANDS, _SUMMARIES, LazyGroup

HEAVY = (
    "httpx",
    "aiohttp",
    "msal",
    "pydantic",
    "yaml",
    "requests",
    "rescue_sandbox",
    "reconciler.config",
)

PROBE = """
import json, sys
from reconciler.cli import main
try:
    main(["--help"])
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def test_help_imports_no_heavy_library() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60)
    assert "Commands:" in done.stdout and "plan" in done.stdout, done.stdout
    loaded = json.loads(done.stderr.strip().splitlines()[-1])
    heavy = [m for m in loaded if any(m == h or m.startswith(h + ".") for h in HEAVY)]
    assert heavy == []


def test_each_listed_summary_is_the_commands_own() -> None:
    assert set(_SUMMARIES) <= set(_COMMANDS)
    for name in _SUMMARIES:
        command = LazyGroup._load(name)
        assert command is not None
        listed = click.Command(name, help=_SUMMARIES[name]).get_short_help_str(300)
        assert listed == command.get_short_help_str(300), name
