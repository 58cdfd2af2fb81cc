"""Query results in a notebook: the rows as an HTML table with Trino types, then one statistics line.

The statistics line is the one Athena's console shows under a result, plus what Athena would have
charged for the scan. Every value is HTML-escaped: log fields are written by whoever sent the
request, and a user agent of ``<script>`` must show as text. While a long query runs, a progress
line (files to scan, rows received, time) is shown and removed when the result arrives.
"""

from __future__ import annotations

import html
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import polars as pl

from loglake.query.cost import format_usd
from loglake.query.interrupt import serving_stops
from loglake.query.limits import human_bytes
from loglake.render import cell_texts, table_text

if TYPE_CHECKING:
    import matplotlib.figure
    import pandas
    import pyarrow

    from loglake.query.engine import QueryStats

#: rows a result shows before "showing N of M rows"
MAX_ROWS = 50
#: characters of one cell before it is cut (the full value stays in the frame)
MAX_CELL_CHARS = 200
#: characters of a column's type in the header (the full type is its tooltip)
MAX_TYPE_CHARS = 40
#: a query slower than this shows the progress line
PROGRESS_AFTER_S = 0.5


def stats_line(stats: QueryStats) -> str:
    """``12 rows · 1.2 MB scanned · files 3 read, 40 skipped · 0.41 s · Athena: USD 0.000048``."""
    rows = "?" if stats.rows is None else f"{stats.rows:,}"
    return (
        f"{rows} {'row' if stats.rows == 1 else 'rows'} · {human_bytes(stats.bytes_scanned)} scanned · "
        f"files {stats.files_scanned:,} read, {stats.files_skipped:,} skipped · "
        f"{stats.elapsed_s:.2f} s · Athena would charge {format_usd(stats.athena_cost_usd)} · "
        f"query {stats.query_id}"
    )


def _cut(text: str, limit: int = MAX_CELL_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def html_table(frame: pl.DataFrame, types: list[str], max_rows: int = MAX_ROWS) -> str:
    """The first ``max_rows`` rows under a header of column names and their Trino types; cells
    read as in the CLI's table and CSV (``loglake.render``), a missing value as NULL."""
    head = "".join(
        f"<th>{html.escape(name)}<br><small class='loglake-type' title='{html.escape(kind)}'>"
        f"{html.escape(_cut(kind, MAX_TYPE_CHARS))}</small></th>"
        for name, kind in zip(frame.columns, types, strict=True)
    )
    body = []
    for row in cell_texts(frame.head(max_rows)).rows():
        cells = []
        for text in row:
            if text is None:
                cells.append("<td class='loglake-null'>NULL</td>")
                continue
            title = (
                f" title='{html.escape(_cut(text, 2000))}'" if len(text) > MAX_CELL_CHARS else ""
            )
            cells.append(f"<td{title}>{html.escape(_cut(text))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        "<table class='loglake-result'><thead><tr>"
        + head
        + "</tr></thead><tbody>"
        + "".join(body)
        + "</tbody></table>"
    )


class Result:
    """A finished query in a notebook: its rows (``pl()``, ``df()``, ``arrow()``) and statistics."""

    def __init__(self, frame: pl.DataFrame, stats: QueryStats, types: list[str]):
        self.frame = frame
        self.stats = stats
        self.types = types

    @property
    def query_id(self) -> str:
        return self.stats.query_id

    def pl(self) -> pl.DataFrame:
        return self.frame

    def df(self) -> pandas.DataFrame:
        return self.frame.to_pandas()

    def arrow(self) -> pyarrow.Table:
        return self.frame.to_arrow()

    def __len__(self) -> int:
        return self.frame.height

    def plot(self, time: str, **options: Any) -> matplotlib.figure.Figure:
        """A time series of the result (see ``loglake.plot.timeseries``)."""
        from loglake.plot import timeseries

        return timeseries(self.frame, time, **options)

    def _shown(self) -> str:
        if self.frame.height <= MAX_ROWS:
            return ""
        return f"showing {MAX_ROWS:,} of {self.frame.height:,} rows · "

    def _repr_html_(self) -> str:
        return (
            "<div class='loglake-result'>"
            + html_table(self.frame, self.types)
            + "<p class='loglake-stats'><small>"
            + html.escape(self._shown() + stats_line(self.stats))
            + "</small></p></div>"
        )

    def __repr__(self) -> str:
        table = table_text(self.frame, max_rows=MAX_ROWS, footer=False)
        return f"{table}\n{self._shown()}{stats_line(self.stats)}"


# ---------------------------------------------------------------------- progress


def progress_html(files: int, bytes_scanned: int, rows: int, elapsed: float) -> str:
    """A running query: an indeterminate bar, the files and bytes it reads, rows so far, time."""
    return (
        "<div class='loglake-progress'><progress style='width:20em'></progress> "
        f"<small>reading {files:,} files ({html.escape(human_bytes(bytes_scanned))}) · "
        f"{rows:,} rows received · {elapsed:.1f} s</small></div>"
    )


def with_progress(
    work: Callable[[], Any], status: Callable[[], tuple[int, int, int]], started: float
) -> Any:
    """Run ``work`` in a thread; past ``PROGRESS_AFTER_S`` show a progress line, removed at the end.

    ``status`` gives (files, bytes, rows received) and is read from this thread only, so the
    display is updated from the thread that owns the cell's output.
    """
    from IPython.display import HTML, display

    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = work()
        except BaseException as err:  # handed back to the caller's thread
            outcome["error"] = err

    worker = threading.Thread(target=run, name="loglake-query", daemon=True)
    with serving_stops() as serve:  # a query over its time limit is stopped from here
        worker.start()
        for _ in range(int(PROGRESS_AFTER_S / 0.25)):
            worker.join(0.25)
            serve()
            if not worker.is_alive():
                break
        if worker.is_alive():
            handle = display(
                HTML(progress_html(*status(), time.perf_counter() - started)), display_id=True
            )
            while worker.is_alive():
                worker.join(0.25)
                serve()
                if handle is not None:
                    handle.update(HTML(progress_html(*status(), time.perf_counter() - started)))
            if handle is not None:
                handle.update(HTML(""))
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")
