"""Suite-wide test settings.

Property tests are deterministic everywhere (issue 16, case 11): Hypothesis draws its examples
from a fixed seed (``derandomize``) and keeps no example database, so one run on a clean clone is
the same as the next and a correct submission is never refused by chance. Set
``HYPOTHESIS_PROFILE=explore`` to search with fresh random examples on a workstation.
"""

from __future__ import annotations

import os

from hypothesis import settings

# As the CLI does before any command: every kind registers its resource type, which decoding a
# saved plan and ordering kinds look up (``reconciler/resources/registry.py``).
import reconciler.kinds  # noqa: F401

# Rescue serves a session report a minute, and health asks one per technician: the suite's
# sandboxes serve one every 50 ms (their sandbox.json says so, and the product follows it), so a
# health run does not wait minutes. Tests of the real interval set it themselves.
os.environ.setdefault("RESCUE_SANDBOX_REPORT_INTERVAL", "0.05")

settings.register_profile("deterministic", derandomize=True, database=None, print_blob=True)
settings.register_profile("explore", derandomize=False, database=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))
