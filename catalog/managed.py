"""Managed tables: Delta Lake tables under ``<root>/<db>/<table>/``, written with delta-rs.

Delta gives the lake atomic commits, per-file statistics for pruning, application transactions
for exactly-once writers, and a commit log from which incremental readers learn which files were
added since the version they last read.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import orjson
import polars as pl
import pyarrow as pa
from deltalake import CommitProperties, DeltaTable, Transaction, WriterProperties, write_deltalake
from deltalake.exceptions import DeltaError, TableNotFoundError

from loglake.catalog.model import DataFile
from loglake.catalog.storage import StorageSettings
from loglake.errors import CatalogError, StorageError

#: how a write may change a table's schema: add new columns, or replace it
SchemaMode = Literal["merge", "overwrite"]

#: zstd Parquet: smaller than snappy on log text; row groups of 128Ki rows (delta-rs writes 1Mi by
#: default) give readers more pieces to decode in parallel and skip by statistics (TPC-H SF1
#: lineitem, a q6-style filter through Polars: 595 ms with 1Mi-row groups, 442 ms with 128Ki)
WRITER_PROPERTIES = WriterProperties(
    compression="ZSTD", compression_level=3, max_row_group_size=128 * 1024
)
#: compaction target, as Athena recommends for Parquet
TARGET_FILE_SIZE = 128 * 1024 * 1024

PartitionFilters = Sequence[tuple[str, str, Any]]


class ManagedTable:
    """One Delta table of the lake."""

    def __init__(self, settings: StorageSettings, location: str):
        self.settings = settings
        self.location = location.rstrip("/")
        self._table: DeltaTable | None = None
        self._files: tuple[int, list[DataFile]] | None = None  # (version, its live files)

    # ------------------------------------------------------------------ lifecycle
    @classmethod
    def create(
        cls,
        settings: StorageSettings,
        location: str,
        schema: pa.Schema,
        partition_by: Sequence[str] = (),
        *,
        exist_ok: bool = False,
    ) -> ManagedTable:
        try:
            DeltaTable.create(
                location,
                schema,
                mode="ignore" if exist_ok else "error",
                partition_by=list(partition_by) or None,
                storage_options=settings.delta_storage_options() or None,
            )
        except Exception as error:
            raise CatalogError(f"could not create Delta table at {location}: {error}") from error
        return cls(settings, location)

    @classmethod
    def create_with_data(
        cls,
        settings: StorageSettings,
        location: str,
        data: pa.Table,
        partition_by: Sequence[str] = (),
    ) -> ManagedTable:
        """A new table holding ``data`` from its first commit (CTAS): killed before the commit,
        nothing is a table; after it, the table is complete. A Delta table already at the
        location belongs to no catalog entry (the caller checked), so it is the leftover of a
        killed run and is replaced."""
        options = settings.delta_storage_options() or None
        fs = settings.filesystem()
        if fs.exists(settings.fs_path(f"{location}/_delta_log")):
            fs.rm(settings.fs_path(location), recursive=True)
        try:
            write_deltalake(
                location,
                data,
                mode="error",
                partition_by=list(partition_by) or None,
                storage_options=options,
                writer_properties=WRITER_PROPERTIES,
            )
        except Exception as error:
            raise StorageError(f"could not write to {location}: {error}") from error
        return cls(settings, location)

    @property
    def table(self) -> DeltaTable:
        """The Delta table at its latest version (reloaded on each access to stay fresh)."""
        try:
            if self._table is None:
                self._table = DeltaTable(
                    self.location, storage_options=self.settings.delta_storage_options() or None
                )
            elif self._may_have_newer_commit(self._table):
                self._table.update_incremental()
        except TableNotFoundError:
            raise CatalogError(f"no Delta table at {self.location}") from None
        except (DeltaError, OSError) as error:  # a damaged log file, unreadable storage
            first = str(error).strip().splitlines()[0] if str(error).strip() else type(error)
            raise CatalogError(
                f"the Delta log of {self.location} could not be read ({first}); restore the "
                "damaged _delta_log file"
            ) from None
        return self._table

    def _may_have_newer_commit(self, table: DeltaTable) -> bool:
        """False only when the log file of the next version is certainly absent.

        Every Delta commit writes the next numbered log file, so on a local lake one stat
        answers what delta-rs' reload does (which took up to 0.8 s on a busy machine, on every
        statement that checks its kept plan). Object stores keep the reload: listings there may
        be cached.
        """
        if self.settings.is_s3:
            return True
        return os.path.exists(f"{self.location}/_delta_log/{table.version() + 1:020d}.json")

    def version(self) -> int:
        return self.table.version()

    def schema(self) -> pa.Schema:
        return pa.schema(self.table.schema())

    def partition_columns(self) -> list[str]:
        return list(self.table.metadata().partition_columns)

    # ------------------------------------------------------------------ writes
    def append(
        self,
        data: pa.Table,
        *,
        app_id: str | None = None,
        app_version: int | None = None,
        schema_mode: SchemaMode | None = None,
        transactions: Mapping[str, int] | None = None,
    ) -> int:
        """Append rows in one commit; with ``app_id`` the commit also records a Delta txn.

        A writer that records ``(app_id, version)`` with its data can tell after a crash whether
        its last batch was committed, which makes ingest exactly once. ``transactions`` records
        several such versions in the same commit.
        """
        return self._write(
            data, "append", app_id, app_version, schema_mode=schema_mode, transactions=transactions
        )

    def replace_where(
        self,
        predicate: str,
        data: pa.Table,
        *,
        app_id: str | None = None,
        app_version: int | None = None,
    ) -> int:
        """Atomically replace the rows matching a SQL predicate with ``data``."""
        return self._write(data, "overwrite", app_id, app_version, predicate=predicate)

    def overwrite(self, data: pa.Table) -> int:
        return self._write(data, "overwrite", None, None, schema_mode="overwrite")

    def delete(self, predicate: str | None = None) -> int:
        self.table.delete(predicate)
        return self.version()

    def _write(
        self,
        data: pa.Table,
        mode: Literal["append", "overwrite"],
        app_id: str | None,
        app_version: int | None,
        *,
        predicate: str | None = None,
        schema_mode: SchemaMode | None = None,
        transactions: Mapping[str, int] | None = None,
    ) -> int:
        versions = dict(transactions or {})
        if app_id is not None:
            if app_version is None:
                raise ValueError("app_version is required with app_id")
            versions[app_id] = app_version
        commit = None
        if versions:
            commit = CommitProperties(
                app_transactions=[Transaction(k, int(v)) for k, v in versions.items()]
            )
        storage = self.settings.delta_storage_options() or None
        # the open table is passed: loading the log again costs more than the write
        try:
            if mode == "append":
                write_deltalake(
                    self.table,
                    data,
                    mode="append",
                    schema_mode=schema_mode,
                    storage_options=storage,
                    writer_properties=WRITER_PROPERTIES,
                    commit_properties=commit,
                )
            else:  # only an overwrite takes a predicate
                write_deltalake(
                    self.table,
                    data,
                    mode="overwrite",
                    predicate=predicate,
                    schema_mode=schema_mode,
                    storage_options=storage,
                    writer_properties=WRITER_PROPERTIES,
                    commit_properties=commit,
                )
        except Exception as error:
            raise StorageError(f"could not write to {self.location}: {error}") from error
        return self.version()

    def app_version(self, app_id: str) -> int | None:
        """The last version an application recorded with :meth:`append`, or None."""
        return self.table.transaction_version(app_id)

    # ------------------------------------------------------------------ files
    def files(
        self, partition_filters: PartitionFilters | None = None, *, version: int | None = None
    ) -> list[DataFile]:
        """Live data files with partition values and min/max statistics (read once per version;
        at ``version``: the files of that commit, for readers that must see the table as it was)."""
        if version is not None:
            files = [self._data_file(action) for action in _add_actions(self._at(version))]
        else:
            table = self.table
            current = table.version()
            if self._files is None or self._files[0] != current:
                self._files = (current, [self._data_file(a) for a in _add_actions(table)])
            files = list(self._files[1])
        if partition_filters:
            files = [f for f in files if _matches(f.partition, partition_filters)]
        return files

    def _at(self, version: int) -> DeltaTable:
        try:
            return DeltaTable(
                self.location,
                version=version,
                storage_options=self.settings.delta_storage_options() or None,
            )
        except Exception as error:
            raise CatalogError(
                f"version {version} of {self.location} cannot be read: {error}"
            ) from None

    def files_added_since(self, version: int) -> list[DataFile]:
        """Files that commits after ``version`` added with new data (compactions excluded)."""
        current = self.version()
        added: dict[str, DataFile] = {}
        fs = self.settings.filesystem()
        for commit in range(version + 1, current + 1):
            path = self.settings.fs_path(f"{self.location}/_delta_log/{commit:020d}.json")
            try:
                raw = fs.cat_file(path)
            except FileNotFoundError:
                raise CatalogError(
                    f"commit {commit} of {self.location} is no longer in the log; "
                    "run a full read instead of an incremental one"
                ) from None
            for line in raw.splitlines():
                if not line.strip():
                    continue
                action = orjson.loads(line)
                if "add" in action and action["add"].get("dataChange", True):
                    add = action["add"]
                    stats = orjson.loads(add["stats"]) if add.get("stats") else {}
                    added[add["path"]] = DataFile(
                        path=self._absolute(add["path"]),
                        size=add["size"],
                        partition=dict(add.get("partitionValues") or {}),
                        num_records=stats.get("numRecords"),
                        min_values=stats.get("minValues", {}),
                        max_values=stats.get("maxValues", {}),
                        null_counts=stats.get("nullCount", {}),
                    )
                elif "remove" in action and action["remove"].get("dataChange", True):
                    added.pop(action["remove"]["path"], None)
        return list(added.values())

    def _absolute(self, relative: str) -> str:
        if "://" in relative or relative.startswith("/"):
            return relative
        return f"{self.location}/{urllib.parse.unquote(relative)}"

    def _data_file(self, action: dict[str, Any]) -> DataFile:
        partition: dict[str, Any] = {}
        minimum: dict[str, Any] = {}
        maximum: dict[str, Any] = {}
        nulls: dict[str, Any] = {}
        for key, value in action.items():
            prefix, _, column = key.partition(".")
            if prefix == "partition":
                partition[column] = value
            elif prefix == "min":
                _nest(minimum, column, value)
            elif prefix == "max":
                _nest(maximum, column, value)
            elif prefix == "null_count":
                _nest(nulls, column, value)
        return DataFile(
            path=self._absolute(action["path"]),
            size=action["size_bytes"],
            partition=partition,
            num_records=action.get("num_records"),
            min_values=minimum,
            max_values=maximum,
            null_counts=nulls,
        )

    # ------------------------------------------------------------------ maintenance
    def optimize(
        self, partition_filters: PartitionFilters | None = None, target_size: int = TARGET_FILE_SIZE
    ) -> dict[str, Any]:
        """Merge small files; the commit is marked as no data change so incremental readers skip it."""
        return self.table.optimize.compact(
            partition_filters=list(partition_filters) if partition_filters else None,
            target_size=target_size,
            writer_properties=WRITER_PROPERTIES,
        )

    def vacuum(self, retention_hours: float = 168, dry_run: bool = False) -> list[str]:
        """Delete files no live version references and that are older than the retention.

        That includes files no commit ever named (a writer that died between writing a file and
        committing it), not only the files that commits removed. Returns the table-relative
        paths of the files deleted (or that would be): delta-rs also names files that an earlier
        vacuum already deleted, so only files present now are reported.
        """
        root = self.settings.fs_path(self.location).rstrip("/")
        present = {_relative_path(path, root) for path in self.settings.filesystem().find(root)}
        named = self.table.vacuum(
            retention_hours=int(retention_hours),
            dry_run=dry_run,
            enforce_retention_duration=retention_hours >= 168,
            full=True,
        )
        relative = (_relative_path(path, root) for path in named)
        return sorted(path for path in relative if path in present)

    def history(self, limit: int | None = None) -> list[dict[str, Any]]:
        return self.table.history(limit)


def _relative_path(path: str, root: str) -> str:
    """A path delta-rs reports (relative, absolute or a URL) relative to the table's folder."""
    path = path.split("://", 1)[-1]
    bare_root = root.split("://", 1)[-1]
    for prefix in (bare_root + "/", bare_root.lstrip("/") + "/"):
        if path.startswith(prefix):
            return path[len(prefix) :]
    return path


def _nest(target: dict[str, Any], dotted: str, value: Any) -> None:
    """Flattened stats keys (``s.x``) back into nested dicts like the Delta log holds them."""
    *parents, leaf = dotted.split(".")
    for parent in parents:
        target = target.setdefault(parent, {})
    target[leaf] = value


def _matches(partition: dict[str, Any], filters: PartitionFilters) -> bool:
    for column, op, value in filters:
        actual = partition.get(column)
        if op == "=" and actual != value:
            return False
        if op == "!=" and actual == value:
            return False
        if op == "in" and actual not in value:
            return False
        if op == "not in" and actual in value:
            return False
    return True


__all__ = ["TARGET_FILE_SIZE", "ManagedTable"]


def _add_actions(table: DeltaTable) -> list[dict[str, Any]]:
    """The live files' add actions, flattened, as dicts.

    Read through Polars: pyarrow turns zoned timestamps (the min/max statistics) into Python
    values by importing pandas, which took seconds on a busy machine in a process that had not
    imported it yet.
    """
    return pl.DataFrame(table.get_add_actions(flatten=True)).to_dicts()
