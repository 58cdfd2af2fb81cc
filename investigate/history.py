"""The history of first-seen rules, summarised: per day, the first and last event of each
combination of a rule's ``history`` columns, in ``_detections.history``.

A rule such as "an access key used from an address it never used in 30 days" compares each new
event with a month of its entity's events, which on a busy key is millions of rows. It only needs
the first and the last time each (key, address) was seen, so an incremental run keeps those per
day in this table and reads a few hundred summary rows instead of scanning a month of events.

Each rule's summary records the source-table version of its last addition (a Delta application
transaction ``history:<detection id>``). A run first brings the summaries of all its rules up to
the version it reads, in one commit (the new rows of the run, or the whole table when a rule has
no summary yet), then reads them. A rule none of whose new rows passes its prefilter adds nothing
and commits nothing: its summary is complete up to the rule's checkpoint, which moves only after
the summary was written. Adding the
same rows twice (a run that crashed before committing its hits and runs again) changes no first
or last time, so the summary needs no exactly-once bookkeeping of its own. At the far end of the
lookback the summary is exact to the day: of a day cut by the window's start it knows the first
and last event, not the first one inside the window.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence

import polars as pl
import pyarrow as pa

from loglake.catalog import Catalog, ManagedTable
from loglake.monitor.metrics import compact_if_many

DATABASE = "_detections"
TABLE = "history"
SCHEMA = pa.schema(
    [
        pa.field("detection_id", pa.string()),
        pa.field("day", pa.string()),
        pa.field("row", pa.string()),  # JSON: the columns the rule's history keeps, as text
    ]
)
_DAY = "__day"


def marker(detection_id: str) -> str:
    return f"history:{detection_id}"


def ends(
    rows: pl.LazyFrame, keys: Sequence[str], when: pl.Expr, columns: Sequence[str]
) -> pl.DataFrame:
    """The earliest and the latest row of each combination of ``keys`` (by ``when``), with the
    keys and ``columns``, in one lazy pass: the rows are grouped as they are read."""
    others = [c for c in columns if c not in keys]
    grouped = (
        rows.group_by(list(keys))
        .agg(
            [pl.col(c).get(when.arg_min()).alias(f"{c}\x00first") for c in others]
            + [pl.col(c).get(when.arg_max()).alias(f"{c}\x00last") for c in others]
        )
        .collect()
    )
    both = pl.concat(
        [
            grouped.select(*keys, *[pl.col(f"{c}\x00{end}").alias(c) for c in others])
            for end in ("first", "last")
        ]
    )
    return both.unique(maintain_order=True)


class HistoryStore:
    """The ``_detections.history`` table."""

    def __init__(self, catalog: Catalog):
        self.catalog = catalog

    @functools.cached_property
    def table(self) -> ManagedTable:
        """The table, created on first use."""
        return self.catalog.own_table(
            DATABASE,
            TABLE,
            SCHEMA,
            comment="First and last events per day of the history columns of detections",
        )

    def covered(self, detection_id: str) -> int | None:
        """The source-table version the rule's summary is complete up to (None: no summary)."""
        found = self.table.app_version(marker(detection_id))
        return None if found is None else int(found)

    def summary(
        self,
        detection_id: str,
        rows: pl.LazyFrame,
        keys: Sequence[str],
        when: pl.Expr,
        day: pl.Expr,
    ) -> pl.DataFrame:
        """The summary rows of ``rows`` (first and last per day and key combination)."""
        columns = rows.collect_schema().names()
        summary = ends(rows.with_columns(day.alias(_DAY)), [_DAY, *keys], when, columns)
        return summary.select(
            pl.lit(detection_id).alias("detection_id"),
            pl.col(_DAY).alias("day"),
            pl.struct([pl.col(c).cast(pl.String) for c in columns])
            .struct.json_encode()
            .alias("row"),
        )

    def add(self, summaries: Mapping[str, pl.DataFrame], version: int) -> None:
        """Append the summaries of several rules in one commit that records, for each, that its
        summary covers the source up to ``version``; the table is compacted as it grows by
        small files (one per run)."""
        if not summaries:
            return
        data = pl.concat(list(summaries.values()))
        marks = {marker(detection_id): version for detection_id in summaries}
        self.table.append(data.to_arrow().cast(SCHEMA), transactions=marks)
        compact_if_many(self.table)

    def read(
        self, detection_id: str, first_day: str, last_day: str, schema: Mapping[str, pl.DataType]
    ) -> pl.DataFrame:
        """The summary rows of days [first_day, last_day], with the given columns and types."""
        table = self.table
        text = pl.Struct({c: pl.String for c in schema})
        rows = (
            pl.scan_delta(table.table)  # the open table: no second load of its log
            .filter(
                (pl.col("detection_id") == detection_id)
                & pl.col("day").is_between(pl.lit(first_day), pl.lit(last_day))
            )
            .select("row")
            .collect()
        )
        if not rows.height:
            return pl.DataFrame(schema=dict(schema))
        rows = rows.select(pl.col("row").str.json_decode(text)).unnest("row")
        return rows.select(pl.col(c).cast(dtype, strict=False) for c, dtype in schema.items())
