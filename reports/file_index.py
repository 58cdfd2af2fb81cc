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

#: reads the given files' ``$path`` and indexed columns (rows may repeat)
Reader = Callable[[list[DataFile], tuple[str, ...]], pl.DataFrame]

#: CloudTrail columns controls select events by, in groups read together: few distinct values;
#: the first group is cheap to read, the second decodes the whole ``useridentity`` struct
EVENT_COLUMNS = (("eventname", "eventsource", "eventcategory"), ("useridentity.type",))


class FileValues:
    """Distinct values of some columns per data file, filled in as scans ask about files.

    A column is read together with the others of its group, the first time a scan's predicates
    name one of them, for the files not indexed yet.
    """

    def __init__(self, groups: tuple[tuple[str, ...], ...] = EVENT_COLUMNS):
        self.groups = groups
        self._values: dict[str, dict[str, frozenset[str]]] = {}  # column -> file path -> values

    def admissible(self, predicates: list[Predicate]) -> dict[str, set[str]]:
        """Per indexed column, the values a row must have to satisfy every predicate on it."""
        indexed = {c for group in self.groups for c in group}
        wanted: dict[str, set[str]] = {}
        for p in predicates:
            if p.column not in indexed or p.op not in ("=", "in"):
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
        try:
            for group in self.groups:
                if any(c in wanted for c in group):
                    self._index(group, files, read)
        except Exception:  # the scan itself reports an unreadable file; keep them all
            return files, []
        kept: list[DataFile] = []
        skipped: list[DataFile] = []
        for f in files:
            fits = all(self._values[c][f.path] & values for c, values in wanted.items())
            (kept if fits else skipped).append(f)
        return kept, skipped

    def _index(self, group: tuple[str, ...], files: list[DataFile], read: Reader) -> None:
        known = self._values.setdefault(group[0], {})
        missing = [f for f in files if f.path not in known]
        if not missing:
            return
        frame = read(missing, group).group_by("$path").agg(pl.col(group).drop_nulls().unique())
        found = {row["$path"]: row for row in frame.iter_rows(named=True)}
        for column in group:
            values = self._values.setdefault(column, {})
            for f in missing:  # a file without rows holds nothing to match
                values[f.path] = frozenset((found.get(f.path) or {}).get(column) or ())


__all__ = ["EVENT_COLUMNS", "FileValues"]
