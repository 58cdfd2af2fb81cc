"""The actors table: who did what, one flat row per CloudTrail event, kept up to date incrementally.

Investigation questions select events by identity (``useridentity.arn``, the session issuer, the
access key). In the cloudtrail table those are members of the ``useridentity`` struct, and
reading a member means decoding the whole nested struct of every row (about 7 µs per row, a
minute for ten million events). ``_investigate.actors`` holds the identity members as plain
columns next to the event's time, name, address, agent and error, plus the request, response and
additional-data text of the calls that change something or issue credentials, so a timeline, a
chain, a first-seen question or a detection reads a few flat columns.

The table follows the cloudtrail table with the monitor's checkpoint mechanism: each update reads
the files committed since the version recorded (as a Delta application transaction) in its own
last commit, and appends their rows with the new version in one commit.
"""

from __future__ import annotations

import time

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from polars.datatypes import DataTypeClass

from loglake.catalog import Catalog, ManagedTable
from loglake.catalog.types import empty_table
from loglake.errors import ConflictError
from loglake.investigate.identity import STS_ISSUERS
from loglake.monitor.runner import pinned_files, split_table
from loglake.monitor.state import MonitorState

DATABASE = "_investigate"
TABLE = "actors"
APP_ID = "actors:cloudtrail"
#: data files converted per commit on a large update
BATCH_FILES = 16
#: half-second waits for another updater before giving up
LEASE_WAITS = 600
#: (column of the actors table, path of the cloudtrail column or struct member it copies)
COLUMNS = (
    ("eventtime", "eventtime"),
    ("eventid", "eventid"),
    ("eventname", "eventname"),
    ("eventsource", "eventsource"),
    ("eventtype", "eventtype"),
    ("eventcategory", "eventcategory"),
    ("errorcode", "errorcode"),
    ("errormessage", "errormessage"),
    ("readonly", "readonly"),
    ("sourceipaddress", "sourceipaddress"),
    ("useragent", "useragent"),
    ("awsregion", "awsregion"),
    ("recipientaccountid", "recipientaccountid"),
    ("identity_type", "useridentity.type"),
    ("arn", "useridentity.arn"),
    ("accesskeyid", "useridentity.accesskeyid"),
    ("username", "useridentity.username"),
    ("invokedby", "useridentity.invokedby"),
    ("issuer_arn", "useridentity.sessioncontext.sessionissuer.arn"),
    ("requestparameters", "requestparameters"),
    ("responseelements", "responseelements"),
    ("additionaleventdata", "additionaleventdata"),
    ("resource_arns", "resources"),
)
PARTITIONS = ("account", "region", "day")
SCHEMA = pa.schema(
    [pa.field(name, pa.string()) for name, _ in COLUMNS]
    + [pa.field(p, pa.string()) for p in PARTITIONS]
)


def actors_table(catalog: Catalog) -> ManagedTable:
    return catalog.own_table(
        DATABASE,
        TABLE,
        SCHEMA,
        partition_by=["day"],
        comment="CloudTrail events with their identity as plain columns (investigation index)",
    )


def update_actors(catalog: Catalog, *, batch_files: int = BATCH_FILES) -> int:
    """Add the cloudtrail rows committed since the last update; returns the rows added.

    Files are converted ``batch_files`` at a time, one commit each, so memory stays bounded on a
    large first update. Each commit records how many files of the update are done (application
    transaction ``actors:cloudtrail:<version>``), the last one the new version itself: a killed
    update resumes after the last committed batch and adds nothing twice.
    """
    database, name = split_table("cloudtrail", catalog)
    if not catalog.table_exists(database, name):
        return 0
    source = catalog.managed(database, name)
    done = actors_table(catalog).app_version(APP_ID)
    if done is not None and int(done) >= source.version():
        return 0  # up to date: no lease to take (two document writes) and nothing to read
    state = MonitorState(catalog)
    token = None
    for _ in range(LEASE_WAITS):  # one updater at a time: another one's rows are not added twice
        token = state.acquire(APP_ID)
        if token is not None:
            break
        time.sleep(0.5)
    if token is None:
        raise ConflictError("another process keeps updating _investigate.actors; try again")
    try:
        return _update(catalog, source, batch_files)
    finally:
        state.release(APP_ID, token)


