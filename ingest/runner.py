"""``ingest(catalog, url)``: discover raw objects, parse them in batches, commit each once."""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import datetime as dt
import itertools
import multiprocessing
import multiprocessing.connection
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from loglake.catalog import Catalog
from loglake.catalog.storage import StorageSettings
from loglake.errors import CatalogError, UserError
from loglake.ingest import record_mapping as mapped
from loglake.ingest.compaction import compact_crowded
from loglake.ingest.layout import Layout, entry_etag, walk
from loglake.ingest.listing import ListingState
from loglake.ingest.log_groups import store_mapping, stored_mapping
from loglake.ingest.pending import TARGET_FILE_BYTES, FileSizer, Pending
from loglake.ingest.quarantine import Quarantine
from loglake.ingest.raw import (
    BadRecord,
    GzipError,
    Parsed,
    RawObject,
    gunzip,
    is_gzip,
    set_inflate_limit,
)
from loglake.ingest.record_mapping import (
    RecordMapping,
    normal_prefix,
    store_record_mapping,
    stored_mappings,
)
from loglake.ingest.schemas import PARTITION_COLUMNS
from loglake.ingest.sources import (
    SOURCE_NAMES,
    classify,
    kind_of,
    source_of_table,
    tables,
)
from loglake.ingest.state import (
    ENTRY_FIELDS,
    IngestLog,
    ObjectOutcome,
    TableWriter,
    write_data_files,
)

DEFAULT_DATABASE = "aws"
#: a batch (one commit) holds about this many compressed bytes at most, and at most this many objects
BATCH_BYTES = 16 * 1024 * 1024
BATCH_OBJECTS = 500
#: a worker's job (its share of a run, read in batches) holds at most this much input
SHARE_BYTES = 8 * BATCH_BYTES
SHARE_OBJECTS = 8 * BATCH_OBJECTS
#: a small run is cut into batches no smaller than this (see _batch_bytes)
MIN_BATCH_BYTES = 2 * 1024 * 1024
UNRECOGNISED = "_unrecognised"
#: views named and typed as AWS's Athena guides name their tables, over the default database's
#: tables, so that a documented query runs word for word after ``USE athena``
GUIDE_DATABASE = "athena"

#: one batch of work: the parser group and the objects of one commit
Job = tuple[str, list[RawObject]]
#: what commits a parsed batch in the ingesting process: (group, objects, parsed, bytes read)
Handler = Callable[[str, list[RawObject], Parsed, int], None]
#: runs a run's batches elsewhere (Spark executors): called with the storage settings, the
#: source URL, the jobs, the parse options and the handler; each batch goes through
#: :func:`read_and_parse` there and back to the handler here, which commits it once
BatchRunner = Callable[[StorageSettings, str, list[Job], dict[str, Any], Handler], None]


@dataclass
class IngestReport:
    """What one ingest run did."""

    url: str
    objects_seen: int = 0
    objects_ingested: int = 0
    objects_skipped: int = 0
    objects_quarantined: int = 0
    records_quarantined: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    bytes_read: int = 0
    seconds: float = 0.0
    quarantine_ids: list[str] = field(default_factory=list)
    partitions_compacted: int = 0
    #: quarantine entries of earlier runs dropped because this run ingested their object whole
    quarantine_cleared: int = 0
    #: files next to the logs that are not logs (README, LICENSE, ...): skipped, not quarantined
    not_logs: list[str] = field(default_factory=list)
    #: objects quarantined because their key is in no AWS delivery layout
    unknown_layout: int = 0

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    @property
    def ok(self) -> bool:
        return self.objects_quarantined == 0 and self.records_quarantined == 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "objects_seen": self.objects_seen,
            "objects_ingested": self.objects_ingested,
            "objects_skipped": self.objects_skipped,
            "objects_quarantined": self.objects_quarantined,
            "records_quarantined": self.records_quarantined,
            "rows": dict(self.rows),
            "bytes_read": self.bytes_read,
            "partitions_compacted": self.partitions_compacted,
            "seconds": round(self.seconds, 3),
        }

    def __str__(self) -> str:
        lines = [
            f"ingest {self.url}",
            f"  objects: {self.objects_seen} seen, {self.objects_ingested} ingested, "
            f"{self.objects_skipped} skipped, {self.objects_quarantined} quarantined",
        ]
        for table, rows in sorted(self.rows.items()):
            lines.append(f"  rows: {table}: {rows:,}")
        rate = self.bytes_read / self.seconds / 1e6 if self.seconds else 0.0
        lines.append(
            f"  {self.bytes_read / 1e6:,.1f} MB read in {self.seconds:.2f} s ({rate:,.1f} MB/s)"
        )
        if self.partitions_compacted:
            lines.append(f"  compacted {self.partitions_compacted} partition(s) of many files")
        if self.quarantine_cleared:
            lines.append(
                f"  quarantine: {self.quarantine_cleared} entries of earlier runs cleared, "
                "their objects are ingested now"
            )
        if self.not_logs:
            names = ", ".join(sorted({u.rsplit("/", 1)[-1] for u in self.not_logs}))
            lines.append(f"  skipped {len(self.not_logs)} file(s) that are not logs: {names}")
        if self.records_quarantined or self.objects_quarantined:
            lines.append(
                f"  quarantined: {self.objects_quarantined} object(s), "
                f"{self.records_quarantined} record(s); see `loglake quarantine list`"
            )
        if self.unknown_layout:
            lines.append(
                f"  {self.unknown_layout} object(s) in no AWS key layout: if they hold logs, "
                f"ingest them again with --source {'|'.join(SOURCE_NAMES)}"
            )
        return "\n".join(lines)


