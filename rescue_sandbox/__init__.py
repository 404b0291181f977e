"""Local HTTPS emulators of Entra ID, the Dataverse Web API, the Rescue API, Microsoft Graph and
the LogMeIn integration's own traffic (README.md in this folder).

The ground that tests, benchmarks and ``reconcile demo`` stand on (DESIGN §6): faithful to
../shared/reference, including errors, limits and quirks. A package of its own: of the product,
only the CLI imports it, and it imports nothing of the product but the error base (errors.py).

    with running_sandbox() as sb:          # the demo seed; sb.info is sandbox.json
        ...
"""

from rescue_sandbox.generator import generate
from rescue_sandbox.keyvault.fleet import generate_fleet, mint_token
from rescue_sandbox.seed import demo_seed_path, load_seed
from rescue_sandbox.server import Sandbox, SandboxHandle, running_sandbox, serve
from rescue_sandbox.state import save_state

__all__ = [
    "Sandbox",
    "SandboxHandle",
    "demo_seed_path",
    "generate",
    "generate_fleet",
    "load_seed",
    "mint_token",
    "running_sandbox",
    "save_state",
    "serve",
]