def _update(catalog: Catalog, source: ManagedTable, batch_files: int) -> int:
    target = actors_table(catalog)
    done = target.app_version(APP_ID)
    since = -1 if done is None else int(done)
    files, version = pinned_files(source, since)
    if version <= since:
        return 0
    progress_id = f"{APP_ID}:{version}"
    start = target.app_version(progress_id) or 0
    added = 0
    for first in range(start, len(files), batch_files):
        batch = files[first : first + batch_files]
        frames = [actors_frame(_read(source, f.path), f.partition) for f in batch]
        rows = pl.concat(frames) if frames else pl.DataFrame(schema=pl.Schema(SCHEMA))
        end = first + len(batch)
        marks = {APP_ID: version} if end >= len(files) else {progress_id: end}
        target.append(rows.to_arrow().cast(SCHEMA), transactions=marks)
        added += rows.height
    if not files:  # only commits without new data (compactions): move the mark
        target.append(empty_table(SCHEMA), transactions={APP_ID: version})
    return added


def _read(source: ManagedTable, path: str) -> pl.DataFrame:
    """The columns and struct members the actors table copies from one data file (pyarrow reads
    single members of a struct without decoding the others)."""
    filesystem = source.settings.filesystem()
    location = source.settings.fs_path(path)
    with filesystem.open(location, "rb") as handle:
        present = set(pq.read_schema(handle).names)
        handle.seek(0)
        wanted = [p for _, p in COLUMNS if p.split(".", 1)[0] in present]
        wanted += [c for c in ("readonly", "eventname") if c in present and c not in wanted]
        table = pq.read_table(handle, columns=wanted)
    # members come back as columns of their own, in the order asked: name them by their path
    return pl.from_arrow(table.rename_columns(wanted))  # type: ignore[return-value]


def _member(frame: pl.DataFrame, path: str) -> pl.Expr:
    if path in frame.columns:  # read from a file: the member is a column named by its path
        return pl.col(path).cast(pl.String)
    head, *rest = path.split(".")
    if head not in frame.columns:
        return pl.lit(None, dtype=pl.String)
    expr = pl.col(head)
    dtype: pl.DataType | DataTypeClass = frame.schema[head]
    for name in rest:
        if not isinstance(dtype, pl.Struct) or name not in {f.name for f in dtype.fields}:
            return pl.lit(None, dtype=pl.String)
        dtype = next(f.dtype for f in dtype.fields if f.name == name)
        expr = expr.struct.field(name)
    return expr.cast(pl.String)


def actors_frame(rows: pl.DataFrame, partition: dict[str, str] | None = None) -> pl.DataFrame:
    """Rows of the cloudtrail table (or the members of them read from a file) as actors rows."""
    kept = (pl.col("readonly").cast(pl.String) != "true").fill_null(True) | pl.col(
        "eventname"
    ).is_in(list(STS_ISSUERS)).fill_null(False)
    exprs = []
    for name, path in COLUMNS:
        if name == "resource_arns":
            if "resources" in rows.columns:
                arns = (
                    pl.col("resources").list.eval(pl.element().struct.field("arn")).list.join(" ")
                )
                exprs.append(pl.when(arns != "").then(arns).alias(name))
            else:
                exprs.append(pl.lit(None, dtype=pl.String).alias(name))
        elif name in ("requestparameters", "responseelements", "additionaleventdata"):
            exprs.append(pl.when(kept).then(_member(rows, path)).alias(name))
        else:
            exprs.append(_member(rows, path).alias(name))
    for p in PARTITIONS:
        if partition is not None:
            exprs.append(pl.lit(partition.get(p), dtype=pl.String).alias(p))
        else:
            exprs.append(_member(rows, p).alias(p))
    frame = rows
    for needed in ("readonly", "eventname"):
        if needed not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias(needed))
    return frame.select(exprs)
