"""The one error the sandbox raises on bad input: a seed, a fault spec, a state file, a control call.

It is the product's ``InputError`` so that ``reconcile sandbox`` and ``reconcile demo`` report a
bad seed as they report any bad input (one line, exit 1, from the one exit-code table in
``reconciler.errors``). This module is the sandbox's only import of the product, and the
import-linter contract allows exactly this one (pyproject.toml): nothing the sandbox knows about
the services comes from the product.
"""

from reconciler.errors import InputError

__all__ = ["InputError"]
