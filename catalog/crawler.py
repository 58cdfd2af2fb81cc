"""The crawler: infer a Parquet folder's schema and Hive partitions and register it as a table."""

from __future__ import annotations

import os
import re

import pyarrow as pa
import pyarrow.parquet as pq

from loglake.catalog.catalog import Catalog
from loglake.catalog.model import EXTERNAL, Column, Partition, TableDefinition, columns_from_arrow
from loglake.errors import CatalogError

_PARTITION_SEGMENT = re.compile(r"^([A-Za-z_][\w]*)=(.*)$")
#: files read for the schema; their schemas are merged so a column added later is not missed
SCHEMA_SAMPLE_FILES = 16


def _partition_values(relative_dir: str) -> list[tuple[str, str]]:
    pairs = []
    for segment in [s for s in relative_dir.split("/") if s]:
        match = _PARTITION_SEGMENT.match(segment)
        if not match:
            raise CatalogError(
                f"folder {segment!r} is not a Hive partition (key=value); point the crawler at the "
                "table's root folder"
            )
        pairs.append((match.group(1).lower(), match.group(2)))
    return pairs


def crawl(
    catalog: Catalog,
    url: str,
    database: str,
    table: str,
    *,
    replace: bool = False,
) -> TableDefinition:
    """Register the Parquet files under ``url`` as an external table with their partitions."""
    settings = catalog.settings.with_root(url)
    fs = settings.filesystem()
    root = settings.fs_path(settings.root).rstrip("/")
    try:
        found = fs.find(root, detail=True)
    except FileNotFoundError:
        found = {}
    files = sorted(
        p
        for p, info in found.items()
        if info.get("type") != "directory"
        and p.endswith(".parquet")
        and not any(part.startswith(("_", ".")) for part in p[len(root) :].split("/"))
    )
    if not files:
        raise CatalogError(f"no Parquet files under {url}")
    layouts: dict[str, list[tuple[str, str]]] = {}
    for path in files:
        layouts[os.path.dirname(path)[len(root) :]] = _partition_values(
            os.path.dirname(path)[len(root) :]
        )
    keys = {tuple(k for k, _ in pairs) for pairs in layouts.values()}
    if len(keys) != 1:
        raise CatalogError(
            f"the folders under {url} do not share one partition layout: {sorted(keys)}"
        )
    partition_names = list(next(iter(keys)))
    step = max(1, len(files) // SCHEMA_SAMPLE_FILES)
    schemas = []
    for path in files[::step][:SCHEMA_SAMPLE_FILES]:
        with fs.open(path, "rb") as handle:
            schemas.append(pq.read_schema(handle))
    schema = pa.unify_schemas(schemas, promote_options="permissive")
    columns = [c for c in columns_from_arrow(schema) if c.name not in partition_names]
    location = settings.root
    definition = TableDefinition(
        database=database,
        name=table,
        columns=tuple(columns),
        partition_keys=tuple(Column(k, "string") for k in partition_names),
        location=location,
        format="parquet",
        table_type=EXTERNAL,
        properties={"classification": "parquet", "crawled_from": url},
    )
    if replace and catalog.table_exists(database, table):
        catalog.drop_table(database, table)
    created = catalog.create_table(definition)
    if partition_names:
        partitions = sorted(
            {
                Partition(tuple(v for _, v in pairs), f"{location}{relative_dir}".rstrip("/"))
                for relative_dir, pairs in layouts.items()
            },
            key=lambda p: p.values,
        )
        catalog.add_partitions(created, partitions, if_not_exists=True)
    return created
