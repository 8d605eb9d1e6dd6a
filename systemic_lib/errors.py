"""The small exception hierarchy. Every message names what to fix."""

from __future__ import annotations


class SystemicError(Exception):
    """Base class for errors a user can act on."""


class ContractError(SystemicError):
    """A council's data breaks the data contract; ``problems`` lists every one."""

    def __init__(self, problems, message: str | None = None):
        self.problems = list(problems)
        if message is None:
            lines = [p.describe() for p in self.problems[:20]]
            more = len(self.problems) - 20
            if more > 0:
                lines.append(f"... and {more} more problems")
            message = "\n".join(lines)
        super().__init__(message)


class UnknownServiceError(SystemicError):
    """A service was asked for that the council's council.yaml does not list."""


class ImportMappingError(SystemicError):
    """A column mapping for an import names columns the source file does not have."""
