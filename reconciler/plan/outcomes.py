"""The outcomes of the commands that neither plan nor apply, as values that decide their exit
code (``profile discover``, ``demo``): the CLI passes the code on and decides none itself."""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.errors import EXIT_ERROR, EXIT_OK


@dataclass(frozen=True)
class ProfileResult:
    """What ``profile discover`` found wrong in the sections the tenant needs (the problems of
    the others are notes): while any, the profile is not written and the command fails."""

    blocking: tuple[str, ...] = ()

    @property
    def exit_code(self) -> int:
        return EXIT_ERROR if self.blocking else EXIT_OK


@dataclass(frozen=True)
class DemoStep:
    """One command the demo ran, the exit code it gave and the one the story expects."""

    name: str
    exit_code: int
    expected: int

    @property
    def as_expected(self) -> bool:
        return self.exit_code == self.expected

    def __str__(self) -> str:
        return f"{self.name} exited {self.exit_code}, expected {self.expected}"


@dataclass(frozen=True)
class DemoResult:
    """Every step of ``reconcile demo``: it fails when one exited other than the story expects."""

    steps: tuple[DemoStep, ...]

    @property
    def unexpected(self) -> tuple[DemoStep, ...]:
        return tuple(s for s in self.steps if not s.as_expected)

    @property
    def exit_code(self) -> int:
        return EXIT_ERROR if self.unexpected else EXIT_OK
