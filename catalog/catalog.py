"""The Glue-like catalog: databases, tables, views and partitions as JSON documents in the lake.

Layout under ``<root>/_catalog/``::

    <db>/_database/vNNNNNNNNNN.json      the database
    <db>/tables/<name>/vNNNNNNNNNN.json  a table definition
    <db>/views/<name>/vNNNNNNNNNN.json   a view definition
    <db>/partitions/<table>/vNNN...json  the registered partitions of an external table

Every document is versioned (see :mod:`loglake.catalog.documents`): a concurrent writer that lost
the race gets a :class:`ConflictError`, never a silent overwrite.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import pyarrow as pa

from loglake.catalog.documents import DocumentStore
from loglake.catalog.lakesettings import LakeSettings, LakeSettingsStore
from loglake.catalog.managed import ManagedTable
from loglake.catalog.model import (
    MANAGED,
    Column,
    DataFile,
    Partition,
    TableDefinition,
    ViewDefinition,
    check_name,
    columns_from_arrow,
)
from loglake.catalog.paths import NULL_PARTITION, LocationPolicy, unescape_partition_value
from loglake.catalog.projection import Constraints, projected_partitions
from loglake.catalog.storage import StorageSettings
from loglake.errors import CatalogError, ConflictError, did_you_mean

DEFAULT_DATABASE = "default"
#: databases searched, after the current one, for a table or view named without a database:
#: ingest puts the AWS tables in ``aws``, so ``SELECT ... FROM cloudtrail`` finds them from any
#: current database
SEARCH_PATH = ("aws",)
#: files that are never data (Spark/Hadoop markers, Delta log, hidden and temporary files)
_IGNORED_FILE = re.compile(r"(^|/)([_.][^/]*|[^/]*\$folder\$|[^/]*_SUCCESS)$")


class Catalog:
    """Databases, tables, views and partitions of one lake."""

    def __init__(self, settings: StorageSettings):
        self.settings = settings
        self.documents = DocumentStore(settings, settings.url("_catalog"))
        self._lake_settings = LakeSettingsStore(DocumentStore(settings, settings.url("_state")))

    def generation(self) -> str | None:
        """A token that changes with every change to the catalog, made by any process."""
        return self.documents.generation()

    # ------------------------------------------------------------------ the lake itself
    def exists(self) -> bool:
        """Whether a lake has been created at the root (it holds catalog documents)."""
        return bool(self.documents.children())

    def initialise(self, databases: Iterable[str] = ()) -> None:
        """Create the lake: its default database and the given ones (existing ones are kept)."""
        for name in (DEFAULT_DATABASE, *databases):
            self.create_database(name, if_not_exists=True)

    # ------------------------------------------------------------------ lake settings
    def lake_settings(self) -> LakeSettings:
        """What this lake allows (locations, query limits, ingest guards)."""
        return self._lake_settings.get()

    def update_lake_settings(self, **changes: Any) -> LakeSettings:
        """Change lake settings (``allowed_locations``, a query limit, ...) for every connection."""
        return self._lake_settings.update(**changes)

    def location_policy(self) -> LocationPolicy:
        """Where SQL may read and write in this lake."""
        return LocationPolicy(self.settings.root, self.lake_settings().allowed_locations)

    # ------------------------------------------------------------------ databases
    def create_database(
        self,
        name: str,
        *,
        comment: str | None = None,
        location: str | None = None,
        properties: dict[str, str] | None = None,
        if_not_exists: bool = False,
    ) -> dict[str, Any]:
        name = check_name(name, "database")
        existing = self.documents.read(f"{name}/_database")
        if existing is not None:
            if if_not_exists:
                return {**existing.body, "location": self._live(existing.body["location"])}
            raise CatalogError(f"database {name!r} already exists")
        stored = self._stored(location or self.settings.url(name))
        body = {
            "name": name,
            "comment": comment,
            "location": stored,
            "properties": dict(properties or {}),
        }
        try:
            self.documents.write(f"{name}/_database", body, 0)
        except CatalogError:
            if not if_not_exists:
                raise CatalogError(f"database {name!r} already exists") from None
        return {**body, "location": self._live(stored)}

    def get_database(self, name: str) -> dict[str, Any]:
        name = check_name(name, "database")
        document = self.documents.read(f"{name}/_database")
        if document is None:
            if name == DEFAULT_DATABASE:
                return self.create_database(name, if_not_exists=True)
            raise CatalogError(
                f"database {name!r} does not exist{self._suggest(name, self.list_databases())}"
            )
        return {**document.body, "location": self._live(document.body.get("location") or name)}

    def database_exists(self, name: str) -> bool:
        return self.documents.read(f"{check_name(name, 'database')}/_database") is not None

    def list_databases(self) -> list[str]:
        names = set(self.documents.children())
        names.add(DEFAULT_DATABASE)
        return sorted(n for n in names if n == DEFAULT_DATABASE or self.database_exists(n))

    def drop_database(self, name: str, *, cascade: bool = False, if_exists: bool = False) -> None:
        name = check_name(name, "database")
        if not self.database_exists(name):
            if if_exists:
                return
            raise CatalogError(f"database {name!r} does not exist")
        tables, views = self.list_tables(name), self.list_views(name)
        if (tables or views) and not cascade:
            raise CatalogError(
                f"database {name!r} is not empty ({len(tables)} tables, {len(views)} views); "
                "use DROP DATABASE ... CASCADE"
            )
        for table in tables:
            self.drop_table(name, table)
        for view in views:
            self.drop_view(name, view)
        self.documents.delete(name)

    # ------------------------------------------------------------------ tables
    def create_table(
        self, table: TableDefinition, *, if_not_exists: bool = False
    ) -> TableDefinition:
        """Register a table definition (external tables; managed ones via create_managed_table)."""
        self.get_database(table.database)
        check_name(table.name, "table")
        folder = f"{table.database}/tables/{table.name}"
        if self.documents.read(f"{table.database}/views/{table.name}") is not None:
            raise CatalogError(f"{table.qualified_name} already exists as a view")
        existing = self.documents.read(folder)
        if existing is not None:
            if if_not_exists:
                return self._table_of(existing.body, existing.version)
            raise CatalogError(f"table {table.qualified_name} already exists")
        try:
            document = self.documents.write(folder, self._table_body(table), 0)
        except CatalogError:
            if if_not_exists:
                return self.get_table(table.database, table.name)
            raise CatalogError(f"table {table.qualified_name} already exists") from None
        return table.replace(version=document.version)

    def create_managed_table(
        self,
        database: str,
        name: str,
        schema: pa.Schema,
        partition_by: Sequence[str] = (),
        *,
        properties: dict[str, str] | None = None,
        comment: str | None = None,
        if_not_exists: bool = False,
        data: pa.Table | None = None,
    ) -> TableDefinition:
        """Create a Delta table at ``<root>/<db>/<name>/`` and register it.

        With ``data`` (CTAS) the table is written whole before it is registered, so the catalog
        never shows it without its rows and a run killed in between can simply be run again.
        """
        database, name = check_name(database, "database"), check_name(name, "table")
        if database != DEFAULT_DATABASE or not self.database_exists(database):
            self.get_database(database)
        existing = self.documents.read(f"{database}/tables/{name}")
        if existing is not None:
            if if_not_exists:
                return self._table_of(existing.body, existing.version)
            raise CatalogError(f"table {database}.{name} already exists")
        partition_by = [p.lower() for p in partition_by]
        columns = columns_from_arrow(schema)
        missing = [p for p in partition_by if p not in {c.name for c in columns}]
        if missing:
            raise CatalogError(f"partition column(s) {missing} are not in the schema of {name}")
        location = self.settings.url(database, name)
        if data is not None:
            ManagedTable.create_with_data(self.settings, location, data, partition_by)
        else:
            ManagedTable.create(
                self.settings, location, schema, partition_by, exist_ok=if_not_exists
            )
        definition = TableDefinition(
            database=database,
            name=name,
            columns=tuple(c for c in columns if c.name not in partition_by),
            partition_keys=tuple(c for c in columns if c.name in partition_by),
            location=location,
            format="delta",
            table_type=MANAGED,
            properties=dict(properties or {}),
            comment=comment,
        )
        return self.create_table(definition, if_not_exists=if_not_exists)

    def get_table(self, database: str, name: str) -> TableDefinition:
        database, name = check_name(database, "database"), check_name(name, "table")
        document = self.documents.read(f"{database}/tables/{name}")
        if document is None:
            hint = self._suggest(
                name, self.list_tables(database) if self.database_exists(database) else []
            )
            raise CatalogError(f"table {database}.{name} does not exist{hint}")
        return self._table_of(document.body, document.version)

    def table_exists(self, database: str, name: str) -> bool:
        return (
            self.documents.read(
                f"{check_name(database, 'database')}/tables/{check_name(name, 'table')}"
            )
            is not None
        )

    def list_tables(self, database: str) -> list[str]:
        return self.documents.children(f"{check_name(database, 'database')}/tables")

    def update_table(self, table: TableDefinition) -> TableDefinition:
        """Write a changed definition; ConflictError if it changed since ``table.version``."""
        folder = f"{table.database}/tables/{table.name}"
        document = self.documents.write(folder, self._table_body(table), table.version)
        return table.replace(version=document.version)

    def set_table_properties(self, database: str, name: str, wanted: dict[str, str]) -> None:
        """Add or replace table properties, reading the table again when another writer changed
        it meanwhile (settings that ingest keeps beside the data, e.g. log group names)."""
        for attempt in range(10):
            table = self.get_table(database, name)
            if all(table.properties.get(k) == v for k, v in wanted.items()):
                return
            table.properties.update(wanted)
            try:
                self.update_table(table)
                return
            except ConflictError:
                if attempt == 9:
                    raise

    def drop_table(self, database: str, name: str, *, if_exists: bool = False) -> None:
        """Forget a table; a managed table's data goes with it, an external table's stays."""
        database, name = check_name(database, "database"), check_name(name, "table")
        if not self.table_exists(database, name):
            if if_exists:
                return
            raise CatalogError(f"table {database}.{name} does not exist")
        table = self.get_table(database, name)
        self.documents.delete(f"{database}/tables/{name}")
        self.documents.delete(f"{database}/partitions/{name}")
        if table.is_managed:
            fs = self.settings.filesystem()
            with contextlib.suppress(FileNotFoundError):
                fs.rm(self.settings.fs_path(table.location), recursive=True)

    def own_table(
        self,
        database: str,
        name: str,
        schema: pa.Schema,
        *,
        partition_by: Sequence[str] = (),
        comment: str | None = None,
    ) -> ManagedTable:
        """A table the lake keeps for itself (monitor state, detections, report runs), created
        with its database on first use, so no caller has to know whether it exists yet."""
        self.create_database(database, if_not_exists=True)
        self.create_managed_table(
            database, name, schema, partition_by, comment=comment, if_not_exists=True
        )
        return self.managed(database, name)

    def managed(self, database: str, name: str) -> ManagedTable:
        table = self.get_table(database, name)
        if not table.is_managed:
            raise CatalogError(f"{table.qualified_name} is an external table, not a managed one")
        return ManagedTable(self.settings, table.location)

    # ------------------------------------------------------------------ views
    def create_view(
        self,
        database: str,
        name: str,
        sql: str,
        columns: Iterable[Column] = (),
        *,
        replace: bool = False,
        comment: str | None = None,
    ) -> ViewDefinition:
        database, name = check_name(database, "database"), check_name(name, "view")
        self.get_database(database)
        if self.table_exists(database, name):
            raise CatalogError(f"{database}.{name} already exists as a table")
        folder = f"{database}/views/{name}"
        existing = self.documents.read(folder)
        if existing is not None and not replace:
            raise CatalogError(f"view {database}.{name} already exists; use CREATE OR REPLACE VIEW")
        view = ViewDefinition(database, name, sql, tuple(columns), comment)
        document = self.documents.write(folder, view.to_json(), existing.version if existing else 0)
        return ViewDefinition.from_json(document.body, document.version)

    def get_view(self, database: str, name: str) -> ViewDefinition:
        database, name = check_name(database, "database"), check_name(name, "view")
        document = self.documents.read(f"{database}/views/{name}")
        if document is None:
            raise CatalogError(f"view {database}.{name} does not exist")
        return ViewDefinition.from_json(document.body, document.version)

    def view_exists(self, database: str, name: str) -> bool:
        return (
            self.documents.read(
                f"{check_name(database, 'database')}/views/{check_name(name, 'view')}"
            )
            is not None
        )

    def list_views(self, database: str) -> list[str]:
        return self.documents.children(f"{check_name(database, 'database')}/views")

    def drop_view(self, database: str, name: str, *, if_exists: bool = False) -> None:
        if not self.view_exists(database, name):
            if if_exists:
                return
            raise CatalogError(f"view {database}.{name} does not exist")
        self.documents.delete(
            f"{check_name(database, 'database')}/views/{check_name(name, 'view')}"
        )

    def search_path(self, current_database: str = DEFAULT_DATABASE) -> list[str]:
        """Databases an unqualified name is looked up in, in order: the current one, then
        :data:`SEARCH_PATH`."""
        current = check_name(current_database, "database")
        return [current, *(db for db in SEARCH_PATH if db != current)]

    def resolve(
        self, name: str, database: str | None = None, current_database: str = DEFAULT_DATABASE
    ) -> tuple[str, str]:
        """The database and name a (possibly unqualified) table or view name refers to.

        An unqualified name is looked up along :meth:`search_path`, then in the one other
        database that holds it. A name qualified with the current database counts as unqualified,
        because SQL front ends qualify bare names with it before the catalog sees them.
        """
        name = check_name(name, "table")
        if database is not None and database.lower() == current_database.lower():
            database = None
        if database is not None:
            database = check_name(database, "database")
            if self.table_exists(database, name) or self.view_exists(database, name):
                return database, name
        else:
            path = self.search_path(current_database)
            for db in path:
                if self.table_exists(db, name) or self.view_exists(db, name):
                    return db, name
            found = [
                db
                for db in self.list_databases()
                if db not in path and (self.table_exists(db, name) or self.view_exists(db, name))
            ]
            if len(found) == 1:
                return found[0], name
            if len(found) > 1:
                raise CatalogError(
                    f"table {name!r} exists in several databases ({', '.join(found)}); qualify it"
                )
        every = [
            t for db in self.list_databases() for t in (*self.list_tables(db), *self.list_views(db))
        ]
        raise CatalogError(
            f"table {(database or current_database)}.{name} does not exist{self._suggest(name, every)}"
        )

    def find_relation(
        self, name: str, database: str | None = None, current_database: str = DEFAULT_DATABASE
    ) -> TableDefinition | ViewDefinition:
        """A table or view by name, resolved as :meth:`resolve` does."""
        database, name = self.resolve(name, database, current_database)
        if self.table_exists(database, name):
            return self.get_table(database, name)
        return self.get_view(database, name)

    def visible_relations(self, current_database: str = DEFAULT_DATABASE) -> list[tuple[str, str]]:
        """(database, name) of every table and view a query can name without a database, in
        search-path order; a name in an earlier database hides the same name in a later one."""
        seen: dict[str, str] = {}
        for db in self.search_path(current_database):
            for name in (*self.list_tables(db), *self.list_views(db)):
                seen.setdefault(name, db)
        return sorted(((db, name) for name, db in seen.items()), key=lambda p: p[1])

    # ------------------------------------------------------------------ partitions
    def partitions(
        self, table: TableDefinition, constraints: Constraints | None = None
    ) -> list[Partition]:
        """Partitions the constraints admit: projected, registered, or (managed) from Delta."""
        if not table.partition_keys:
            return []
        if table.projection_enabled:
            return projected_partitions(table, constraints)
        if table.is_managed:
            seen: dict[tuple[str, ...], Partition] = {}
            for data_file in self.managed(table.database, table.name).files():
                values = tuple(str(data_file.partition.get(k.name)) for k in table.partition_keys)
                seen.setdefault(values, Partition(values, os.path.dirname(data_file.path)))
            registered = list(seen.values())
        else:
            registered = self._registered_partitions(table)
        if not constraints:
            return registered
        return [p for p in registered if _admitted(table, p, constraints)]

    def _registered_partitions(self, table: TableDefinition) -> list[Partition]:
        document = self.documents.read(f"{table.database}/partitions/{table.name}")
        if document is None:
            return []
        return [
            Partition(tuple(p["values"]), self._live(p["location"]))
            for p in document.body["partitions"]
        ]

    def _write_partitions(
        self,
        table: TableDefinition,
        change: Callable[[list[Partition]], tuple[list[Partition] | None, list[Partition]]],
    ) -> list[Partition]:
        """Read-modify-write the partition document, retrying when another writer got there first."""
        folder = f"{table.database}/partitions/{table.name}"
        for _ in range(20):
            document = self.documents.read(folder)
            current = (
                []
                if document is None
                else [
                    Partition(tuple(p["values"]), self._live(p["location"]))
                    for p in document.body["partitions"]
                ]
            )
            updated, result = change(current)
            if updated is None:
                return result
            body = {
                "partitions": [
                    {"values": list(p.values), "location": self._stored(p.location)}
                    for p in updated
                ]
            }
            try:
                self.documents.write(folder, body, document.version if document else 0)
                return result
            except ConflictError:
                continue
        raise ConflictError(f"partitions of {table.qualified_name} keep changing; try again")

    def add_partitions(
        self,
        table: TableDefinition,
        partitions: Sequence[Partition],
        *,
        if_not_exists: bool = False,
    ) -> list[Partition]:
        if table.is_managed:
            raise CatalogError(
                f"{table.qualified_name} is managed: its partitions come from its data"
            )
        for partition in partitions:
            if len(partition.values) != len(table.partition_keys):
                raise CatalogError(
                    f"{table.qualified_name} has partition keys "
                    f"{[k.name for k in table.partition_keys]}; got values {list(partition.values)}"
                )

        def change(current: list[Partition]):
            known = {p.values for p in current}
            clashes = [p for p in partitions if p.values in known]
            if clashes and not if_not_exists:
                raise CatalogError(
                    f"partition {clashes[0].as_dict(table.partition_keys)} already exists"
                )
            added = [p for p in partitions if p.values not in known]
            return (current + added if added else None), added

        return self._write_partitions(table, change)

    def drop_partitions(
        self, table: TableDefinition, values: Sequence[tuple[str, ...]], *, if_exists: bool = False
    ) -> list[Partition]:
        wanted = {tuple(v) for v in values}

        def change(current: list[Partition]):
            missing = wanted - {p.values for p in current}
            if missing and not if_exists:
                raise CatalogError(
                    f"partition {sorted(missing)[0]} of {table.qualified_name} does not exist"
                )
            dropped = [p for p in current if p.values in wanted]
            return ([p for p in current if p.values not in wanted] if dropped else None), dropped

        return self._write_partitions(table, change)

    def repair_partitions(self, table: TableDefinition) -> list[Partition]:
        """MSCK REPAIR TABLE: register every ``key=value/...`` folder found under the location."""
        if not table.partition_keys:
            return []
        fs = self.settings.filesystem()
        root = self.settings.fs_path(table.location).rstrip("/")
        found: list[Partition] = []
        level: list[tuple[str, tuple[str, ...]]] = [(root, ())]
        for key in table.partition_keys:
            following: list[tuple[str, tuple[str, ...]]] = []
            for folder, values in level:
                try:
                    entries = fs.ls(folder, detail=True)
                except FileNotFoundError:
                    continue
                for entry in entries:
                    base = os.path.basename(entry["name"].rstrip("/"))
                    if entry.get("type") == "directory" and base.lower().startswith(key.name + "="):
                        value = unescape_partition_value(base.split("=", 1)[1])
                        following.append(
                            (entry["name"].rstrip("/"), (*values, value or NULL_PARTITION))
                        )
            level = following
        for folder, values in level:
            location = f"s3://{folder}" if self.settings.is_s3 else folder
            found.append(Partition(tuple(values), location))
        return self.add_partitions(table, found, if_not_exists=True)

    # ------------------------------------------------------------------ files
    def files(
        self,
        table: TableDefinition,
        constraints: Constraints | None = None,
        policy: LocationPolicy | None = None,
    ) -> list[DataFile]:
        """The files a query must read for the partition values the constraints admit.

        ``policy``: the location policy the caller already holds for its statement (the lake
        settings are otherwise read again for this call)."""
        if table.is_managed:
            managed = self.managed(table.database, table.name)
            files = managed.files()
            if constraints:
                files = [
                    f
                    for f in files
                    if _admitted(
                        table,
                        Partition(
                            tuple(str(f.partition.get(k.name)) for k in table.partition_keys), ""
                        ),
                        constraints,
                    )
                ]
            return files
        policy = policy or self.location_policy()
        policy.check_read(table.location, f"table {table.qualified_name}")
        if not table.partition_keys:
            return self._list_files(table.location, {})
        out: list[DataFile] = []
        for partition in self.partitions(table, constraints):
            policy.check_read(partition.location, f"a partition of {table.qualified_name}")
            out.extend(
                self._list_files(partition.location, partition.as_dict(table.partition_keys))
            )
        return out

    def _list_files(self, location: str, partition: dict[str, str]) -> list[DataFile]:
        fs = self.settings.filesystem()
        root = self.settings.fs_path(location).rstrip("/")
        try:
            found = fs.find(root, detail=True)
        except FileNotFoundError:
            return []
        files = []
        for path, info in sorted(found.items()):
            relative = path[len(root) :]
            if info.get("type") == "directory" or _IGNORED_FILE.search(relative):
                continue
            # fsspec marks every local symbolic link "other": only one whose target is not a
            # file is refused
            if info.get("islink") and not (info.get("type") == "file" or os.path.isfile(path)):
                raise CatalogError(
                    f"{path} is a broken symbolic link (to {info.get('destination')}); "
                    "repair or remove it"
                )
            url = f"s3://{path}" if self.settings.is_s3 else path
            files.append(
                DataFile(path=url, size=int(info.get("size") or 0), partition=dict(partition))
            )
        return files

    # ------------------------------------------------------------------ stored locations
    def _stored(self, location: str) -> str:
        """A location inside the lake as stored in a document: relative to the root, so a copied
        or moved lake is self-contained (its tables never point back at the original)."""
        root = self.settings.root.rstrip("/")
        if location.startswith(root + "/"):
            return location[len(root) + 1 :]
        return location

    def _live(self, stored: str) -> str:
        """A stored location as an absolute one under this lake's root."""
        if stored.startswith("/") or "://" in stored:
            return stored
        return self.settings.url(stored)

    def _table_body(self, table: TableDefinition) -> dict[str, Any]:
        body = table.to_json()
        body["location"] = self._stored(table.location)
        return body

    def _table_of(self, body: dict[str, Any], version: int) -> TableDefinition:
        """A table read from its document; a managed table written with an absolute location (by
        an older version, or in the lake this one was copied from) is found under this root."""
        table = TableDefinition.from_json(body, version)
        location = self._live(table.location)
        if table.is_managed and location.rstrip("/").endswith(f"/{table.database}/{table.name}"):
            location = self.settings.url(table.database, table.name)
        return table.replace(location=location)

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _suggest(name: str, candidates: Iterable[str]) -> str:
        return did_you_mean(name, candidates, quote=False)


def _admitted(table: TableDefinition, partition: Partition, constraints: Constraints) -> bool:
    for key, value in zip(table.partition_keys, partition.values, strict=True):
        constraint = constraints.get(key.name)
        if constraint is not None and not constraint.admits(
            value, key.type in ("int", "bigint", "smallint", "tinyint")
        ):
            return False
    return True