class Progress:
    """A one-line progress display on a terminal: objects, bytes, rows and rate."""

    def __init__(self, enabled: bool | None):
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.start = time.perf_counter()
        self.total_objects = 0
        self.total_bytes = 0
        self.objects = 0
        self.bytes = 0
        self.rows = 0
        self._last = 0.0

    def update(self, objects: int = 0, nbytes: int = 0, rows: int = 0, force: bool = False) -> None:
        self.objects += objects
        self.bytes += nbytes
        self.rows += rows
        now = time.perf_counter()
        if not self.enabled or (not force and now - self._last < 0.2):
            return
        self._last = now
        elapsed = max(now - self.start, 1e-9)
        width = 24
        done = self.bytes / self.total_bytes if self.total_bytes else 1.0
        bar = "#" * int(width * done) + "-" * (width - int(width * done))
        sys.stderr.write(
            f"\r[{bar}] {self.objects}/{self.total_objects} objects  "
            f"{self.bytes / 1e6:,.1f}/{self.total_bytes / 1e6:,.1f} MB  {self.rows:,} rows  "
            f"{self.bytes / elapsed / 1e6:,.1f} MB/s  {self.rows / elapsed:,.0f} rows/s "
        )
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            self.update(force=True)
            sys.stderr.write("\n")
            sys.stderr.flush()


def _since(value: str | dt.date | dt.datetime | None) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value.date() if isinstance(value, dt.datetime) else value
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        raise UserError(f"--since expects a date like 2024-05-10, not {value!r}") from None


def source_settings(settings: StorageSettings, url: str) -> StorageSettings:
    """Settings to read a source URL: the lake's connection pointed at the source's root."""
    return settings.with_root(url)


def discover(
    settings: StorageSettings,
    url: str,
    *,
    source: str | None = None,
    since: dt.date | None = None,
    listing: ListingState | None = None,
    unreadable: list[tuple[str, str]] | None = None,
) -> Iterator[tuple[RawObject, Layout | None]]:
    """Every object under ``url`` with its layout (None when no AWS layout matches); with a
    ``listing`` state, only what is new since its last committed keys (see ``listing``);
    folders that cannot be listed go to ``unreadable`` when it is given."""
    src = source_settings(settings, url)
    fs = src.filesystem()
    root = src.fs_path(src.root)
    entries = walk(
        fs,
        root,
        since=since,
        skip_dir=_is_lake_internal,
        listing=listing,
        unreadable=unreadable,
        missing_ok=False,
    )
    try:
        first = next(entries, None)
    except FileNotFoundError:
        raise UserError(f"nothing to ingest: {url} does not exist") from None
    for entry in itertools.chain([first] if first is not None else [], entries):
        name = entry["name"]
        full = f"s3://{name}" if src.is_s3 else name
        layout = classify(name, source=source)
        if layout is not None and since and layout.day and layout.day < since.isoformat():
            continue
        raw = RawObject(
            full, entry_etag(entry), int(entry.get("size") or 0), layout or Layout("marker")
        )
        yield raw, layout


def _is_lake_internal(path: str) -> bool:
    return path.rstrip("/").endswith(("/_delta_log", "/_catalog", "/_quarantine", "/_state"))


def _parse(table: str, objects: list[RawObject], options: dict[str, Any]) -> Parsed:
    """A batch of objects bound for one table, parsed by the source that delivers them."""
    return source_of_table(table).parse(objects, table, options)


def _fetch(settings: StorageSettings, url: str, objects: list[RawObject]) -> list[BadRecord]:
    """Read the bytes of a batch's objects into them; objects that cannot be read are returned."""
    src = source_settings(settings, url)
    fs = src.filesystem()
    paths = [src.fs_path(o.url) for o in objects]
    if len(paths) > 1:
        contents = fs.cat(paths, on_error="return")
    else:
        contents = {paths[0]: _cat(fs, paths[0])}
    missing = []
    for obj, path in zip(objects, paths, strict=True):
        data = contents.get(path)
        if isinstance(data, BaseException) or data is None:
            missing.append(
                BadRecord(obj.url, obj.etag, f"could not read object: {data}", whole_object=True)
            )
        else:
            obj.size = len(data)
            obj.data = _inflate(obj, data)
    return missing


