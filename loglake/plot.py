"""Time series of a query result: events per interval, the first picture of an investigation.

Counting runs in Polars (``group_by_dynamic``); drawing uses matplotlib, which shows inline in
Jupyter and writes PNG with ``fig.savefig("events.png")``. Time columns may be timestamps or the
ISO-8601 text CloudTrail writes (``eventtime``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import polars as pl

from loglake.errors import UserError

if TYPE_CHECKING:
    import matplotlib.figure

#: at most this many series are drawn; the rest are summed into "other"
MAX_SERIES = 8


def _as_datetime(frame: pl.DataFrame, column: str) -> pl.Expr:
    if column not in frame.columns:
        raise UserError(f"no column {column!r} in the result; columns: {', '.join(frame.columns)}")
    dtype = frame.schema[column]
    if isinstance(dtype, pl.Datetime):
        return pl.col(column)
    if dtype == pl.Date:
        return pl.col(column).cast(pl.Datetime("us"))
    if dtype == pl.String:
        return pl.col(column).str.to_datetime(time_zone="UTC", strict=False)
    raise UserError(f"column {column!r} is not a time (it is {dtype})")


def counts_per_interval(
    frame: pl.DataFrame,
    time: str,
    every: str = "1m",
    by: str | None = None,
    value: str | None = None,
) -> pl.DataFrame:
    """Rows (or the sum of ``value``) per ``every`` interval (``"1m"``, ``"5m"``, ``"1h"``, ``"1d"``),
    one column per distinct ``by`` value; intervals with nothing in them count 0."""
    stamped = frame.with_columns(_as_datetime(frame, time).alias("__time")).drop_nulls("__time")
    measure = pl.col(value).sum() if value else pl.len()
    name = value or "events"
    if by is not None and by not in frame.columns:
        raise UserError(f"no column {by!r} in the result; columns: {', '.join(frame.columns)}")
    if stamped.is_empty():
        return pl.DataFrame(schema={time: pl.Datetime("us", "UTC"), name: pl.Int64})
    if by is not None:
        top = (
            stamped.group_by(by)
            .agg(measure.alias("__n"))
            .sort("__n", descending=True)
            .head(MAX_SERIES)[by]
            .cast(pl.String)
        )
        stamped = stamped.with_columns(
            pl.when(pl.col(by).cast(pl.String).is_in(top.implode()))
            .then(pl.col(by).cast(pl.String))
            .otherwise(pl.lit("other"))
            .alias(by)
        )
    keys = [by] if by else []
    counted = (
        stamped.sort("__time")
        .group_by_dynamic("__time", every=every, group_by=keys or None)
        .agg(measure.alias(name))
    )
    if by:
        counted = counted.pivot(on=by, index="__time", values=name).sort("__time")
    filled = counted.upsample("__time", every=every).fill_null(0)
    return filled.rename({"__time": time})


def timeseries(
    frame: pl.DataFrame,
    time: str,
    every: str = "1m",
    by: str | None = None,
    value: str | None = None,
    title: str | None = None,
    ax: Any = None,
) -> matplotlib.figure.Figure:
    """Draw ``counts_per_interval`` as lines; returns the matplotlib Figure (shown inline in a
    notebook, ``.savefig("x.png")`` for a file)."""
    import matplotlib.pyplot as plt

    series = counts_per_interval(frame, time, every=every, by=by, value=value)
    if ax is None:
        figure, ax = plt.subplots(figsize=(10, 3.5))
        plt.close(figure)  # shown once, by the notebook's display of the returned figure
    else:
        figure = ax.figure
    stamps = series[time].to_list()
    for column in series.columns:
        if column != time:
            ax.plot(stamps, series[column].to_list(), label=column, linewidth=1.2)
    unit = value or "events"
    ax.set_ylabel(f"{unit} per {every}")
    ax.set_xlabel(f"{time} (UTC)")
    ax.set_title(title or f"{unit} per {every}")
    ax.grid(alpha=0.3)
    if by:
        ax.legend(loc="upper left", fontsize="small", title=by)
    figure.autofmt_xdate()
    return figure
