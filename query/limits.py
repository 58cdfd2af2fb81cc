"""Per-query resource limits, as an Athena workgroup sets them: time, data scanned, result size.

The limits come from the lake's settings (:class:`loglake.catalog.lakesettings.QueryLimits`) and
can be changed for one call (``lake.sql(..., limits={"time_limit_s": 5})``). A query over a limit
is cancelled — Polars stops its work — and fails with an error that names the limit and how to
change it; it is never cut short silently.
"""

from __future__ import annotations

import time
from typing import Any

import polars as pl

from loglake.catalog.lakesettings import QueryLimits
from loglake.errors import SqlError

#: longest pause between two looks at a running query (the shortest is a few microseconds)
_MAX_PAUSE_S = 0.02


class QueryLimitError(SqlError):
    """A query went over one of its limits and was cancelled."""


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.2f} {unit}"
        n /= 1024
    return f"{n} B"


def _exceeded(what: str, limit: str, setting: str) -> QueryLimitError:
    return QueryLimitError(
        f"Query exhausted its {what} limit of {limit} and was cancelled; change the lake "
        f"setting {setting} or pass limits={{'{setting}': ...}} for this query"
    )


def check_scan(limits: QueryLimits, bytes_scanned: int) -> None:
    """Refuse, before reading anything, a query that would scan more than its limit."""
    limit = limits.scan_limit_bytes
    if limit is not None and bytes_scanned > limit:
        raise QueryLimitError(
            f"Query would scan {_size(bytes_scanned)}, over its data scanned limit of "
            f"{_size(limit)}; narrow it with partition filters, change the lake setting "
            "scan_limit_bytes or pass limits={'scan_limit_bytes': ...} for this query"
        )


def collect_within(lf: pl.LazyFrame, limits: QueryLimits, engine: str) -> pl.DataFrame:
    """Run a plan under the time and result-size limits, cancelling it at the first one crossed."""
    rows = limits.result_limit_rows
    if rows is not None:
        lf = lf.limit(rows + 1)  # a runaway result stops growing one row past the limit
    if limits.time_limit_s is None:
        df = lf.collect(engine=engine)  # type: ignore[arg-type]
    else:
        df = _collect_before(lf, engine, time.monotonic() + limits.time_limit_s, limits)
    if rows is not None and df.height > rows:
        raise _exceeded("result rows", f"{rows:,} rows", "result_limit_rows")
    size = limits.result_limit_bytes
    if size is not None and df.estimated_size() > size:
        raise _exceeded("result size", _size(size), "result_limit_bytes")
    return df


#: cancelled queries, kept until Polars has wound them down: dropping one earlier makes its
#: worker fail to hand over its (unwanted) outcome, which Polars reports as a panic
_CANCELLED: list[Any] = []


def _forget_finished() -> None:
    for query in list(_CANCELLED):
        try:
            finished = query.fetch() is not None
        except Exception:
            finished = True
        if finished:
            _CANCELLED.remove(query)


def _collect_before(
    lf: pl.LazyFrame, engine: str, deadline: float, limits: QueryLimits
) -> pl.DataFrame:
    """Collect in the background, where Polars can cancel (it uses its in-memory engine)."""
    _forget_finished()
    query = lf.collect(background=True, engine=engine)  # type: ignore[arg-type]
    pause = 0.00005
    try:
        while True:
            df = query.fetch()
            if df is not None:
                return df
            left = deadline - time.monotonic()
            if left <= 0:
                raise _exceeded("time", f"{limits.time_limit_s:g} s", "time_limit_s")
            time.sleep(min(pause, left))
            pause = min(pause * 2, _MAX_PAUSE_S)
    except BaseException:  # over time, interrupted (Ctrl-C) or failed: stop Polars' work too
        query.cancel()
        _CANCELLED.append(query)
        raise
