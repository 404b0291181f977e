"""One error tree for the whole tool; every error knows its exit code.

    ReconcileError                  exit 1
    ├── InputError                  bad YAML / schema / references (never reaches an API)
    │   ├── ConfigErrors            many located problems, reported at once
    │   └── PlanFileError           a saved plan file that cannot be read as one (one line each)
    ├── SecretError                 a secret reference that cannot be resolved
    ├── ProviderError               a live API failed
    │   ├── AuthError               credentials refused (which setting to fix)
    │   ├── TransportError          connection failed after retries
    │   ├── RateLimitedError        429 / LIMITREACHED after retries
    │   ├── ApiError                the API answered with an error (status, code, message)
    │   │   ├── NotFoundError
    │   │   └── PreconditionFailed  412: changed concurrently (ETag mismatch)
    │   └── ProtocolError           a response we cannot parse
    ├── StalePlanError              a saved plan's objects changed since (nothing written)
    ├── ApplyCancelled              the operator did not confirm (nothing written)
    ├── ApplyLocked                 another apply of the tenant holds its lock (nothing read)
    ├── UnsafePlanError             a safety rail needs --force (exit 4)
    │   └── PlanMismatchError       a saved plan is not the plan the files give now (exit 4)
    ├── IncompleteError             some live state unknown / apply partly failed (exit 3)
    │   └── ChangeFailed            one change could not be carried out (recorded as its outcome)
    └── Interrupted                 Ctrl-C (exit 130, as shells report SIGINT)

Exit codes are decided here (errors) and by result values: ``Plan.exit_code``,
``ApplyResult.exit_code``, ``HealthResult.exit_code``, ``DoctorResult.exit_code`` and the results of
``plan/outcomes.py``; the CLI only passes them on (``tests/unit/test_exit_codes.py`` fails on a
numeric exit anywhere else).

Messages never contain secret values: callers pass only safe, short payloads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CHANGES = 2
EXIT_INCOMPLETE = 3
EXIT_UNSAFE = 4
EXIT_INTERRUPTED = 130  # Ctrl-C, as shells report SIGINT


# C0 controls, DEL, C1 controls; the bidi embeddings/overrides/isolates and marks; the line and
# paragraph separators (both break lines in some viewers); the invisible zero-width characters
# (space, non-joiner, joiner, word joiner) and a byte order mark inside text, which make two
# different values look the same; the tag characters (invisible, they smuggle text past a
# reviewer); a lone surrogate (a `"\ud800"` escape in YAML: no UTF-8 text can hold it).
# Here, in the bottom layer, because a message's file name and path must be printed safely too;
# ``reconciler.config.text`` and ``reconciler.render.escape`` build on it.
UNSAFE_CHARACTERS = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060\u2066-\u2069"
    "\ufeff\ud800-\udfff\U000e0000-\U000e007f]"
)


def printable(text: str) -> str:
    """``text`` with every control, bidi and invisible character written as an escape (``\\n``,
    ``\\u202e``): a value shown this way cannot start a line of its own or turn one around."""
    return UNSAFE_CHARACTERS.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


class ReconcileError(Exception):
    """Base of every error the tool raises on purpose."""

    exit_code: int = EXIT_ERROR

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def format(self) -> str:
        """The text shown to the user (no traceback)."""
        return f"error: {self.message}"


class InputError(ReconcileError):
    """Bad input: nothing is sent to any API."""


@dataclass(frozen=True, order=True, slots=True)
class Location:
    """A place in a YAML file (1-based line and column)."""

    file: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        # A file or folder name may hold a newline (a `::error` workflow command on a line of
        # its own in a GitHub job log): it is printed escaped.
        if self.line:
            return f"{printable(self.file)}:{self.line}:{self.column}"
        return printable(self.file)


@dataclass(frozen=True, order=True)
class Problem:
    """One located problem in a tenant file."""

    location: Location
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.location}: " if self.location.file else ""  # escaped by Location
        what = f"{self.path}: " if self.path else ""
        # A YAML key in the path, a file name in the message may hold a newline: escaped.
        return printable(f"{where}{what}{self.message}")


class ConfigErrors(InputError):
    """Every problem found in the tenant files, reported at once."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(set(problems))
        count = len(self.problems)
        super().__init__(f"{count} problem{'s' if count != 1 else ''} in the tenant files")

    def format(self) -> str:
        lines = [str(p) for p in self.problems]
        lines.append(f"error: {self.message}; nothing was sent to any API")
        return "\n".join(lines)


class SecretError(ReconcileError):
    """A secret reference could not be resolved (the message names the reference, never a value)."""


class ProviderError(ReconcileError):
    """A live API call failed."""

    def __init__(self, message: str, *, service: str = "", tenant: str = "") -> None:
        self.service = service
        self.tenant = tenant
        prefix = " ".join(p for p in (f"[{tenant}]" if tenant else "", service) if p)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class AuthError(ProviderError):
    """Credentials were refused; the message says which setting to fix."""


