"""Local HTTPS emulators of Entra ID, the Dataverse Web API, the Rescue API and Microsoft Graph.

The ground that tests, benchmarks and ``reconcile demo`` stand on (DESIGN §6): faithful to
../shared/reference, including errors, limits and quirks. Only the CLI imports this package.

    with running_sandbox() as sb:          # the demo seed; sb.info is sandbox.json
        ...
"""

from reconciler.sandbox.generator import generate
from reconciler.sandbox.seed import demo_seed_path, load_seed
from reconciler.sandbox.server import Sandbox, SandboxHandle, running_sandbox, save_state, serve

__all__ = [
    "Sandbox",
    "SandboxHandle",
    "demo_seed_path",
    "generate",
    "load_seed",
    "running_sandbox",
    "save_state",
    "serve",
]
