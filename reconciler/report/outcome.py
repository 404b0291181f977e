"""What a `reconcile report` run gives, and the exit code it decides."""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.errors import EXIT_ERROR, EXIT_OK


@dataclass(frozen=True)
class ReportResult:
    written: tuple[str, ...]
    unreadable: int

    @property
    def exit_code(self) -> int:
        """1 when a result file could not be read (the page names it), else 0."""
        return EXIT_ERROR if self.unreadable else EXIT_OK
