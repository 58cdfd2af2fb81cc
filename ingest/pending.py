"""Rows parsed in a run and not yet committed: files of a target size across a run.

A trail delivers a small object every few minutes per account and region, so one parsed batch
holds little data per partition; committing each batch would leave a file per batch and
partition. Instead a run gathers a table's batches until they would make a Parquet file of about
``TARGET_FILE_BYTES`` (or hold ``MAX_PENDING_BYTES`` in memory), then sorts, writes and commits
them together, with every object whose rows they hold. Nothing is committed for an object before
all of its rows are, so a run that stops half-way leaves its pending objects for the next run.

A run reads objects in key order, so it leaves partitions behind as it goes (another account or
region, an older day): their rows are written as files at once (``take``), overlapping with the
parsing of what follows, and committed with the rest; only the partitions still open wait in
memory for the commit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from loglake.catalog.types import empty_table
from loglake.ingest.raw import RawObject
from loglake.ingest.state import ObjectOutcome

#: a Parquet data file of an ingested table aims at this size
TARGET_FILE_BYTES = 64 * 1024 * 1024
#: pending rows of one table never hold more Arrow memory than this
MAX_PENDING_BYTES = 512 * 1024 * 1024
#: Parquet bytes per Arrow byte before a table's first file tells (zstd on log text)
FIRST_RATIO = 0.12


@dataclass
class Pending:
    """One table's parsed batches waiting for a commit."""

    outcomes: list[ObjectOutcome] = field(default_factory=list)
    objects: list[RawObject] = field(default_factory=list)
    tables: list[pa.Table] = field(default_factory=list)
    #: add actions of files already written for these objects (of partitions left behind)
    files: list[dict[str, Any]] = field(default_factory=list)
    #: Arrow bytes of every row the objects gave, written to files already or not
    arrow_bytes: int = 0

    def add(self, outcomes: list[ObjectOutcome], objects: list[RawObject], data: pa.Table | None):
        self.outcomes += outcomes
        self.objects += objects
        if data is not None and data.num_rows:
            self.tables.append(data)
            self.arrow_bytes += data.nbytes

    def rows(self, schema: pa.Schema) -> pa.Table:
        return pa.concat_tables(self.tables) if self.tables else empty_table(schema)

    def take(self, selected: Callable[[pa.Table], pa.Array]) -> pa.Table | None:
        """Remove and return the waiting rows ``selected`` marks (a boolean per row)."""
        taken: list[pa.Table] = []
        kept: list[pa.Table] = []
        for table in self.tables:
            mask = selected(table)
            if not pc.any(mask).as_py():
                kept.append(table)
            elif pc.all(mask).as_py():
                taken.append(table)
            else:
                taken.append(table.filter(mask))
                kept.append(table.filter(pc.invert(mask)))
        self.tables = kept
        return pa.concat_tables(taken) if taken else None


class FileSizer:
    """When a table's pending rows make a file of the target size: the ratio of Parquet to
    Arrow bytes is learnt from the files the run has written."""

    def __init__(
        self,
        target: int = TARGET_FILE_BYTES,
        limit: int = MAX_PENDING_BYTES,
        ratio: float = FIRST_RATIO,
    ):
        self.target = target
        self.limit = limit
        self.ratio = ratio

    def flush_bytes(self) -> int:
        """Arrow bytes of pending rows that make one file of the target size."""
        return max(1, min(self.limit, int(self.target / self.ratio)))

    def learn(self, arrow_bytes: int, parquet_bytes: int) -> None:
        if arrow_bytes > 0 and parquet_bytes > 0:
            self.ratio = parquet_bytes / arrow_bytes
