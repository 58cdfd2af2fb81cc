"""Exactly-once commits: which raw object versions each table already holds.

The truth is the data table's own Delta log. Every ingest commit carries

* the list of the objects it ingested (key, ETag, size, rows, ...) in its commit metadata
  (compact: ``compact_objects``), and
* a Delta application transaction ``(loglake.ingest, n)``.

Two writers that commit to the same table from the same snapshot both carry that transaction id,
so delta-rs rejects the second commit as a concurrent transaction; the loser reloads, learns from
the winner's commit metadata which objects are now in the table, drops them from its batch and
tries again. Nothing is lost and nothing is written twice.

The ingest log (a Delta table at ``<root>/_state/ingest_log``) is an index of that metadata for
fast look-ups and coverage reports. After a crash between a data commit and its log entry, the
next run copies the missing entries from the data table's history (it tracks how far it got with
its own application transaction per table), so the log always catches up with the data.
"""

from __future__ import annotations

import concurrent.futures as cf
import datetime as dt
import itertools
import os
import re
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from deltalake import CommitProperties, DeltaTable, Transaction, WriterProperties, write_deltalake
from deltalake.exceptions import CommitFailedError, TableNotFoundError
from deltalake.transaction import AddAction, RemoveAction

from loglake.catalog.managed import ManagedTable
from loglake.catalog.storage import StorageSettings
from loglake.catalog.types import empty_table
from loglake.errors import CatalogError, StorageError
from loglake.ingest.schemas import PARTITION_COLUMNS, SOURCE_KEY

APP_ID = "loglake.ingest"
META_KEY = "loglake.ingest"
MAX_ATTEMPTS = 50
#: zstd level 1: on CloudTrail text it compresses as well as level 3 (slightly better, in fact)
#: and encodes faster, which matters on the commit path of every batch
WRITER_PROPERTIES = WriterProperties(compression="ZSTD", compression_level=1)

LOG_SCHEMA = pa.schema(
    [
        ("table", pa.string()),
        ("source_key", pa.string()),
        ("etag", pa.string()),
        ("size", pa.int64()),
        ("rows", pa.int64()),
        ("bad", pa.int64()),
        ("kind", pa.string()),
        ("account", pa.string()),
        ("region", pa.string()),
        ("delivery_hour", pa.int32()),
        ("data_version", pa.int64()),
        ("ingested_at", pa.timestamp("us", tz="UTC")),
        ("delivery_day", pa.string()),
    ]
)
#: the fields of an object entry in commit metadata, in order
ENTRY_FIELDS = (
    "source_key",
    "etag",
    "size",
    "rows",
    "bad",
    "kind",
    "account",
    "region",
    "delivery_day",
    "delivery_hour",
)


@dataclass
class ObjectOutcome:
    """One raw object version and what parsing it gave."""

    source_key: str
    etag: str
    size: int
    rows: int
    bad: int
    kind: str
    account: str | None
    region: str | None
    delivery_day: str | None
    delivery_hour: int | None

    def entry(self) -> list[Any]:
        return [getattr(self, f) for f in ENTRY_FIELDS]


def is_conflict(error: Exception) -> bool:
    text = str(error).lower()
    return isinstance(error, CommitFailedError) or "concurrent" in text or "conflict" in text


