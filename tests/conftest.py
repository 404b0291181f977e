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

settings.register_profile("deterministic", derandomize=True, database=None, print_blob=True)
settings.register_profile("explore", derandomize=False, database=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))
