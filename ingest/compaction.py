"""``optimize`` and ``vacuum`` of managed tables, with a small ``--where`` on partition columns."""

from __future__ import annotations

import re
from typing import Any

from loglake.catalog import Catalog
from loglake.catalog.managed import TARGET_FILE_SIZE
from loglake.errors import UserError

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