class IngestLog:
    """The ingest log Delta table."""

    def __init__(self, settings: StorageSettings):
        self.settings = settings
        self.location = settings.url("_state", "ingest_log")
        self.options = settings.delta_storage_options() or None
        self._managed = ManagedTable(settings, self.location)

    def table(self) -> DeltaTable:
        """The log table at its latest version, created the first time it is needed."""
        for _ in range(MAX_ATTEMPTS):
            try:
                return self._managed.table
            except CatalogError:
                try:
                    DeltaTable.create(
                        self.location,
                        LOG_SCHEMA,
                        mode="ignore",
                        partition_by=["delivery_day"],
                        storage_options=self.options,
                    )
                except Exception:  # another process created it at the same moment
                    time.sleep(0.05)
        raise StorageError(f"could not open the ingest log at {self.location}")

    def read(
        self, table: str | None = None, since: str | None = None, keys: set[str] | None = None
    ) -> pl.DataFrame:
        """Log entries, newest version of each object last; optionally one table, new days, and
        only the given object keys.

        Read through Polars' own Delta scan, which skips other days' files and filters the rest
        natively (a day's log can hold 100k entries), without loading pyarrow's dataset module
        (it imports pandas: most of a second for every short run in a new process).
        """
        try:
            scan = pl.scan_delta(self.location, storage_options=self.options)
        except TableNotFoundError:
            return pl.DataFrame(empty_table(LOG_SCHEMA))
        if since:  # objects without a delivery day are always looked at
            day = pl.col("delivery_day")
            scan = scan.filter((day >= since) | (day == "unknown"))
        if table is not None:
            scan = scan.filter(pl.col("table") == table)
        if keys is not None:
            scan = scan.filter(pl.col("source_key").is_in(list(keys)))
        try:
            frame = scan.collect()
        except FileNotFoundError:  # the scan is lazy: a missing folder shows when collected
            return pl.DataFrame(empty_table(LOG_SCHEMA))
        return frame.sort("ingested_at", "data_version", nulls_last=False)

    def latest(
        self, table: str | None = None, since: str | None = None, keys: set[str] | None = None
    ) -> pl.DataFrame:
        """One row per (table, object): the version ingested last."""
        frame = self.read(table, since, keys)
        return frame.unique(subset=["table", "source_key"], keep="last", maintain_order=True)

    def append(
        self, rows: list[dict[str, Any]], *, transaction: tuple[str, int] | None = None
    ) -> bool:
        """Append entries; with an (app id, version) transaction, False if another process
        recorded them first."""
        if not rows:
            return True
        data = pa.Table.from_pylist(rows, schema=LOG_SCHEMA)
        txns = [Transaction(*transaction)] if transaction is not None else None
        for _ in range(MAX_ATTEMPTS):
            log = self.table()
            if transaction is not None:
                app_id, version = transaction
                if (log.transaction_version(app_id) or -1) >= version:
                    return False
            try:
                write_deltalake(
                    log,
                    data,
                    mode="append",
                    commit_properties=CommitProperties(app_transactions=txns),
                )
                return True
            except Exception as error:
                if not is_conflict(error):
                    raise StorageError(f"could not write the ingest log: {error}") from error
                time.sleep(0.02)
        raise StorageError("could not write the ingest log: too many concurrent writers")

    def reconcile(self, table: str, data: DeltaTable) -> list[dict[str, Any]]:
        """Copy entries of data commits the log has not seen yet; returns them."""
        current = data.version()
        app = f"reconciled:{table}"
        done = self.table().transaction_version(app)
        done = -1 if done is None else done - 1  # stored as version + 1 (versions start at 0)
        if done >= current:
            return []
        rows: list[dict[str, Any]] = []
        for version, commit in commit_infos(self.settings, data.table_uri, done, current):
            if META_KEY in commit:
                rows.extend(entries_from_metadata(table, commit[META_KEY], version, commit))
        self.append(rows, transaction=(app, current + 1))
        return rows


def commit_infos(
    settings: StorageSettings, location: str, after: int, upto: int
) -> list[tuple[int, dict[str, Any]]]:
    """The commitInfo of each commit in ``(after, upto]``, read from the Delta log files.

    Commits whose log file was already cleaned up are skipped; they were reconciled long ago.
    """
    if upto <= after:
        return []
    fs = settings.filesystem()
    base = location.rstrip("/")
    if base.startswith("file://"):
        base = base[len("file://") :]
    paths = {
        settings.fs_path(f"{base}/_delta_log/{version:020d}.json"): version
        for version in range(after + 1, upto + 1)
    }
    contents = fs.cat(list(paths), on_error="omit")
    out = []
    for path, raw in contents.items():
        version = paths.get(path) or paths.get(path.lstrip("/")) or paths.get("/" + path)
        if version is None:
            continue
        for line in raw.splitlines():
            if b'"commitInfo"' in line:
                out.append((version, orjson.loads(line)["commitInfo"]))
                break
    return sorted(out, key=lambda item: item[0])


#: what neighbouring objects of a commit share (stored once per group), and what each has
GROUP_FIELDS = ("kind", "account", "region", "delivery_day")
MEMBER_FIELDS = ("etag", "size", "rows", "bad", "delivery_hour")


