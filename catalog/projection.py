"""Athena partition projection: partitions computed from table properties, not stored.

A query's predicates on partition columns arrive as :class:`PartitionConstraint` values; the
projection enumerates only the partitions that can satisfy them, so a one-day query on a table
with years of data touches one folder and lists nothing else.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from loglake.catalog.model import Column, Partition, TableDefinition
from loglake.errors import CatalogError

#: how partition values compare: as text, or as numbers
_Key = TypeVar("_Key", str, float)

#: guard against a projection that would enumerate an absurd number of partitions
MAX_PROJECTED_PARTITIONS = 1_000_000

_JAVA_TO_STRFTIME = [
    ("yyyy", "%Y"),
    ("yy", "%y"),
    ("MM", "%m"),
    ("dd", "%d"),
    ("HH", "%H"),
    ("mm", "%M"),
    ("ss", "%S"),
]
_UNITS = {
    "YEARS": "years",
    "MONTHS": "months",
    "WEEKS": "weeks",
    "DAYS": "days",
    "HOURS": "hours",
    "MINUTES": "minutes",
    "SECONDS": "seconds",
}


@dataclass(frozen=True)
class PartitionConstraint:
    """What a query allows for one partition column: a set of values and/or a closed range."""

    values: frozenset[str] | None = None
    low: str | None = None
    high: str | None = None

    def admits(self, value: str, numeric: bool = False) -> bool:
        """Whether a partition value passes (``numeric``: compared as numbers, so 07 is 7)."""
        return self._admits(value, float) if numeric else self._admits(value, str)

    def _admits(self, value: str, key: Callable[[str], _Key]) -> bool:
        values = self.values
        if values is not None and value not in values and key(value) not in set(map(key, values)):
            return False
        if self.low is not None and key(value) < key(self.low):
            return False
        return not (self.high is not None and key(value) > key(self.high))


Constraints = dict[str, PartitionConstraint]


def java_to_strftime(pattern: str) -> str:
    """Translate the Java date pattern Athena uses (``yyyy/MM/dd``) to strftime."""
    out = pattern
    for java, c in _JAVA_TO_STRFTIME:
        out = out.replace(java, c)
    return out


def _relative_now(text: str, now: datetime) -> datetime:
    match = re.fullmatch(r"\s*NOW\s*(?:([+-])\s*(\d+)\s*([A-Z]+?)S?)?\s*", text.upper())
    if not match:
        raise CatalogError(f"invalid date projection bound {text!r}")
    if not match.group(1):
        return now
    amount = int(match.group(2)) * (1 if match.group(1) == "+" else -1)
    return _step(now, amount, match.group(3) + "S")


def _step(moment: datetime, amount: int, unit: str) -> datetime:
    unit = _UNITS.get(unit.upper(), unit.lower())
    if unit == "years":
        return moment.replace(year=moment.year + amount)
    if unit == "months":
        month = moment.month - 1 + amount
        return moment.replace(year=moment.year + month // 12, month=month % 12 + 1)
    return moment + timedelta(**{unit: amount})


def _default_unit(pattern: str) -> str:
    for marker, unit in (("s", "SECONDS"), ("m", "MINUTES"), ("H", "HOURS"), ("d", "DAYS")):
        if marker in pattern:
            return unit
    return "MONTHS" if "M" in pattern else "YEARS"


def _date_values(table: TableDefinition, column: str, now: datetime) -> list[str]:
    props = table.properties
    prefix = f"projection.{column}."
    pattern = props.get(prefix + "format")
    bounds = props.get(prefix + "range")
    if not pattern or not bounds:
        raise CatalogError(f"date projection of {column} needs .format and .range properties")
    fmt = java_to_strftime(pattern)
    start_text, end_text = (b.strip() for b in bounds.split(",", 1))

    def parse(text: str) -> datetime:
        if text.upper().startswith("NOW"):
            return _relative_now(text, now)
        return datetime.strptime(text, fmt).replace(tzinfo=UTC)

    start, end = parse(start_text), parse(end_text)
    interval = int(props.get(prefix + "interval", "1"))
    unit = props.get(prefix + "interval.unit", _default_unit(pattern))
    values, moment, count = [], start, 0
    while moment <= end:
        values.append(moment.strftime(fmt))
        count += 1
        moment = _step(start, count * interval, unit)
        if count > MAX_PROJECTED_PARTITIONS:
            raise CatalogError(
                f"projection of {column} yields more than {MAX_PROJECTED_PARTITIONS}"
            )
    return values


def _column_values(
    table: TableDefinition, key: Column, constraint: PartitionConstraint | None, now: datetime
) -> list[str]:
    prefix = f"projection.{key.name}."
    kind = table.properties.get(prefix + "type", "").lower()
    if kind == "enum":
        values = [v.strip() for v in table.properties.get(prefix + "values", "").split(",")]
    elif kind == "integer":
        low, high = (int(v) for v in table.properties[prefix + "range"].split(","))
        step = int(table.properties.get(prefix + "interval", "1"))
        digits = int(table.properties.get(prefix + "digits", "0"))
        values = [str(v).zfill(digits) for v in range(low, high + 1, step)]
    elif kind == "date":
        values = _date_values(table, key.name, now)
    elif kind == "injected":
        if constraint is None or constraint.values is None:
            raise CatalogError(
                f"table {table.qualified_name} projects {key.name!r} as injected: the query must "
                f"name its value(s) with = or IN"
            )
        values = sorted(constraint.values)
    else:
        raise CatalogError(
            f"table {table.qualified_name}: projection.{key.name}.type must be enum, integer, "
            f"date or injected (found {kind or 'nothing'})"
        )
    numeric = kind == "integer" or key.type in ("int", "bigint", "smallint", "tinyint")
    if constraint is not None:
        values = [v for v in values if constraint.admits(v, numeric)]
    return [v for v in values if v]


def projected_partitions(
    table: TableDefinition, constraints: Constraints | None = None, now: datetime | None = None
) -> list[Partition]:
    """The partitions a projection-enabled table has that the constraints admit."""
    constraints = constraints or {}
    now = now or datetime.now(UTC)
    per_key = [
        _column_values(table, key, constraints.get(key.name), now) for key in table.partition_keys
    ]
    total = 1
    for values in per_key:
        total *= max(1, len(values))
    if total > MAX_PROJECTED_PARTITIONS:
        raise CatalogError(
            f"table {table.qualified_name}: the query would read {total} projected partitions; "
            "add predicates on the partition columns"
        )
    template = table.properties.get("storage.location.template")
    partitions = []
    for combo in itertools.product(*per_key):
        if template:
            location = template
            for key, value in zip(table.partition_keys, combo, strict=True):
                location = location.replace("${" + key.name + "}", value)
        else:
            parts = [f"{k.name}={v}" for k, v in zip(table.partition_keys, combo, strict=True)]
            location = "/".join([table.location.rstrip("/"), *parts])
        partitions.append(Partition(tuple(combo), location.rstrip("/")))
    return partitions