def _inflate(obj: RawObject, data: bytes) -> bytes:
    """Inflate in the fetching thread (zlib runs without the interpreter lock), so it overlaps
    with parsing; a damaged stream is left as it is for the parser to quarantine with its
    position."""
    if not kind_of(obj.layout.kind).whole_gzip or not is_gzip(data):
        return data
    try:
        return gunzip(data)
    except GzipError:
        return data


def _parse_batch(
    group: str, objects: list[RawObject], missing: list[BadRecord], options: dict
) -> tuple[Parsed, int]:
    present = [o for o in objects if o.data is not None]
    nbytes = sum(o.size for o in present)
    parsed = _parse(group, present, options) if present else Parsed()
    for obj in objects:
        obj.data = None
    for bad in missing:
        parsed.bad.append(bad)
        parsed.rows[bad.url] = 0
    return parsed, nbytes


def read_and_parse(
    settings: StorageSettings, url: str, group: str, objects: list[RawObject], options: dict
) -> tuple[Parsed, int]:
    """Fetch, parse, sort and write a job (the unit of work of a worker process).

    A job can be a worker's whole share of a run: it is read in batches (the next one fetched
    while this one is parsed), and its rows gather into Parquet files of the target size
    (``options["flush_bytes"]``), written here, so that only their add actions go back to the
    parent, which commits them with the job's objects. The rows of a job that makes less than
    ``options["file_bytes"]`` go back to wait for others (see ingest/pending.py), as do rows
    that files cannot hold.
    """
    if not objects:
        return Parsed(), 0
    set_inflate_limit(options["max_inflated_bytes"])
    flush_at = options.get("flush_bytes", {})
    out = Parsed()
    nbytes = 0
    held: dict[str, Pending] = {}

    def write(name: str) -> None:
        rows = held.pop(name).rows(tables()[name].schema)
        rows, files = _written(settings, options["locations"][name], name, rows)
        if files is None:  # a partition value needs delta-rs: the rows go back
            out.add(name, rows)
        elif files:
            out.files.setdefault(name, []).extend(files)

    batches = list(_batches(objects, BATCH_OBJECTS, BATCH_BYTES))
    with cf.ThreadPoolExecutor(1) as fetcher:
        ahead = fetcher.submit(_fetch, settings, url, batches[0])
        for index, batch in enumerate(batches):
            missing = ahead.result()
            if index + 1 < len(batches):
                ahead = fetcher.submit(_fetch, settings, url, batches[index + 1])
            parsed, size = _parse_batch(group, batch, missing, options)
            nbytes += size
            out.rows.update(parsed.rows)
            out.bad.extend(parsed.bad)
            for name, data in parsed.tables.items():
                waiting = held.setdefault(name, Pending())
                waiting.add([], [], data)
                if waiting.arrow_bytes >= flush_at.get(name, waiting.arrow_bytes + 1):
                    write(name)
    for name in list(held):
        if name in out.files or held[name].arrow_bytes >= options["file_bytes"].get(name, 0):
            write(name)
        else:  # a small job waits in the parent for others to make a file
            out.add(name, held.pop(name).rows(tables()[name].schema))
    return out, nbytes


def _written(
    settings: StorageSettings, location: str, table: str, data: pa.Table
) -> tuple[pa.Table, list[dict[str, Any]] | None]:
    """Rows in commit order, and the uncommitted Parquet files holding them (None when a
    partition value needs delta-rs to write them)."""
    data = sort_for_commit(table, data)
    return data, write_data_files(settings, location, data)


def _cat(fs: Any, path: str) -> bytes | BaseException:
    try:
        return fs.cat_file(path)
    except Exception as error:
        return error


