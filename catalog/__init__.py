"""The Glue-like catalog, storage settings and managed Delta tables."""

from loglake.catalog.catalog import DEFAULT_DATABASE, SEARCH_PATH, Catalog
from loglake.catalog.managed import ManagedTable
from loglake.catalog.model import (
    EXTERNAL,
    MANAGED,
    Column,
    DataFile,
    Partition,
    TableDefinition,
    ViewDefinition,
)
from loglake.catalog.projection import PartitionConstraint
from loglake.catalog.storage import StorageSettings

__all__ = [
    "DEFAULT_DATABASE",
    "EXTERNAL",
    "MANAGED",
    "SEARCH_PATH",
    "Catalog",
    "Column",
    "DataFile",
    "ManagedTable",
    "Partition",
    "PartitionConstraint",
    "StorageSettings",
    "TableDefinition",
    "ViewDefinition",
]
