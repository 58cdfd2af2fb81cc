"""``optimize`` and ``vacuum`` of managed tables, with a small ``--where`` on partition columns,
and the compaction of crowded partitions after ingest."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from typing import Any

import pyarrow as pa

from loglake.catalog import Catalog
from loglake.catalog.lakesettings import LakeSettings
from loglake.catalog.managed import TARGET_FILE_SIZE
from loglake.errors import StorageError, UserError
from loglake.ingest.state import is_conflict

_CONDITION = re.compile(
    r"^\s*`?(?P<column>[A-Za-z_][A-Za-z0-9_]*)`?\s*(?P<op>=|!=|<>|\bIN\b|\bNOT\s+IN\b)\s*"
    r"(?P<value>.+?)\s*$",
    re.I | re.S,
)
_LITERAL = re.compile(r"'((?:[^']|'')*)'|\"((?:[^\"]|\"\")*)\"|([^,\s()]+)")


def parse_where(text: str | None, partition_columns: list[str]) -> list[tuple[str, str, Any]]:
    """Partition filters from ``day = '2024-05-10' AND account IN ('1', '2')``."""
    if not text:
        return []
    filters = []
    for part in re.split(r"\s+AND\s+", text.strip(), flags=re.I):
        match = _CONDITION.match(part)
        if match is None:
            raise UserError(f"cannot read condition {part!r}: use column = 'value' or IN (...)")
        column = match["column"].lower()
        if column not in partition_columns:
            raise UserError(
                f"{column!r} is not a partition column; "
                f"--where may use {', '.join(partition_columns)}"
            )
        op = re.sub(r"\s+", " ", match["op"].upper())
        values = [a or b or c for a, b, c in _LITERAL.findall(match["value"])]
        values = [v.replace("''", "'") for v in values]
        if op in ("IN", "NOT IN"):
            filters.append((column, op.lower(), values))
        elif len(values) != 1:
            raise UserError(f"expected one value in {part!r}")
        else:
            filters.append((column, "!=" if op in ("!=", "<>") else "=", values[0]))
    return filters


def _split(name: str, database: str) -> tuple[str, str]:
    return tuple(name.split(".", 1)) if "." in name else (database, name)  # type: ignore[return-value]


def optimize(
    catalog: Catalog,
    table: str,
    *,
    where: str | None = None,
    database: str = "aws",
    target_size: int = TARGET_FILE_SIZE,
) -> dict[str, Any]:
    """Merge small files of a managed table into ~128 MB files per partition.

    The compaction commit is marked as no data change, so incremental readers skip it.
    """
    db, name = _split(table, database)
    managed = catalog.managed(db, name)
    filters = parse_where(where, managed.partition_columns())
    return managed.optimize(filters or None, target_size=target_size)


def vacuum(
    catalog: Catalog,
    table: str,
    *,
    retention_hours: float = 168,
    dry_run: bool = False,
    database: str = "aws",
) -> list[str]:
    """Delete files no version within the retention period references."""
    db, name = _split(table, database)
    return catalog.managed(db, name).vacuum(retention_hours=retention_hours, dry_run=dry_run)


#: after an ingest run, a partition holding more data files than this is compacted (0: never);
#: the lake setting ``ingest_compact_files`` changes it
COMPACT_FILES = LakeSettings.ingest_compact_files


def compact_crowded(
    catalog: Catalog, database: str, tables: Iterable[str], max_files: int = COMPACT_FILES
) -> list[dict[str, Any]]:
    """Compact every partition of ``tables`` that holds more than ``max_files`` data files.

    Each ingest commit adds a file per partition it touches, so a lake fed by small deliveries
    every few minutes (the watch loop) gathers hundreds of small files per day partition, and
    every query opens them all. Ingest calls this after a run that added rows. The compaction
    commit is marked as no data change, so incremental readers skip it; when another writer
    changes the partition meanwhile, the partition is left for the next run. Returns one entry
    per partition compacted.
    """
    done: list[dict[str, Any]] = []
    if max_files <= 0:
        return done
    for name in sorted(tables):
        managed = catalog.managed(database, name)
        columns = managed.partition_columns()
        if not columns:
            continue
        actions = pa.table(managed.table.get_add_actions(flatten=False))
        partitions = actions.column("partition").combine_chunks()
        values = zip(*(partitions.field(c).to_pylist() for c in columns), strict=True)
        for key, count in Counter(values).items():
            if count <= max_files or None in key:
                continue
            filters = [(c, "=", v) for c, v in zip(columns, key, strict=True)]
            try:
                metrics = managed.optimize(filters)
            except Exception as error:
                if not is_conflict(error):
                    raise StorageError(f"could not compact {database}.{name}: {error}") from error
                continue
            done.append(
                {
                    "table": f"{database}.{name}",
                    "partition": dict(zip(columns, key, strict=True)),
                    "files_before": count,
                    "files_removed": metrics.get("numFilesRemoved"),
                    "files_added": metrics.get("numFilesAdded"),
                }
            )
    return done
