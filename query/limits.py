"""Per-query resource limits, as an Athena workgroup sets them: time, data scanned, result size.

The limits come from the lake's settings (:class:`loglake.catalog.lakesettings.QueryLimits`) and
can be changed for one call (``lake.sql(..., limits={"time_limit_s": 5})``). A query over a limit
is cancelled — Polars stops its work — and fails with an error that names the limit and how to
change it; it is never cut short silently.

A query with a time limit runs on its usual engine and is interrupted when its time is up
(:mod:`loglake.query.interrupt`), which costs nothing until then.
"""

from __future__ import annotations

import threading
from typing import Literal

import polars as pl

from loglake.catalog.lakesettings import QueryLimits
from loglake.errors import SqlError
from loglake.query import interrupt

#: the engines Polars collects a plan with
CollectEngine = Literal["auto", "in-memory", "streaming", "gpu"]
COLLECT_ENGINES: tuple[CollectEngine, ...] = ("auto", "in-memory", "streaming", "gpu")


class QueryLimitError(SqlError):
    """A query went over one of its limits and was cancelled."""


def human_bytes(n: float) -> str:
    """A byte count as limit errors and query statistics print it (1.50 MB)."""
    value = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.2f} {unit}"
        value /= 1024
    return f"{n} B"


def _exceeded(what: str, limit: str, setting: str, stopped: bool = True) -> QueryLimitError:
    ending = "was cancelled" if stopped else "was abandoned (its work ends on its own)"
    return QueryLimitError(
        f"Query exhausted its {what} limit of {limit} and {ending}; change the lake setting "
        f"{setting} (loglake settings {setting}=...) or pass limits={{'{setting}': ...}} "
        "for this query"
    )


def check_scan(limits: QueryLimits, bytes_scanned: int) -> None:
    """Refuse, before reading anything, a query that would scan more than its limit."""
    limit = limits.scan_limit_bytes
    if limit is not None and bytes_scanned > limit:
        raise QueryLimitError(
            f"Query would scan {human_bytes(bytes_scanned)}, over its data scanned limit of "
            f"{human_bytes(limit)}; narrow it with partition filters, change the lake setting "
            "scan_limit_bytes or pass limits={'scan_limit_bytes': ...} for this query"
        )


def wait_until_polars_runs() -> None:
    """Wait, before a statement first uses Polars, while the stop of earlier work is raised.

    Polars keeps a stop (Ctrl-C, another query's time limit) raised until all of its work in
    the process has ended, and refuses new work meanwhile with a KeyboardInterrupt that would
    look like the user's Ctrl-C."""
    try:
        interrupt.wait_for_earlier_stops()
    except interrupt.StillStopping:
        raise QueryLimitError(
            "Query could not start: Polars work stopped earlier in this process (Ctrl-C or "
            "another query's time limit) has not ended yet; run it again"
        ) from None


def collect_within(lf: pl.LazyFrame, limits: QueryLimits, engine: CollectEngine) -> pl.DataFrame:
    """Run a plan under the time and result-size limits, cancelling it at the first one crossed."""
    rows = limits.result_limit_rows
    if rows is not None:
        lf = lf.limit(rows + 1)  # a runaway result stops growing one row past the limit
    seconds = limits.time_limit_s
    try:
        if seconds is None:
            df = lf.collect(engine=engine)
        else:
            df = interrupt.run_until(lambda: lf.collect(engine=engine), seconds)
    except interrupt.TimeUp as up:
        raise _exceeded("time", f"{seconds:g} s", "time_limit_s", up.stopped) from None
    except KeyboardInterrupt:
        if threading.current_thread() is threading.main_thread():
            raise  # Ctrl-C
        # off the main thread only Polars raises it: a stop meant for another query reached it
        raise QueryLimitError(
            "Query was interrupted: Ctrl-C or another query's time limit stopped Polars' work "
            "in this process; run it again"
        ) from None
    if rows is not None and df.height > rows:
        raise _exceeded("result rows", f"{rows:,} rows", "result_limit_rows")
    size = limits.result_limit_bytes
    if size is not None and df.estimated_size() > size:
        raise _exceeded("result size", human_bytes(size), "result_limit_bytes")
    return df