def compact_objects(outcomes: Iterable[ObjectOutcome]) -> dict[str, Any]:
    """A commit's object list, compact: a batch of small deliveries holds thousands of keys of
    one folder, and every later run that catches up with the table reads the list again.

    Neighbours (in order) of one folder, kind, account, region and delivery day form a group,
    stored as ``[key prefix, kind, account, region, day, members]``: the prefix is what their
    keys have in common (the folder and the stream), and each member is ``[rest of the key,
    etag, size, rows, bad, hour]``. Every object keeps its own key and ETag, which exactly-once
    needs (a writer learns from them which objects, in which version, the table holds).
    """
    runs: list[tuple[tuple[Any, ...], list[ObjectOutcome]]] = []
    for outcome in outcomes:
        shared = (
            outcome.source_key.rpartition("/")[0],
            *(getattr(outcome, f) for f in GROUP_FIELDS),
        )
        if runs and runs[-1][0] == shared:
            runs[-1][1].append(outcome)
        else:
            runs.append((shared, [outcome]))
    groups = []
    for shared, members in runs:
        # by character, not by path part: the stream's name is shared too
        prefix = os.path.commonprefix([o.source_key for o in members])  # noqa: RUF071
        rows = [
            [o.source_key[len(prefix) :], *(getattr(o, f) for f in MEMBER_FIELDS)] for o in members
        ]
        groups.append([prefix, *shared[1:], rows])
    return {"groups": groups}


def entries_from_metadata(
    table: str, meta: str | dict, version: int, commit: dict[str, Any]
) -> list[dict[str, Any]]:
    """The ingest-log rows of a commit's object list (``compact_objects``, or one entry per
    object as commits made before it have)."""
    body = orjson.loads(meta) if isinstance(meta, str) else meta
    stamp = commit.get("timestamp")
    when = dt.datetime.fromtimestamp(stamp / 1000, dt.UTC) if stamp else dt.datetime.now(dt.UTC)
    entries = [dict(zip(ENTRY_FIELDS, entry, strict=False)) for entry in body.get("objects", [])]
    for prefix, *shared, members in body.get("groups", []):
        common = dict(zip(GROUP_FIELDS, shared, strict=True))
        for rest, *own in members:
            entry = {"source_key": prefix + rest, **common}
            entry.update(zip(MEMBER_FIELDS, own, strict=True))
            entries.append(entry)
    for row in entries:
        row.update(table=table, data_version=version, ingested_at=when)
        row["delivery_day"] = row.get("delivery_day") or "unknown"
    return entries


#: partition values written into folder names as they are (anything else is left to delta-rs)
_PLAIN_VALUE = re.compile(r"^[A-Za-z0-9._-]+$")
#: string statistics longer than this are left out rather than truncated
MAX_STAT_LENGTH = 64


def write_data_files(
    settings: StorageSettings, location: str, data: pa.Table
) -> list[dict[str, Any]] | None:
    """Write a batch (sorted by partition) as one Parquet file per partition, uncommitted.

    Every ingest commit goes this way: a worker process (or the committing thread) encodes the
    files, which keeps the rows in order, and ``TableWriter.commit(files=...)`` commits only
    their add actions, so no rows pass between processes. Returns the
    Delta add actions as dicts, or None when a partition value needs escaping (the caller then
    hands the rows over instead). Files a crash leaves uncommitted are removed by ``vacuum``.
    """
    if data.num_rows == 0:
        return []
    keys = pc.binary_join_element_wise(*(data[c] for c in PARTITION_COLUMNS), "\x00")
    changes = pc.indices_nonzero(pc.not_equal(keys[1:], keys[:-1])).to_pylist()
    starts = [0, *(i + 1 for i in changes), data.num_rows]
    fs = settings.filesystem()
    stored = data.drop_columns(list(PARTITION_COLUMNS))
    actions = []
    for begin, end in itertools.pairwise(starts):
        values = {c: data[c][begin].as_py() for c in PARTITION_COLUMNS}
        if not all(isinstance(v, str) and _PLAIN_VALUE.match(v) for v in values.values()):
            return None
        actions.append((values, stored.slice(begin, end - begin)))

    def write(values: dict[str, Any], rows: pa.Table) -> dict[str, Any]:
        folder = "/".join(f"{c}={values[c]}" for c in PARTITION_COLUMNS)
        relative = f"{folder}/part-00000-{uuid.uuid4()}-c000.zstd.parquet"
        path = settings.fs_path(f"{location.rstrip('/')}/{relative}")
        if not settings.is_s3:
            fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        # Encode into Arrow's own buffer, then store in one call: a Python file object would
        # take the interpreter lock for every page written, stalling behind the parsing thread.
        sink = pa.BufferOutputStream()
        pq.write_table(rows, sink, compression="zstd", compression_level=1)
        payload = sink.getvalue().to_pybytes()
        fs.pipe_file(path, payload)
        return {
            "path": relative,
            "size": len(payload),
            "partition_values": values,
            "modification_time": int(time.time() * 1000),
            "stats": file_stats(rows),
        }

    if len(actions) == 1:
        return [write(*actions[0])]
    # partitions are encoded side by side (Parquet encoding runs without the interpreter lock):
    # a run's gathered rows are written at its end, when nothing else overlaps with them
    with cf.ThreadPoolExecutor(min(len(actions), os.cpu_count() or 1)) as pool:
        return list(pool.map(lambda action: write(*action), actions))


