"""Which values of a few low-cardinality columns each data file holds, so that a control's
``eventname = ...`` or ``eventname IN (...)`` skips the files holding none of them.

Delta's per-file min/max statistics cannot skip a CloudTrail file on ``eventname``: a file of one
account, region and day holds dozens of names, from ``AssumeRole`` to ``UpdateTrail``, so almost
any name lies between its min and max. Reading one dictionary-encoded column of every file costs
a small part of reading what a control needs (the ``useridentity`` struct alone costs about eight
times more), and a data file never changes once written, so each file is indexed once and the
index serves every control of a run and the re-evaluations that find causes.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from loglake.catalog import DataFile
from loglake.query.tables import Predicate

#: reads the given files' ``$path`` and indexed columns (one row per distinct combination)
Reader = Callable[[list[DataFile], tuple[str, ...]], pl.DataFrame]


class FileValues:
    """Distinct values of ``columns`` per data file, filled in as scans ask about files."""

    def __init__(self, columns: tuple[str, ...] = ("eventname", "eventsource")):
        self.columns = columns
        self._values: dict[str, dict[str, frozenset[str]]] = {}

    def admissible(self, predicates: list[Predicate]) -> dict[str, set[str]]:
        """Per indexed column, the values a row must have to satisfy every predicate on it."""
        wanted: dict[str, set[str]] = {}
        for p in predicates:
            if p.column not in self.columns or p.op not in ("=", "in"):
                continue
            values = {v for v in p.values if isinstance(v, str)}
            wanted[p.column] = wanted[p.column] & values if p.column in wanted else values
        return wanted

    def prune(
        self, files: list[DataFile], predicates: list[Predicate], read: Reader
    ) -> tuple[list[DataFile], list[DataFile]]:
        """(files that may hold a row with admissible values, files that cannot)."""
        wanted = self.admissible(predicates)
        if not wanted or not files:
            return files, []
        missing = [f for f in files if f.path not in self._values]
        if missing:
            try:
                self._index(missing, read)
            except Exception:  # the scan itself reports an unreadable file; keep them all
                return files, []
        kept, skipped = [], []
        for f in files:
            held = self._values.get(f.path)
            fits = held is None or all(held[c] & values for c, values in wanted.items())
            (kept if fits else skipped).append(f)
        return kept, skipped

    def _index(self, files: list[DataFile], read: Reader) -> None:
        frame = read(files, self.columns)
        grouped = frame.group_by("$path").agg(pl.col(c).drop_nulls().unique() for c in self.columns)
        for row in grouped.iter_rows(named=True):
            self._values[row["$path"]] = {c: frozenset(row[c]) for c in self.columns}
        for f in files:  # a file without rows holds nothing to match
            self._values.setdefault(f.path, {c: frozenset() for c in self.columns})


__all__ = ["FileValues"]