def _batches(
    objects: list[RawObject], max_objects: int = BATCH_OBJECTS, max_bytes: int = BATCH_BYTES
) -> Iterator[list[RawObject]]:
    """Consecutive runs of objects: as few batches as the limits allow, of about equal size.

    Equal shares rather than full batches and a remainder: a small last batch would be parsed
    by one worker while the others idle. An object goes to the share that its middle byte or
    its position falls in, whichever is further along, so no batch exceeds either limit by
    more than half an object.
    """
    total = sum(o.size for o in objects)
    count = max(1, -(-total // max_bytes), -(-len(objects) // max_objects))
    consumed = 0
    current = 0
    batch: list[RawObject] = []
    for position, obj in enumerate(objects):
        by_bytes = (consumed + obj.size / 2) / total if total else 0.0
        by_count = (position + 0.5) / len(objects)
        share = min(count - 1, int(max(by_bytes, by_count) * count))
        if batch and share != current:
            yield batch
            batch = []
        current = share
        batch.append(obj)
        consumed += obj.size
    if batch:
        yield batch


def _shares(objects: list[RawObject], workers: int) -> Iterator[list[RawObject]]:
    """Jobs of worker processes that gather their rows into files themselves: as few as keep
    each within ``SHARE_BYTES`` and ``SHARE_OBJECTS``, in a multiple of the workers so that none
    idles at the end. Fewer, larger jobs make fewer files per partition."""
    total = sum(o.size for o in objects)
    count = max(1, -(-total // SHARE_BYTES), -(-len(objects) // SHARE_OBJECTS))
    count = -(-count // workers) * workers
    return _batches(objects, -(-len(objects) // count), max(1, -(-total // count)))


def _batch_bytes(total: int, workers: int) -> int:
    """Batch size for a run of ``total`` compressed bytes.

    The first fetch and the last commit do not overlap with anything, and a worker without a
    batch idles; so a run smaller than a few full batches is cut finer (four batches per parser),
    while a large run keeps full-sized commits.
    """
    return max(MIN_BATCH_BYTES, min(BATCH_BYTES, -(-total // (4 * max(workers, 1)))))


def ensure_tables(catalog: Catalog, database: str, names: set[str]) -> dict[str, Any]:
    """Create the destination tables (and their sources' views, with the guides' views in
    ``athena`` for the default database) the first time they are needed."""
    catalog.create_database(database, if_not_exists=True)
    specs = tables()
    out = {}
    for name in sorted(names):
        spec = specs[name]
        for attempt in range(20):
            try:
                out[name] = catalog.create_managed_table(
                    database,
                    name,
                    spec.schema,
                    partition_by=list(PARTITION_COLUMNS),
                    properties={"loglake.source": name, "loglake.sort_by": spec.sort_by},
                    comment=spec.comment,
                    if_not_exists=True,
                )
                break
            except CatalogError:  # two processes created it at once; read the winner's
                if catalog.table_exists(database, name) or attempt == 19:
                    out[name] = catalog.get_table(database, name)
                    break
                time.sleep(0.05)
        record = source_of_table(name)
        for view, sql in record.views.items():
            _ensure_view(catalog, database, view, sql(database))
        if database == DEFAULT_DATABASE and record.guide_views:
            catalog.create_database(GUIDE_DATABASE, if_not_exists=True)
            for view, sql in record.guide_views.items():
                _ensure_view(catalog, GUIDE_DATABASE, view, sql(database))
    return out


def _ensure_view(catalog: Catalog, database: str, view: str, sql: str) -> None:
    """Create a source's view, or bring it up to date: a lake ingested before a view's
    definition changed (an OCSF mapping, say) gets the new one on its next ingest."""
    with contextlib.suppress(CatalogError):  # absent
        if catalog.get_view(database, view).sql == sql:
            return
    with contextlib.suppress(CatalogError):  # a concurrent run wrote it first
        catalog.create_view(database, view, sql, replace=True)


def ingest(
    catalog: Catalog,
    url: str,
    *,
    source: str | None = None,
    since: str | dt.date | None = None,
    database: str = DEFAULT_DATABASE,
    workers: int = 1,
    progress: bool | None = None,
    log_group: str | None = None,
    log_groups: Mapping[str, str] | None = None,
    only: set[str] | None = None,
    force: bool = False,
    batch_objects: int | None = None,
    on_batch: Callable[[IngestReport], None] | None = None,
    full_listing: bool = False,
    compact_files: int | None = None,
    target_file_bytes: int = TARGET_FILE_BYTES,
    batch_runner: BatchRunner | None = None,
    envelope: str | None = None,
    time_field: str | None = None,
) -> IngestReport:
    """Ingest every AWS export under ``url`` (a folder or s3:// prefix) into the lake, once.

    ``source`` restricts the run to one source of ``loglake.ingest.sources`` (and lets files
    outside any AWS key layout be read as that source); ``since`` skips delivery dates before it
    without listing them. ``workers`` > 1 parses in that many processes. ``only`` limits the run
    to the given object URLs and ``force`` re-reads them even when unchanged (quarantine retry).
    CloudWatch Logs export chunks take their log group from ``log_groups`` (export prefix ->
    group, recorded in the catalog for later runs), else from ``log_group``.
    Batches of parsed objects gather until their rows make Parquet files of about
    ``target_file_bytes`` per partition, then commit together; with ``batch_objects`` given,
    each commit holds that many objects at most (or 16 MB of input) instead.
    Folders listed before are listed from where the last run's commits ended, unless
    ``full_listing`` (or ``only``/``force``) asks for everything again. Afterwards, partitions
    this run added rows to that hold more than ``compact_files`` files are compacted (0: never;
    by default the lake setting ``ingest_compact_files``, so the watch loop follows it too).
    ``batch_runner`` fetches, parses and writes the batches somewhere else (Spark executors, see
    docs/scale-out.md); commits stay in this process.
    CloudTrail events that reach ``url`` through another pipeline are read with ``envelope``
    (dotted path to the event in each record) and ``time_field`` (the field holding the event
    time), kept in the catalog for later runs over the same URL (see ``record_mapping``).
    """
    if source is not None and source not in SOURCE_NAMES:
        raise UserError(f"unknown source {source!r}: use one of {', '.join(SOURCE_NAMES)}")
    mapping = RecordMapping(envelope, time_field)
    if mapping and source not in (None, mapped.SOURCE):
        raise UserError(
            f"--envelope and --time-field place CloudTrail events: use --source {mapped.SOURCE}"
        )
    record_mappings = stored_mappings(catalog, database)
    # a new way to read the events under url: what was read before is read again
    remap = bool(mapping) and record_mappings.get(normal_prefix(url)) != mapping
    if mapping:
        record_mappings[normal_prefix(url)] = mapping
    started = time.perf_counter()
    since_date = _since(since)
    settings = catalog.settings
    report = IngestReport(url=url)
    quarantine = Quarantine(settings)
    log = IngestLog(settings)
    lake_settings = catalog.lake_settings()
    max_inflated = lake_settings.ingest_max_inflated_bytes
    if compact_files is None:
        compact_files = lake_settings.ingest_compact_files
    set_inflate_limit(max_inflated)
    bar = Progress(progress)
    # workers start now, so that they load loglake while the source is listed
    pool = _worker_pool(workers) if workers > 1 else None
    resumable = not (full_listing or force or remap or only is not None)
    listing = ListingState(settings, url) if resumable else None
    done: set[str] = set()  # URLs of the objects this run finished (committed or skipped)
    try:
        found: list[RawObject] = []
        unrecognised: list[RawObject] = []
        unreadable: list[tuple[str, str]] = []
        listed = discover(
            settings, url, source=source, since=since_date, listing=listing, unreadable=unreadable
        )
        for obj, layout in listed:
            if only is not None and obj.url not in only:
                continue
            report.objects_seen += 1
            if not_a_log(obj.url):
                report.objects_skipped += 1
                report.not_logs.append(obj.url)
            elif layout is None:
                unrecognised.append(obj)
            elif layout.table is None:
                report.objects_skipped += 1  # digests and write probes: not data
                done.add(obj.url)
            else:
                found.append(obj)

        writers: dict[str, TableWriter] = {}
        if found:
            definitions = ensure_tables(catalog, database, {o.layout.table for o in found})  # type: ignore[misc]
            for name, definition in definitions.items():
                mine = [o for o in found if o.layout.table == name]
                writers[name] = TableWriter(
                    settings,
                    definition.location,
                    f"{database}.{name}",
                    log,
                    _log_since([o.layout.day for o in mine if o.layout.day], since_date),
                    keys={o.url for o in mine},
                )
        todo: list[RawObject] = []
        for obj in found:
            writer = writers[obj.layout.table]  # type: ignore[index]
            if writer.is_current(obj.url, obj.etag):
                if not (force or (remap and obj.layout.table == mapped.TABLE)):
                    report.objects_skipped += 1
                    done.add(obj.url)
                    continue
                writer.known.pop(obj.url, None)
                writer.known[obj.url] = "(forced)"
            todo.append(obj)
        _record_unrecognised(unrecognised, log, quarantine, report, force)
        done.update(o.url for o in unrecognised)
        for folder, reason in unreadable:  # listed again next run: its entry is the same one
            entry = quarantine.record(BadRecord(folder, "", reason, whole_object=True))
            report.quarantine_ids.append(entry.id)
            report.objects_quarantined += 1

        bar.total_objects = len(todo)
        bar.total_bytes = sum(o.size for o in todo)
        groups: dict[str, list[RawObject]] = {}
        for obj in sorted(todo, key=lambda o: o.url):
            groups.setdefault(obj.layout.table, []).append(obj)  # type: ignore[arg-type]
        # without an explicit batch size, batches gather into files of the target size
        gather = batch_objects is None
        # worker processes then write their own files: each takes a share of the run
        shared = gather and pool is not None and batch_runner is None
        size = _batch_bytes(bar.total_bytes, workers)
        jobs = [
            (group, batch)
            for group, objs in groups.items()
            for batch in (
                _shares(objs, workers)
                if shared
                else _batches(objs, batch_objects or BATCH_OBJECTS, size)
            )
        ]
        export_groups: dict[str, str] = {}
        if "cloudwatch_logs" in writers:
            if log_groups:
                store_mapping(catalog, database, log_groups)
            export_groups = stored_mapping(catalog, database)
        options: dict[str, Any] = {
            "max_inflated_bytes": max_inflated,
            "log_group": log_group,
            "log_groups": export_groups,
            "record_mappings": record_mappings,
            "locations": {name: writer.location for name, writer in writers.items()},
        }

        clean: set[str] = set()  # objects ingested whole in this run
        pending: dict[str, Pending] = {}
        sizers: dict[str, FileSizer] = {}
        unwritable: set[str] = set()  # tables with rows that only delta-rs writes
        flush_bytes = FileSizer(target_file_bytes).flush_bytes()
        options["flush_bytes"] = {name: flush_bytes for name in writers}
        options["file_bytes"] = {  # a worker writes files itself only for a job this big
            name: (flush_bytes if gather and not shared else 0) for name in writers
        }

        def handle(group: str, batch: list[RawObject], parsed: Parsed, nbytes: int) -> None:
            report.bytes_read += nbytes
            table = group
            bad_count: dict[str, int] = {}
            for bad in parsed.bad:
                entry = quarantine.record(bad, kind=batch[0].layout.kind, table=table)
                report.quarantine_ids.append(entry.id)
                bad_count[bad.url] = bad_count.get(bad.url, 0) + 1
                if bad.whole_object:
                    report.objects_quarantined += 1
                else:
                    report.records_quarantined += 1
            outcomes = [
                _outcome(o, parsed.rows.get(o.url, 0), bad_count.get(o.url, 0)) for o in batch
            ]
            bar.update(objects=len(batch), nbytes=nbytes)
            files = parsed.files.get(table)
            if files is not None:  # a worker wrote the job's rows as files
                rows = parsed.tables.get(table)
                if rows is not None:  # and some it could not: all go in as rows (rare)
                    commit(table, outcomes, batch, with_files(table, files, rows), None)
                else:
                    commit(table, outcomes, batch, None, files)
                return
            waiting = pending.setdefault(table, Pending())
            waiting.add(outcomes, batch, parsed.tables.get(table))
            sizer = sizers.setdefault(table, FileSizer(target_file_bytes))
            if not gather or waiting.arrow_bytes >= sizer.flush_bytes():
                flush(table)
            elif table in KEY_ORDERED and table not in unwritable:
                write_left_behind(table, waiting, batch[-1])

        def write(table: str, data: pa.Table) -> tuple[pa.Table, list[dict[str, Any]] | None]:
            data, files = _written(settings, writers[table].location, table, data)
            if files:
                sizers[table].learn(data.nbytes, sum(f["size"] for f in files))
            return data, files

        def write_left_behind(table: str, waiting: Pending, last: RawObject) -> None:
            """Write the partitions the run has moved past now, while the next batch is parsed;
            they are committed with the rest of the pending objects."""
            selected = _left_behind(last)
            rows = None if selected is None else waiting.take(selected)
            if rows is None:
                return
            rows, files = write(table, rows)
            if files is None:  # a partition value needs delta-rs: rows wait for the commit
                waiting.tables.insert(0, rows)
                unwritable.add(table)
            else:
                waiting.files += files

        def flush(table: str) -> None:
            """Sort, write and commit a table's pending rows as one file per partition."""
            waiting = pending.pop(table, None)
            if waiting is None:
                return
            data, files = write(table, waiting.rows(tables()[table].schema))
            if waiting.files:  # some of the rows were written before
                if files is None:
                    data, files = with_files(table, waiting.files, data), None
                else:  # the commit reads the files back, should it need the rows
                    data, files = None, waiting.files + files
            commit(table, waiting.outcomes, waiting.objects, data, files)

        def with_files(table: str, files: list[dict[str, Any]], rows: pa.Table) -> pa.Table:
            """Rows of uncommitted files with rows that files cannot hold, to be written by
            delta-rs (rare: a partition value that needs escaping); the files are removed."""
            written = writers[table]._read_back(files).select(rows.column_names)
            return pa.concat_tables([written, rows])

        def commit(
            table: str,
            outcomes: list[ObjectOutcome],
            objects: list[RawObject],
            data: pa.Table | None,
            files: list[dict[str, Any]] | None,
        ) -> None:
            committed = writers[table].commit(outcomes, data, files=files or None)
            rows = sum(o.rows for o in committed)
            report.objects_ingested += len(committed)
            clean.update(o.source_key for o in committed if not o.bad)
            report.objects_skipped += len(objects) - len(committed)
            done.update(o.url for o in objects)
            if rows or table not in report.rows:
                report.rows[table] = report.rows.get(table, 0) + rows
            bar.update(rows=rows)
            if on_batch is not None:
                on_batch(report)

        if batch_runner is not None:
            batch_runner(settings, url, jobs, options, handle)
        elif pool is None or len(jobs) <= 1:
            _run_pipelined(settings, url, jobs, options, handle)
        else:
            _run_workers(pool, workers, settings, url, jobs, options, handle)
        for table in list(pending):
            flush(table)
        _clear_resolved(quarantine, clean, report)
        if remap and mapped.TABLE in writers:  # kept once the objects are read its way
            store_record_mapping(catalog, database, url, mapping)
    except BaseException:
        if listing is not None:  # keep what was finished; the run's own error is the one to see
            with contextlib.suppress(Exception):
                _save_listing(listing, done, settings.with_root(url).is_s3)
        raise
    finally:
        bar.close()
    if listing is not None:
        _save_listing(listing, done, settings.with_root(url).is_s3)
    grown = [table for table, rows in report.rows.items() if rows]
    report.partitions_compacted = len(compact_crowded(catalog, database, grown, compact_files))
    report.seconds = time.perf_counter() - started
    return report


#: tables whose rows follow the order of their objects' keys (account, region, delivery day; an
#: event reaches the next day's deliveries at the latest), so a run leaves their partitions behind
KEY_ORDERED = frozenset({"cloudtrail", "cloudtrail_insights"})


def _left_behind(obj: RawObject) -> Callable[[pa.Table], pa.Array] | None:
    """Which rows of a key-ordered table are in partitions a run has left behind when it reaches
    ``obj``: another account or region, or a day before the one before its delivery day (None
    when its key does not tell)."""
    layout = obj.layout
    if not (layout.account and layout.region and layout.day):
        return None
    account, region = layout.account, layout.region
    before = (dt.date.fromisoformat(layout.day) - dt.timedelta(days=1)).isoformat()

    def selected(rows: pa.Table) -> pa.Array:
        elsewhere = pc.or_(
            pc.not_equal(rows["account"], account), pc.not_equal(rows["region"], region)
        )
        return pc.fill_null(pc.or_(elsewhere, pc.less(rows["day"], before)), False)

    return selected


def _log_since(days: list[str], since: dt.date | None) -> str | None:
    """The first delivery day whose ingest-log entries a run needs: the earliest of the objects
    it looks at (entries without a day are always read), so a daily run reads one day's log."""
    if days:
        return min(days)
    return since.isoformat() if since else None


def _save_listing(listing: ListingState, done: set[str], is_s3: bool) -> None:
    """Record how far each listed stream is committed (also after a run that failed half-way)."""
    names = {u.removeprefix("s3://") for u in done} if is_s3 else done
    listing.advance(names)
    listing.save()


def _clear_resolved(quarantine: Quarantine, clean: set[str], report: IngestReport) -> None:
    """Drop the quarantine entries of earlier runs for objects this run ingested whole (a file
    quarantined for its unknown path, ingested again with ``--source``)."""
    if not clean:
        return
    fresh = set(report.quarantine_ids)
    stale = [e for e in quarantine.entries() if e.source_key in clean and e.id not in fresh]
    quarantine.remove(stale)
    report.quarantine_cleared += len(stale)


#: parser processes by count, kept for the next run in this process
_POOLS: dict[int, cf.ProcessPoolExecutor] = {}


def _worker_pool(workers: int) -> cf.ProcessPoolExecutor:
    """Parser processes, started at once and kept for later runs in this process: each one
    loads loglake when it starts (about 0.4 s), which a short run should not pay every time.

    Workers come from a fork server that has imported nothing: Polars, Arrow and delta-rs start
    threads when imported, and a process forked from one that has threads can wait forever on a
    lock a thread held at the fork. Workers end with this process (see ``_exit_with_parent``).
    """
    pool = _POOLS.get(workers)
    if pool is None:
        context = multiprocessing.get_context("forkserver")
        pool = cf.ProcessPoolExecutor(
            max_workers=workers, mp_context=context, initializer=_exit_with_parent
        )
        for _ in range(workers):
            pool.submit(int)  # a trivial task makes the pool start a process now
        _POOLS[workers] = pool
    return pool


def _run_workers(
    pool: cf.ProcessPoolExecutor,
    workers: int,
    settings: StorageSettings,
    url: str,
    jobs: list[Job],
    options: dict,
    handle: Handler,
) -> None:
    """Workers fetch, parse and write batches, two per worker in flight; this process commits
    each batch as it comes back."""
    pending: dict[cf.Future, tuple[str, list[RawObject]]] = {}
    queue = iter(jobs)

    def submit(group: str, batch: list[RawObject]) -> None:
        job = pool.submit(read_and_parse, settings, url, group, batch, options)
        pending[job] = (group, batch)

    try:
        for group, batch in itertools.islice(queue, workers * 2):
            submit(group, batch)
        while pending:
            done, _ = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
            for future in done:
                group, batch = pending.pop(future)
                parsed, nbytes = future.result()
                handle(group, batch, parsed, nbytes)
                following = next(queue, None)
                if following is not None:
                    submit(*following)
    except BaseException as error:
        for future in pending:
            future.cancel()  # batches not started are left for the next run
        if isinstance(error, BrokenProcessPool):
            _POOLS.pop(workers, None)  # a worker died: the next run starts new ones
        raise


def _exit_with_parent() -> None:
    """Make a worker end when the ingest process ends, even by ``kill -9``.

    A worker otherwise waits for work forever, and keeps the fork server alive with it.
    """
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        multiprocessing.connection.wait([parent.sentinel])
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _run_pipelined(
    settings: StorageSettings,
    url: str,
    jobs: list[Job],
    options: dict,
    handle: Handler,
) -> None:
    """One process, three stages: fetch the next batches, parse this one, commit the last one.

    Fetching (I/O, inflating) and committing (Parquet encoding in delta-rs) run in threads while
    the main thread parses, so the stages overlap on a machine with more than one core.
    """
    ahead = 2
    with cf.ThreadPoolExecutor(ahead) as fetchers, cf.ThreadPoolExecutor(1) as committer:
        fetched = [fetchers.submit(_fetch, settings, url, batch) for _, batch in jobs[:ahead]]
        last: cf.Future | None = None
        for index, (group, batch) in enumerate(jobs):
            missing = fetched[index].result()
            if index + ahead < len(jobs):
                fetched.append(fetchers.submit(_fetch, settings, url, jobs[index + ahead][1]))
            parsed, nbytes = _parse_batch(group, batch, missing, options)
            if last is not None:
                last.result()
            last = committer.submit(handle, group, batch, parsed, nbytes)
        if last is not None:
            last.result()


def sort_for_commit(table: str, data: pa.Table) -> pa.Table:
    """Rows by partition, then event time, so each file's min/max statistics are tight.

    Runs in the committing thread: Arrow sorts without holding the interpreter, so it overlaps
    with the parsing of the next batch.
    """
    keys = [*PARTITION_COLUMNS, tables()[table].sort_by]
    order = pc.sort_indices(data, sort_keys=[(k, "ascending") for k in keys])
    if pc.all(pc.equal(order, pa.arange(0, len(order)))).as_py() is not False:
        return data  # already in order (or empty)
    return data.take(order)


def _outcome(obj: RawObject, rows: int, bad: int) -> ObjectOutcome:
    layout = obj.layout
    return ObjectOutcome(
        source_key=obj.url,
        etag=obj.etag,
        size=obj.size,
        rows=rows,
        bad=bad,
        kind=layout.kind,
        account=layout.account,
        region=layout.region,
        delivery_day=layout.day,
        delivery_hour=layout.hour,
    )


#: names and extensions of files that sit next to logs but never hold them
_NOT_LOG_NAMES = re.compile(
    r"(^|/)(readme|license|licence|notice|copying|changelog|authors)([.-][^/]*)?$"
    r"|\.(md|rst|html?|pdf|png|jpe?g|gif|svg|py|sh|ipynb|ya?ml|toml|ini|cfg|sha256|md5|sig|asc)$"
    r"|(^|/)\.[^/]*$",
    re.IGNORECASE,
)


def not_a_log(url: str) -> bool:
    """Whether an object outside the AWS layouts is plainly not a log (a README, a licence, a
    document or script, a dot-file), so it is skipped and reported instead of quarantined."""
    return _NOT_LOG_NAMES.search(url) is not None


def _record_unrecognised(
    objects: list[RawObject],
    log: IngestLog,
    quarantine: Quarantine,
    report: IngestReport,
    force: bool,
) -> None:
    """Objects in no AWS layout are quarantined once per version and remembered in the log."""
    if not objects:
        return
    known = log.latest(UNRECOGNISED)
    seen = dict(zip(known["source_key"].to_list(), known["etag"].to_list(), strict=True))
    rows = []
    now = dt.datetime.now(dt.UTC)
    for obj in objects:
        if seen.get(obj.url) == obj.etag and not force:
            report.objects_skipped += 1
            continue
        bad = BadRecord(
            obj.url,
            obj.etag,
            "unknown key layout: not an AWS log delivery path; if it holds logs, name their "
            f"source: --source {'|'.join(SOURCE_NAMES)}",
            whole_object=True,
        )
        entry = quarantine.record(bad)
        report.quarantine_ids.append(entry.id)
        report.objects_quarantined += 1
        report.unknown_layout += 1
        outcome = _outcome(obj, 0, 1)
        row = dict(zip(ENTRY_FIELDS, outcome.entry(), strict=True))
        row.update(
            table=UNRECOGNISED,
            kind="unknown",
            data_version=None,
            ingested_at=now,
            delivery_day="unknown",
        )
        rows.append(row)
    log.append(rows)