def file_stats(rows: pa.Table) -> str:
    """Delta statistics of a data file: row count, nulls and min/max of top-level columns."""
    minimum: dict[str, Any] = {}
    maximum: dict[str, Any] = {}
    nulls: dict[str, int] = {}
    for name, column in zip(rows.column_names, rows.columns, strict=True):
        kind = column.type
        if pa.types.is_struct(kind) or pa.types.is_map(kind) or pa.types.is_list(kind):
            continue
        nulls[name] = column.null_count
        if not (pa.types.is_string(kind) or pa.types.is_integer(kind)):
            continue
        bounds = pc.min_max(column).as_py()
        low, high = bounds["min"], bounds["max"]
        if low is None or (isinstance(high, str) and max(len(low), len(high)) > MAX_STAT_LENGTH):
            continue
        minimum[name], maximum[name] = low, high
    stats = {"numRecords": rows.num_rows, "minValues": minimum, "maxValues": maximum}
    stats["nullCount"] = nulls
    return orjson.dumps(stats).decode()


class TableWriter:
    """Commits parsed batches to one managed table exactly once."""

    def __init__(
        self,
        settings: StorageSettings,
        location: str,
        qualified_name: str,
        log: IngestLog,
        since: str | None = None,
        keys: set[str] | None = None,
    ):
        """``since`` and ``keys`` limit what is read of the ingest log to the delivery days and
        objects a run looks at (``known`` then holds only those)."""
        self.settings = settings
        self.location = location
        self.name = qualified_name
        self.log = log
        self.known: dict[str, str] = {}
        self.seen = -1
        self._loaded = False
        self._since = since
        self._keys = keys
        self._managed = ManagedTable(settings, location)

    def _table(self) -> DeltaTable:
        return self._managed.table

    def load(self) -> None:
        """What the table holds: the log (caught up with the table's history first)."""
        data = self._table()
        self.log.reconcile(self.name, data)
        latest = self.log.latest(self.name, self._since, self._keys)
        self.known = dict(
            zip(latest["source_key"].to_list(), latest["etag"].to_list(), strict=True)
        )
        self.seen = data.version()
        self._loaded = True

    def is_current(self, source_key: str, etag: str) -> bool:
        if not self._loaded:
            self.load()
        return self.known.get(source_key) == etag

    def _catch_up(self, data: DeltaTable) -> None:
        """Learn from commits made since we last looked (by anyone) what the table holds."""
        current = data.version()
        if current > self.seen:
            for _, commit in commit_infos(self.settings, self.location, self.seen, current):
                if META_KEY in commit:
                    for row in entries_from_metadata(self.name, commit[META_KEY], 0, commit):
                        self.known[row["source_key"]] = row["etag"]
            self.seen = current
        self.log.reconcile(self.name, data)

    def commit(
        self,
        outcomes: Iterable[ObjectOutcome],
        data: pa.Table | None = None,
        files: list[dict[str, Any]] | None = None,
    ) -> list[ObjectOutcome]:
        """Commit the rows of objects the table does not hold yet; returns those committed.

        The rows come as ``data``, as ``files`` already written (``write_data_files``), or both.
        Files are committed as they are when the whole batch is new; when some of its objects
        were committed meanwhile or replace older versions, the rows (read back from the files
        when ``data`` is not given) are written anew and the files removed.
        """
        if not self._loaded:
            self.load()
        outcomes = list(outcomes)
        committed: list[ObjectOutcome] = []
        for _ in range(MAX_ATTEMPTS):
            table = self._table()
            self._catch_up(table)
            todo = [o for o in outcomes if self.known.get(o.source_key) != o.etag]
            if not todo:
                self._remove(files)
                return committed
            # objects seen before with another ETag replace their old rows in their own commit
            changed = [o for o in todo if o.source_key in self.known]
            group = changed or todo
            if files is not None and (changed or len(group) != len(outcomes)):
                if data is None:
                    data = self._read_back(files)
                else:
                    self._remove(files)
                files = None
            try:
                version = (table.transaction_version(APP_ID) or 0) + 1
                if files is not None:
                    self._add(table, group, files, version)
                else:
                    assert data is not None
                    self._write(table, group, data, version, replace=bool(changed))
            except Exception as error:
                if not is_conflict(error):
                    raise StorageError(f"could not write to {self.location}: {error}") from error
                time.sleep(0.02)
                continue
            committed.extend(group)
            files = None  # committed: they belong to the table now
        raise StorageError(f"could not commit to {self.location}: too many concurrent writers")

    def _properties(self, outcomes: list[ObjectOutcome], version: int) -> CommitProperties:
        meta = orjson.dumps(compact_objects(outcomes)).decode()
        return CommitProperties(
            custom_metadata={META_KEY: meta},
            app_transactions=[Transaction(APP_ID, version)],
            max_commit_retries=MAX_ATTEMPTS,
        )

    def _add(
        self,
        table: DeltaTable,
        outcomes: list[ObjectOutcome],
        files: list[dict[str, Any]],
        version: int,
    ) -> None:
        actions: list[AddAction | RemoveAction] = [
            AddAction(
                f["path"],
                f["size"],
                f["partition_values"],
                f["modification_time"],
                True,
                f["stats"],
            )
            for f in files
        ]
        table.create_write_transaction(
            actions,
            mode="append",
            schema=table.schema(),
            partition_by=list(PARTITION_COLUMNS),
            commit_properties=self._properties(outcomes, version),
        )

    def _read_back(self, files: list[dict[str, Any]]) -> pa.Table:
        """The rows of uncommitted files (partition columns restored); the files are removed."""
        fs = self.settings.filesystem()
        parts = []
        for f in files:
            with fs.open(self._path(f), "rb") as handle:
                rows = pq.read_table(handle)
            for column in PARTITION_COLUMNS:
                value = pa.scalar(f["partition_values"][column], pa.string())
                rows = rows.append_column(column, pa.repeat(value, rows.num_rows))
            parts.append(rows)
        self._remove(files)
        return pa.concat_tables(parts)

    def _remove(self, files: list[dict[str, Any]] | None) -> None:
        if files:
            self.settings.filesystem().rm([self._path(f) for f in files])

    def _path(self, file: dict[str, Any]) -> str:
        return self.settings.fs_path(f"{self.location.rstrip('/')}/{file['path']}")

    def _write(
        self,
        table: DeltaTable,
        outcomes: list[ObjectOutcome],
        data: pa.Table,
        version: int,
        *,
        replace: bool,
    ) -> None:
        keys = [o.source_key for o in outcomes]
        wanted = pc.is_in(data[SOURCE_KEY], pa.array(keys, pa.string()))
        # usually every row is wanted: filtering would copy the whole batch for nothing
        rows = data if pc.all(wanted).as_py() is not False else data.filter(wanted)
        # delta-rs may write the chunks of a table in any order: one chunk keeps rows sorted
        rows = rows.combine_chunks()
        properties = self._properties(outcomes, version)
        if replace:
            write_deltalake(
                table,
                rows,
                mode="overwrite",
                predicate=f"{SOURCE_KEY} IN ({', '.join(_quote(k) for k in keys)})",
                writer_properties=WRITER_PROPERTIES,
                commit_properties=properties,
            )
        else:
            write_deltalake(
                table,
                rows,
                mode="append",
                writer_properties=WRITER_PROPERTIES,
                commit_properties=properties,
            )


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
