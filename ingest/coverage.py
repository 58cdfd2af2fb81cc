"""What the lake holds per source, account, region and day, and where deliveries are missing."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass

import polars as pl

from loglake.catalog.storage import StorageSettings
from loglake.ingest.quarantine import Quarantine
from loglake.ingest.sources import kinds, sources
from loglake.ingest.state import IngestLog


@dataclass
class Coverage:
    table: pl.DataFrame  # source, account, region, day, objects, rows, quarantined
    gaps: pl.DataFrame  # source, account, region, first_missing, last_missing, hours

    def __str__(self) -> str:
        with pl.Config(tbl_rows=200, tbl_hide_dataframe_shape=True, tbl_width_chars=140):
            text = str(self.table)
            if self.gaps.height:
                text += (
                    "\ngaps (hours without a delivery between hours with deliveries, for sources "
                    "that deliver every hour):\n"
                )
                text += str(self.gaps)
        return text


def coverage(settings: StorageSettings, *, source: str | None = None) -> Coverage:
    """Objects and rows ingested per (source, account, region, delivery day), quarantined
    inputs, and the hours with no delivery where the hours around them have some (for the
    sources that deliver every hour: ``Source.hourly``)."""
    log = IngestLog(settings).latest()
    log = log.with_columns(
        pl.col("kind")
        .replace_strict(
            {k.name: k.source or k.name for k in kinds().values()}, default=pl.col("kind")
        )
        .alias("source")
    )
    if source:
        log = log.filter(pl.col("source") == source)
    entries = Quarantine(settings).entries()
    quarantined = (
        pl.DataFrame(
            {"source_key": [e.source_key for e in entries]}, schema={"source_key": pl.String}
        )
        .group_by("source_key")
        .agg(pl.len().cast(pl.Int64).alias("quarantined"))
    )
    keys = ["source", "account", "region", "delivery_day"]
    table = (
        log.join(quarantined, on="source_key", how="left")
        .with_columns(pl.col("quarantined").fill_null(0))
        .group_by(keys)
        .agg(
            pl.len().alias("objects"),
            pl.col("rows").sum().alias("rows"),
            pl.col("quarantined").sum().alias("quarantined"),
        )
        .rename({"delivery_day": "day"})
        .sort(["source", "account", "region", "day"], nulls_last=True)
    )
    return Coverage(table, _gaps(log))


def _gaps(log: pl.DataFrame) -> pl.DataFrame:
    schema = pl.Schema(
        {
            "source": pl.String(),
            "account": pl.String(),
            "region": pl.String(),
            "first_missing": pl.Datetime("us", "UTC"),
            "last_missing": pl.Datetime("us", "UTC"),
            "hours": pl.Int64(),
        }
    )
    hourly = [name for name, record in sources().items() if record.hourly]
    hours = (
        log.filter(
            pl.col("source").is_in(hourly)
            & pl.col("delivery_hour").is_not_null()
            & (pl.col("delivery_day") != "unknown")
        )
        .with_columns(
            (
                pl.col("delivery_day").str.to_datetime("%Y-%m-%d", time_zone="UTC")
                + pl.duration(hours=pl.col("delivery_hour"))
            ).alias("hour")
        )
        .select("source", "account", "region", "hour")
        .unique()
        .sort("source", "account", "region", "hour")
    )
    rows = []
    for (src, account, region), group in hours.group_by(
        ["source", "account", "region"], maintain_order=True
    ):
        stamps = group["hour"].to_list()
        for before, after in itertools.pairwise(stamps):
            missing = int((after - before) / dt.timedelta(hours=1)) - 1
            if missing > 0:
                rows.append(
                    (
                        src,
                        account,
                        region,
                        before + dt.timedelta(hours=1),
                        after - dt.timedelta(hours=1),
                        missing,
                    )
                )
    return pl.DataFrame(rows, schema=schema, orient="row")
