"""Which values of a few low-cardinality columns each data file holds, so that a control's
``eventname = ...`` or ``eventname IN (...)`` skips the files holding none of them.

Delta's per-file min/max statistics cannot skip a CloudTrail file on ``eventname``: a file of one
account, region and day holds dozens of names, from ``AssumeRole`` to ``UpdateTrail``, so almost
any name lies between its min and max. A Parquet file's values of such a column are its column
chunks' dictionaries: :func:`parquet_values` reads them (a struct member alone, as a dictionary)
without decoding the text of each row, so indexing ``useridentity.type`` costs no more than
``eventname`` (3.35M events: 0.05 s CPU, where decoding the ``useridentity`` struct cost 3.1 s).
A data file never changes once written, so each file is indexed once and the index serves every
control of a run and the re-evaluations that find causes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from loglake.catalog import DataFile
from loglake.query.tables import Predicate

#: per file path, per indexed column, the values the file may hold (a superset is safe)
Values = dict[str, dict[str, frozenset[str]]]
#: reads the given files' values of the indexed columns (dotted names are struct members)
Reader = Callable[[list[DataFile], tuple[str, ...]], Values]

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
        found = read(missing, group)
        for column in group:
            values = self._values.setdefault(column, {})
            for f in missing:  # a file without rows holds nothing to match
                values[f.path] = (found.get(f.path) or {}).get(column, frozenset())


def parquet_values(
    open_file: Callable[[str], Any], files: list[DataFile], columns: tuple[str, ...]
) -> Values:
    """The values of ``columns`` in each Parquet file, from its column chunks' dictionaries
    (names matched regardless of case; a column a file lacks holds nothing)."""
    out: Values = {}
    for f in files:
        with open_file(f.path) as handle:
            parquet = pq.ParquetFile(handle)
            paths = {c: _dotted(parquet.schema_arrow, c) for c in columns}
            wanted = sorted({p for p in paths.values() if p})
            if wanted:
                parquet = pq.ParquetFile(handle, metadata=parquet.metadata, read_dictionary=wanted)
                table = parquet.read(columns=wanted, use_threads=False)
        found: dict[str, frozenset[str]] = {}
        for column, path in paths.items():
            if path is None:
                continue
            top, *rest = path.split(".")
            values: set[str] = set()
            for chunk in table.column(top).chunks:
                for name in rest:
                    chunk = chunk.field(name)
                if isinstance(chunk, pa.DictionaryArray):  # the chunk's dictionary, a superset
                    values.update(v for v in chunk.dictionary.to_pylist() if v is not None)
                else:
                    values.update(v for v in chunk.unique().to_pylist() if v is not None)
            found[column] = frozenset(str(v) for v in values)
        out[f.path] = found
    return out


def _dotted(schema: pa.Schema, column: str) -> str | None:
    """``column`` (``top.member``) as the file spells it, or None if the file lacks it."""
    names: list[str] = []
    fields: Any = schema
    for step in column.split("."):
        if fields is None:
            return None
        by_name = {f.name.lower(): f for f in fields}
        field = by_name.get(step.lower())
        if field is None:
            return None
        names.append(field.name)
        fields = field.type if isinstance(field.type, pa.StructType) else None
    return ".".join(names)


__all__ = ["EVENT_COLUMNS", "FileValues", "parquet_values"]
