"""Export of the OCSF views as Amazon Security Lake custom sources.

Security Lake takes a custom source as Parquet objects of one OCSF event class under the source's
own prefix, partitioned ``region=<region>/accountId=<account>/eventDay=<yyyyMMdd>/``. Each class
is one source here (``loglake-api-activity`` and so on, or the names given). A partition is
written whole on every export: its files are named by the partition and part number, so
exporting a day again replaces what an earlier export wrote for it instead of duplicating it, and
a file is visible only once it is complete (a local file is renamed into place; an S3 object
appears when its upload finishes).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import polars as pl

from loglake.catalog import StorageSettings
from loglake.errors import UserError
from loglake.ingest.ocsf import CLASSES, OcsfClass

if TYPE_CHECKING:
    from loglake.lake import Lake

#: rows per Parquet file: Security Lake reads objects of up to a few hundred megabytes best
ROWS_PER_FILE = 1_000_000
#: the partition columns of the views, which the folder names carry instead of the files
PARTITIONS = ("region", "accountid", "eventday")
_SOURCE_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def class_key(ocsf: OcsfClass) -> str:
    """``api_activity`` for the view ``ocsf_api_activity``: how the command line names a class."""
    return ocsf.view.removeprefix("ocsf_")


def default_source_name(ocsf: OcsfClass) -> str:
    return "loglake-" + class_key(ocsf).replace("_", "-")


@dataclass
class ExportReport:
    """What an export wrote: rows and files per custom source."""

    destination: str
    rows: dict[str, int] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


def export_security_lake(
    lake: Lake,
    destination: str,
    *,
    database: str = "aws",
    classes: Iterable[str] | None = None,
    source_names: dict[str, str] | None = None,
    since: str | None = None,
    until: str | None = None,
    rows_per_file: int = ROWS_PER_FILE,
    progress: Callable[[str], None] | None = None,
) -> ExportReport:
    """Write the OCSF views of ``database`` under ``destination`` (the bucket's ``ext/`` folder,
    or any folder) in Security Lake's custom-source layout, one source per class."""
    chosen = _choose(classes)
    names = {class_key(c): default_source_name(c) for c in chosen}
    for key, name in (source_names or {}).items():
        if key not in names:
            raise UserError(f"--source names class {key!r}, which is not exported")
        if not _SOURCE_NAME.match(name):
            raise UserError(
                f"custom source name {name!r}: Security Lake allows 1-64 letters, digits and _.:-"
            )
        names[key] = name
    for label, day in (("--since", since), ("--until", until)):
        if day is not None and not _DAY.match(day):
            raise UserError(f"{label} {day!r}: give a day as YYYY-MM-DD")
    settings = lake.settings.with_root(destination.rstrip("/"))
    report = ExportReport(settings.root)
    tables = (
        set(lake.catalog.list_tables(database)) if lake.catalog.database_exists(database) else set()
    )
    for ocsf in chosen:
        source = names[class_key(ocsf)]
        report.rows[source] = 0
        if ocsf.table not in tables:
            continue
        for day in _days(lake, database, ocsf.table, since, until):
            frame = lake.sql(ocsf.view_sql(database, f"day = '{day}'"))
            assert isinstance(frame, pl.DataFrame)
            written = _write_day(settings, source, frame, rows_per_file)
            report.rows[source] += frame.height
            report.files.extend(written)
            if progress is not None:
                progress(f"{source} {day}: {frame.height} rows, {len(written)} files")
    return report


def _choose(classes: Iterable[str] | None) -> list[OcsfClass]:
    known = {class_key(c): c for c in CLASSES}
    if classes is None:
        return list(CLASSES)
    chosen = []
    for key in classes:
        if key not in known:
            raise UserError(f"unknown OCSF class {key!r}; choose from {', '.join(known)}")
        chosen.append(known[key])
    return chosen


def _days(lake: Lake, database: str, table: str, since: str | None, until: str | None) -> list[str]:
    """The days (partitions) of ``table`` in range: one query each keeps memory to one day."""
    conditions = [f"day >= '{since}'" if since else "", f"day <= '{until}'" if until else ""]
    where = " AND ".join(c for c in conditions if c)
    frame = lake.sql(
        f"SELECT DISTINCT day FROM {database}.{table}"
        + (f" WHERE {where}" if where else "")
        + " ORDER BY day"
    )
    assert isinstance(frame, pl.DataFrame)
    return [d for d in frame["day"].to_list() if d]


def _write_day(
    settings: StorageSettings, source: str, frame: pl.DataFrame, rows_per_file: int
) -> list[str]:
    fs = settings.filesystem()
    written = []
    for key, part in (
        frame.sort("time")
        .partition_by(list(PARTITIONS), as_dict=True, include_key=False, maintain_order=True)
        .items()
    ):
        region, account, day = (str(v) for v in key)
        folder = settings.fs_path(
            settings.url(source, f"region={region}", f"accountId={account}", f"eventDay={day}")
        )
        fs.makedirs(folder, exist_ok=True)
        stem = f"{source}-{region}-{account}-{day}"
        names = []
        for number, start in enumerate(range(0, part.height, rows_per_file)):
            name = f"{stem}-{number:05d}.zstd.parquet"
            _put(fs, f"{folder}/{name}", part.slice(start, rows_per_file), settings.is_s3)
            names.append(name)
            written.append(f"{folder}/{name}")
        for old in fs.ls(folder, detail=False):  # parts of an earlier, larger export of the day
            base = old.rsplit("/", 1)[-1]
            if base.startswith(stem) and base not in names:
                fs.rm(old)
    return [f"s3://{p}" if settings.is_s3 else p for p in written]


def _put(fs, path: str, part: pl.DataFrame, is_s3: bool) -> None:
    """Write one Parquet object so that no reader ever sees half of it."""
    target = path if is_s3 else f"{path}.{uuid.uuid4().hex}.tmp"
    with fs.open(target, "wb") as handle:
        part.write_parquet(handle, compression="zstd", statistics=True)
    if not is_s3:
        fs.mv(target, path)


def parse_sources(values: Iterable[str]) -> dict[str, str]:
    """``CLASS=NAME`` options of the command line."""
    out = {}
    for text in values:
        key, sep, name = text.partition("=")
        if not sep or not key or not name:
            raise UserError(f"--source {text!r}: give CLASS=NAME, e.g. api_activity=my-trail")
        out[key.strip()] = name.strip()
    return out
