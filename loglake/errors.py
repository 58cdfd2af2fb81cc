"""Errors a user can act on; the CLI prints them as one line and exits with code 2."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class LoglakeError(Exception):
    """Base class of every error loglake raises on purpose."""


class UserError(LoglakeError):
    """Bad input from the user (arguments, SQL, settings); never a bug in loglake."""


class CatalogError(UserError):
    """A table, database or view that is missing, exists already, or is unreadable."""


class ConflictError(CatalogError):
    """A concurrent writer changed a catalog document first; the caller may reload and retry."""


class StorageError(LoglakeError):
    """The lake's storage could not be reached or refused an operation."""


class SqlError(UserError):
    """A SQL error that knows where in the query text it happened.

    The message carries the line, column and the offending text underlined, as a user of Athena
    expects from the query editor.
    """

    def __init__(
        self, message: str, sql: str | None = None, start: int | None = None, end: int | None = None
    ):
        self.bare_message = message
        self.sql = sql
        self.start = start
        self.end = end
        super().__init__(self._render())

    @property
    def line(self) -> int | None:
        if self.sql is None or self.start is None:
            return None
        return self.sql.count("\n", 0, self.start) + 1

    @property
    def column(self) -> int | None:
        if self.sql is None or self.start is None:
            return None
        return self.start - (self.sql.rfind("\n", 0, self.start) + 1) + 1

    def _render(self) -> str:
        if self.sql is None or self.start is None:
            return self.bare_message
        line_start = self.sql.rfind("\n", 0, self.start) + 1
        line_end = self.sql.find("\n", self.start)
        if line_end == -1:
            line_end = len(self.sql)
        text = self.sql[line_start:line_end]
        end = self.end if self.end is not None and self.end > self.start else self.start + 1
        width = max(1, min(end, line_end) - self.start)
        caret = " " * (self.start - line_start) + "^" * width
        return f"{self.bare_message} (line {self.line}, column {self.column})\n  {text}\n  {caret}"


def close_names(name: str, candidates: Iterable[str], *, cutoff: float = 0.6) -> list[str]:
    """Up to three candidates a misspelt ``name`` is close to, closest first, case ignored."""
    by_lower = {c.lower(): c for c in candidates}
    return [by_lower[c] for c in difflib.get_close_matches(name.lower(), by_lower, 3, cutoff)]


def did_you_mean(
    name: str, candidates: Iterable[str], *, quote: bool = True, cutoff: float = 0.6
) -> str:
    """``; did you mean 'a', 'b'?`` to end an error about a misspelt name ('' when none is
    close); the one hint every unknown-name error gives."""
    close = close_names(name, candidates, cutoff=cutoff)
    shown = [repr(c) if quote else c for c in close]
    return f"; did you mean {', '.join(shown)}?" if close else ""