class TransportError(ProviderError):
    """The connection failed (after the retries allowed).

    ``maybe_applied`` is True when the request may have reached the server: a write whose reply
    was lost. The caller must look the object up again before deciding anything.
    """

    def __init__(
        self, message: str, *, maybe_applied: bool = False, service: str = "", tenant: str = ""
    ) -> None:
        self.maybe_applied = maybe_applied
        super().__init__(message, service=service, tenant=tenant)


class RateLimitedError(ProviderError):
    """Still throttled after the retries allowed."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: str) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kw)


class ApiError(ProviderError):
    """The API answered with an error."""

    def __init__(
        self, message: str, *, status: int = 0, code: str = "", service: str = "", tenant: str = ""
    ) -> None:
        self.status = status
        self.code = code
        super().__init__(message, service=service, tenant=tenant)


class NotFoundError(ApiError):
    """The object does not exist."""


class PreconditionFailed(ApiError):
    """412: the object changed since it was read (ETag mismatch) or already exists."""


class ProtocolError(ProviderError):
    """The response could not be understood."""


class StalePlanError(ReconcileError):
    """A saved plan no longer matches live state or the tenant files."""


class ApplyCancelled(ReconcileError):
    """The operator did not confirm the apply: nothing was written."""

    def format(self) -> str:
        return self.message


class UnsafePlanError(ReconcileError):
    """A safety rail refused the plan; re-run with --force after review."""

    exit_code = EXIT_UNSAFE


class IncompleteError(ReconcileError):
    """Some live state is unknown, or an apply only partly succeeded."""

    exit_code = EXIT_INCOMPLETE


class ChangeFailed(IncompleteError):
    """A change could not be carried out; the message says why (no secrets). The applier records
    it as that change's outcome and goes on with the others."""


class PlanFileError(InputError):
    """A saved plan file that cannot be read as one (not a regular file, too large, too deeply
    nested, not JSON, NaN, a wrong type): one line per problem, nothing sent to any service."""

    MAX_LINES = 50  # a file wrong in every change would otherwise print one line per change

    def __init__(self, file: str, problems: list[str]) -> None:
        self.file = file
        self.problems = tuple(problems)
        shown = [f"{file}: {p}" for p in problems[: self.MAX_LINES]]
        if len(problems) > self.MAX_LINES:
            shown.append(f"{file}: … and {len(problems) - self.MAX_LINES} more problems")
        super().__init__("\n".join(printable(line) for line in shown))

    def format(self) -> str:
        return "\n".join(f"error: {line}" for line in self.message.split("\n"))


class PlanMismatchError(UnsafePlanError):
    """A well-formed saved plan that is not the plan the tenant files and live state give now
    (an edited change, a change or tenant the files do not declare, edited rails), or that
    contradicts itself: refused (exit 4), nothing written; plan again and review."""


class ApplyLocked(ReconcileError):
    """Another apply of the same tenant held its lock past the wait allowed: nothing was read
    or written by this one (exit 1). The message names the lock file and who holds it."""


class Interrupted(ReconcileError):
    """The run was interrupted (Ctrl-C): exit 130, as shells report SIGINT."""

    exit_code = EXIT_INTERRUPTED


class OperationRunning(IncompleteError):
    """A change met a long operation of the service that is still running (Dataverse runs one
    solution import at a time), and the bounded wait for it ran out: the change's outcome is
    unknown, not failed (exit 3), and never a configuration error. The message names the
    operation's system job; run again once it has finished."""


class ResultFileError(PlanFileError):
    """A result file `reconcile report` cannot use (not one, foreign, corrupt, contradicting
    itself): one line per problem, ``FILE: problem``; the report names it, exit 1."""


class IdentityUnavailable(AuthError, TransportError):
    """The identity service (Entra ID's discovery or token endpoint) kept failing (5xx, 429, a
    lost connection) through the sign-in's bounded retries, or already did for this tenant in
    this run: no request of the tenant can be made. An ``AuthError`` to the readers, so every
    read of the tenant stops at once with this one cause instead of recording an Unknown each; a
    ``TransportError`` to the planner and exit code: temporary, the tenant is incomplete (3),
    never a configuration problem (``providers/entra.py``, ``providers/entra_outage.py``)."""

    exit_code = EXIT_INCOMPLETE

    def __init__(
        self, message: str, *, retry_after: float | None = None, service: str = "", tenant: str = ""
    ) -> None:
        self.retry_after = retry_after
        super().__init__(message, service=service, tenant=tenant)


class SignInBlocked(AuthError):
    """The identity service itself refused the app's sign-in (HTTP 403: a Conditional Access
    policy, a blocked app): the message blames the app registration's sign-in, never the tenant
    ID or consent (``providers/entra.py``)."""
