"""Catalog statements: CREATE/DROP DATABASE and TABLE, SHOW, DESCRIBE, MSCK REPAIR, ALTER PARTITION.

Athena answers these with small result sets (``tab_name``, ``col_name``/``data_type``/``comment``,
``partition``, ``createtab_stmt`` ...); so do we, as polars DataFrames with the same column names.
Statements that sqlglot only knows as a raw ``Command`` (SHOW ..., MSCK ..., ALTER ... ADD
PARTITION) are parsed here with small regular expressions over the statement text.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from typing import overload

import polars as pl
import sqlglot
from sqlglot import exp

from loglake.catalog import (
    DEFAULT_DATABASE,
    EXTERNAL,
    Catalog,
    Column,
    Partition,
    TableDefinition,
    ViewDefinition,
)
from loglake.catalog.export import format_from_serde, hive_ddl, view_ddl
from loglake.catalog.managed import ManagedTable
from loglake.catalog.model import columns_from_arrow
from loglake.catalog.paths import partition_path
from loglake.errors import CatalogError, SqlError
from loglake.query.statement_kind import statement_kind

_NAME = r"(`[^`]+`|\"[^\"]+\"|[\w$]+)"
_QUALIFIED = rf"{_NAME}(?:\s*\.\s*{_NAME})?"


@overload
def _ident(text: str) -> str: ...


@overload
def _ident(text: str | None) -> str | None: ...


def _ident(text: str | None) -> str | None:
    return None if text is None else text.strip('`"').lower()


def _qualified(match: re.Match[str], group: int, current: str) -> tuple[str, str]:
    first, second = _ident(match.group(group)), _ident(match.group(group + 1))
    return (first, second) if second else (current, first)


def _status(message: str) -> pl.DataFrame:
    return pl.DataFrame({"result": [message]})


class DdlExecutor:
    """Runs one catalog statement against a catalog, in the context of a current database."""

    def __init__(
        self,
        catalog: Catalog,
        sql: str,
        database: str = DEFAULT_DATABASE,
        view_columns: Callable[[str], tuple[Column, ...]] | None = None,
    ):
        self.catalog = catalog
        self.sql = sql
        self.database = database
        self.view_columns = view_columns

    def _columns(self, relation: TableDefinition | ViewDefinition) -> tuple[Column, ...]:
        """A relation's columns; a view stored without them gets them from its SQL."""
        if isinstance(relation, TableDefinition):
            return relation.all_columns
        if not relation.columns and self.view_columns is not None:
            return self.view_columns(relation.sql)
        return relation.columns

    def error(self, message: str, needle: str | None = None) -> SqlError:
        start = self.sql.lower().find(needle.lower()) if needle else 0
        start = max(start, 0)
        return SqlError(message, self.sql, start, start + len(needle) if needle else None)

    # ------------------------------------------------------------------ text statements
    def run_text(self, node: exp.Expr | None = None) -> pl.DataFrame | None:
        """SHOW, MSCK REPAIR and ALTER TABLE ... PARTITION, which sqlglot keeps as raw text:
        read with the patterns below; None when none matches."""
        text = self.sql.strip().rstrip(";").strip()
        for pattern, handler in self._text_statements():
            match = re.match(pattern, text, re.IGNORECASE | re.DOTALL)
            if match:
                return handler(match)
        return None

    def _text_statements(self) -> list[tuple[str, Callable[[re.Match], pl.DataFrame]]]:
        return [
            (r"^SHOW\s+(?:DATABASES|SCHEMAS)(?:\s+LIKE\s+'([^']*)')?$", self.show_databases),
            (
                rf"^SHOW\s+TABLES(?:\s+(?:IN|FROM)\s+{_NAME})?(?:\s+(?:LIKE\s+)?'([^']*)')?$",
                self.show_tables,
            ),
            (
                rf"^SHOW\s+VIEWS(?:\s+(?:IN|FROM)\s+{_NAME})?(?:\s+LIKE\s+'([^']*)')?$",
                self.show_views,
            ),
            (rf"^SHOW\s+PARTITIONS\s+{_QUALIFIED}$", self.show_partitions),
            (
                rf"^SHOW\s+COLUMNS\s+(?:IN|FROM)\s+{_QUALIFIED}(?:\s+(?:IN|FROM)\s+{_NAME})?$",
                self.show_columns,
            ),
            (rf"^SHOW\s+CREATE\s+(?:TABLE|VIEW)\s+{_QUALIFIED}$", self.show_create),
            (
                rf"^SHOW\s+TBLPROPERTIES\s+{_QUALIFIED}(?:\s*\(\s*'([^']*)'\s*\))?$",
                self.show_properties,
            ),
            (rf"^MSCK\s+REPAIR\s+TABLE\s+{_QUALIFIED}$", self.repair),
            (
                rf"^ALTER\s+TABLE\s+{_QUALIFIED}\s+ADD\s+(IF\s+NOT\s+EXISTS\s+)?(PARTITION\s*\(.*)$",
                self.add_partitions,
            ),
            (
                rf"^ALTER\s+TABLE\s+{_QUALIFIED}\s+DROP\s+(IF\s+EXISTS\s+)?(PARTITION\s*\(.*)$",
                self.drop_partitions,
            ),
        ]

    # ------------------------------------------------------------------ databases
    def create_database(self, node: exp.Expr) -> pl.DataFrame:
        name = node.this.name or node.this.text("db")
        properties = node.args.get("properties")
        comment = location = None
        extra: dict[str, str] = {}
        for prop in properties.expressions if properties else []:
            if isinstance(prop, exp.SchemaCommentProperty):
                comment = prop.this.name
            elif isinstance(prop, exp.LocationProperty):
                location = prop.this.name
            elif isinstance(prop, exp.Property):
                extra[prop.name] = prop.text("value")
        self.catalog.create_database(
            name,
            comment=comment,
            location=location,
            properties=extra,
            if_not_exists=bool(node.args.get("exists")),
        )
        return _status(f"database {name.lower()} created")

    def drop_database(self, node: exp.Expr) -> pl.DataFrame:
        target = (node.args.get("tables") or [node.this])[0]
        name = target.name or target.text("db")
        self.catalog.drop_database(
            name, cascade=bool(node.args.get("cascade")), if_exists=bool(node.args.get("exists"))
        )
        return _status(f"database {name.lower()} dropped")

    def show_databases(self, match: re.Match) -> pl.DataFrame:
        names = self.catalog.list_databases()
        if match.group(1):
            names = _like(names, match.group(1))
        return pl.DataFrame({"database_name": names}, schema={"database_name": pl.String})

    # ------------------------------------------------------------------ tables
    def _table_name(self, table: exp.Table) -> tuple[str, str]:
        return (table.db or self.database).lower(), table.name.lower()

    def create_table(self, node: exp.Expr) -> pl.DataFrame:
        schema = node.this
        table_node = schema.this if isinstance(schema, exp.Schema) else schema
        database, name = self._table_name(table_node)
        columns = (
            [self._column(c) for c in schema.expressions] if isinstance(schema, exp.Schema) else []
        )
        partition_keys: list[Column] = []
        properties: dict[str, str] = {}
        parameters: dict[str, str] = {}
        serde: dict[str, object] = {"parameters": parameters}
        location = None
        comment = None
        stored_as = None
        external = False
        for prop in (node.args.get("properties") or exp.Properties(expressions=[])).expressions:
            if isinstance(prop, exp.ExternalProperty):
                external = True
            elif isinstance(prop, exp.SchemaCommentProperty):
                comment = prop.this.name
            elif isinstance(prop, exp.PartitionedByProperty):
                partition_keys = [self._column(c) for c in prop.this.expressions]
            elif isinstance(prop, exp.RowFormatSerdeProperty):
                serde["serialization_library"] = prop.this.name
                extra = prop.args.get("serde_properties")
                for item in extra.expressions if extra else []:
                    parameters[item.name] = item.text("value")
            elif isinstance(prop, exp.RowFormatDelimitedProperty):
                for key, parameter in (
                    ("fields", "field.delim"),
                    ("escaped", "escape.delim"),
                    ("lines", "line.delim"),
                    ("collection_items", "collection.delim"),
                    ("map_keys", "mapkey.delim"),
                    ("null", "serialization.null.format"),
                ):
                    if prop.args.get(key) is not None:
                        parameters[parameter] = prop.args[key].name
            elif isinstance(prop, exp.FileFormatProperty):
                if isinstance(prop.this, exp.InputOutputFormat):
                    serde["input_format"] = prop.this.args["input_format"].name
                    serde["output_format"] = prop.this.args["output_format"].name
                else:
                    stored_as = prop.this.name
            elif isinstance(prop, exp.LocationProperty):
                location = prop.this.name
            elif isinstance(prop, exp.Property):
                properties[prop.name] = prop.text("value")
            else:
                raise self.error(
                    f"unsupported table property {prop.sql('athena')!r}", prop.sql("athena")[:20]
                )
        if not external and properties.get("table_type", "").upper() != "DELTA":
            raise self.error(
                "CREATE TABLE without AS SELECT needs EXTERNAL and a LOCATION (managed tables come "
                "from CREATE TABLE ... AS SELECT or ingest)",
                "CREATE",
            )
        if location is None:
            raise self.error("CREATE EXTERNAL TABLE needs a LOCATION", "CREATE")
        location = self.catalog.location_policy().resolve(location)
        if properties.get("table_type", "").upper() == "DELTA":
            fmt = "delta"
            properties.pop("table_type")
            if not columns:
                self.catalog.location_policy().check_read(location, f"table {database}.{name}")
                delta = ManagedTable(self.catalog.settings.with_root(location), location)
                arrow_columns = columns_from_arrow(delta.schema())
                partition_names = set(delta.partition_columns())
                columns = [c for c in arrow_columns if c.name not in partition_names]
                partition_keys = [c for c in arrow_columns if c.name in partition_names]
        else:
            fmt = format_from_serde(serde, stored_as)
        if fmt not in ("parquet", "json", "csv", "text", "delta"):
            raise self.error(
                f"unsupported storage format {stored_as or fmt!r}: use PARQUET, TEXTFILE (CSV or JSON) or Delta",
                "STORED AS",
            )
        if not columns:
            raise self.error(f"table {database}.{name} declares no columns", "CREATE")
        definition = TableDefinition(
            database=database,
            name=name,
            columns=tuple(columns),
            partition_keys=tuple(partition_keys),
            location=location.rstrip("/"),
            format=fmt,
            table_type=EXTERNAL,
            properties=properties,
            serde={k: v for k, v in serde.items() if v},
            comment=comment,
        )
        self.catalog.create_table(definition, if_not_exists=bool(node.args.get("exists")))
        return _status(f"table {database}.{name} created")

    def _column(self, node: exp.Expr) -> Column:
        if not isinstance(node, exp.ColumnDef) or node.args.get("kind") is None:
            raise self.error(
                f"expected a column name and type, found {node.sql('athena')!r}", node.sql("athena")
            )
        comment = None
        for constraint in node.args.get("constraints") or []:
            if isinstance(constraint.args.get("kind"), exp.CommentColumnConstraint):
                comment = constraint.args["kind"].this.name
        type_text = node.args["kind"].sql("hive")
        try:
            return Column(node.name, type_text, comment)
        except CatalogError as error:
            raise self.error(str(error), node.name) from None

    def drop_table(self, node: exp.Expr) -> pl.DataFrame:
        for table in node.args.get("tables") or [node.this]:
            database, name = self._table_name(table)
            self.catalog.drop_table(database, name, if_exists=bool(node.args.get("exists")))
        return _status("table dropped")

    def show_tables(self, match: re.Match) -> pl.DataFrame:
        """Tables and views (as Athena lists both); without IN, every one a query can name
        without a database."""
        database = _ident(match.group(1))
        if database is None:
            names = [name for _, name in self.catalog.visible_relations(self.database)]
        else:
            self.catalog.get_database(database)
            names = sorted(
                [*self.catalog.list_tables(database), *self.catalog.list_views(database)]
            )
        if match.group(2):
            names = _like(names, match.group(2))
        return pl.DataFrame({"tab_name": names}, schema={"tab_name": pl.String})

    def show_views(self, match: re.Match) -> pl.DataFrame:
        database = _ident(match.group(1)) or self.database
        names = self.catalog.list_views(database)
        if match.group(2):
            names = _like(names, match.group(2))
        return pl.DataFrame({"views": names}, schema={"views": pl.String})

    def _relation(self, match: re.Match, group: int = 1) -> TableDefinition | ViewDefinition:
        database, name = _qualified(match, group, self.database)
        explicit = match.group(group + 1) is not None
        return self.catalog.find_relation(name, database if explicit else None, self.database)

    def _table(self, match: re.Match, group: int = 1) -> TableDefinition:
        relation = self._relation(match, group)
        if not isinstance(relation, TableDefinition):
            raise CatalogError(f"{relation.qualified_name} is a view, not a table")
        return relation

    def describe(self, node: exp.Expr) -> pl.DataFrame:
        table = node.this
        relation = self.catalog.find_relation(table.name, table.db or None, self.database)
        rows = [(c.name, c.type, c.comment or "") for c in self._columns(relation)]
        if isinstance(relation, TableDefinition) and relation.partition_keys:
            rows += [
                ("", "", ""),
                ("# Partition Information", "", ""),
                ("# col_name", "data_type", "comment"),
            ]
            rows += [(c.name, c.type, c.comment or "") for c in relation.partition_keys]
        if node.args.get("style") and isinstance(relation, TableDefinition):
            rows += [("", "", ""), ("# Detailed Table Information", "", "")]
            rows += [
                ("Database:", relation.database, ""),
                ("Table Type:", relation.table_type, ""),
                ("Location:", relation.location, ""),
                ("Format:", relation.format, ""),
            ]
            rows += [(f"  {k}", v, "") for k, v in sorted(relation.properties.items())]
        return pl.DataFrame(rows, schema=["col_name", "data_type", "comment"], orient="row")

    def show_columns(self, match: re.Match) -> pl.DataFrame:
        relation = self._relation(match)
        if match.group(3) and match.group(2) is None:
            relation = self.catalog.find_relation(_ident(match.group(1)), _ident(match.group(3)))
        return pl.DataFrame({"field": [c.name for c in self._columns(relation)]})

    def show_create(self, match: re.Match) -> pl.DataFrame:
        relation = self._relation(match)
        text = hive_ddl(relation) if isinstance(relation, TableDefinition) else view_ddl(relation)
        return pl.DataFrame({"createtab_stmt": text.split("\n")})

    def show_properties(self, match: re.Match) -> pl.DataFrame:
        table = self._table(match)
        items = sorted(table.properties.items())
        if match.group(3):
            items = [(k, v) for k, v in items if k == match.group(3)]
        return pl.DataFrame(
            {"prpt_name": [k for k, _ in items], "prpt_value": [v for _, v in items]},
            schema={"prpt_name": pl.String, "prpt_value": pl.String},
        )

    # ------------------------------------------------------------------ partitions
    def show_partitions(self, match: re.Match) -> pl.DataFrame:
        table = self._table(match)
        if not table.partition_keys:
            raise CatalogError(f"table {table.qualified_name} is not partitioned")
        if table.projection_enabled:
            raise CatalogError(
                f"table {table.qualified_name} uses partition projection: its partitions are "
                "computed at query time and not listed (as in Athena)"
            )
        names = sorted(
            "/".join(f"{k}={v}" for k, v in p.as_dict(table.partition_keys).items())
            for p in self.catalog.partitions(table)
        )
        return pl.DataFrame({"partition": names}, schema={"partition": pl.String})

    def repair(self, match: re.Match) -> pl.DataFrame:
        table = self._table(match)
        if table.is_managed:
            return _status(f"{table.qualified_name} is managed: its partitions are always current")
        added = self.catalog.repair_partitions(table)
        lines = [
            "Repair: Added partition to metastore "
            + table.name
            + ":"
            + "/".join(f"{k}={v}" for k, v in p.as_dict(table.partition_keys).items())
            for p in added
        ]
        return pl.DataFrame({"result": lines or ["Partitions not in metastore: none"]})

    def _partition_specs(
        self, text: str, table: TableDefinition, with_location: bool
    ) -> list[Partition]:
        specs = []
        pattern = re.compile(
            r"PARTITION\s*\(([^)]*)\)(?:\s*LOCATION\s*'([^']*)')?\s*,?\s*", re.IGNORECASE
        )
        position = 0
        text = text.strip()
        while position < len(text):
            match = pattern.match(text, position)
            if not match:
                raise self.error(
                    "expected PARTITION (key='value', ...)", text[position : position + 20]
                )
            values: dict[str, str] = {}
            for item in re.finditer(r"([`\"\w]+)\s*=\s*('(?:[^']|'')*'|[\w.-]+)", match.group(1)):
                values[_ident(item.group(1))] = item.group(2).strip("'").replace("''", "'")
            keys = [k.name for k in table.partition_keys]
            unknown = set(values) - set(keys)
            if unknown:
                raise self.error(
                    f"{table.qualified_name} has no partition key {sorted(unknown)[0]!r}; keys are {keys}",
                    sorted(unknown)[0],
                )
            if with_location and set(values) != set(keys):
                raise self.error(
                    f"PARTITION must give every key of {table.qualified_name}: {keys}",
                    match.group(0)[:30],
                )
            location = match.group(2)
            if with_location and location is None:
                location = f"{table.location.rstrip('/')}/" + partition_path(
                    keys, [values[k] for k in keys]
                )
            specs.append(
                Partition(tuple(values.get(k, "") for k in keys), (location or "").rstrip("/"))
            )
            position = match.end()
        return specs

    def add_partitions(self, match: re.Match) -> pl.DataFrame:
        table = self._table(match)
        specs = self._partition_specs(match.group(4), table, with_location=True)
        added = self.catalog.add_partitions(table, specs, if_not_exists=bool(match.group(3)))
        return _status(f"{len(added)} partition(s) added to {table.qualified_name}")

    def drop_partitions(self, match: re.Match) -> pl.DataFrame:
        table = self._table(match)
        specs = self._partition_specs(match.group(4), table, with_location=False)
        keys = [k.name for k in table.partition_keys]
        current = self.catalog.partitions(table)
        targets = []
        for spec in specs:
            given = {k: v for k, v in zip(keys, spec.values, strict=True) if v}
            matching = [
                p.values
                for p in current
                if all(p.as_dict(table.partition_keys)[k] == v for k, v in given.items())
            ]
            if not matching and not match.group(3):
                raise CatalogError(f"partition {given} of {table.qualified_name} does not exist")
            targets.extend(matching)
        dropped = self.catalog.drop_partitions(table, targets, if_exists=True)
        return _status(f"{len(dropped)} partition(s) dropped from {table.qualified_name}")


def _like(names: list[str], pattern: str) -> list[str]:
    """Athena's SHOW ... LIKE: ``*`` any characters, ``|`` alternatives."""
    alternatives = [p.strip().lower() for p in pattern.split("|")]
    return [n for n in names if any(fnmatch.fnmatchcase(n, a) for a in alternatives)]


#: the catalog statements by kind (``statement_kind``) and the method that runs each; the
#: engine's statement table (``query/engine.py``) sends these kinds here
CATALOG_STATEMENTS: dict[str, Callable[[DdlExecutor, exp.Expr], pl.DataFrame | None]] = {
    "CREATE DATABASE": DdlExecutor.create_database,
    "CREATE TABLE": DdlExecutor.create_table,
    "DROP DATABASE": DdlExecutor.drop_database,
    "DROP TABLE": DdlExecutor.drop_table,
    "DESCRIBE": DdlExecutor.describe,
    "SHOW": DdlExecutor.run_text,
    "MSCK REPAIR": DdlExecutor.run_text,
    "ALTER TABLE": DdlExecutor.run_text,
}


def execute_ddl(
    catalog: Catalog,
    sql: str,
    expression: exp.Expr | None = None,
    database: str = DEFAULT_DATABASE,
    view_columns: Callable[[str], tuple[Column, ...]] | None = None,
) -> pl.DataFrame | None:
    """Run a catalog statement and return its result rows, or None if ``sql`` is not one.

    ``view_columns`` gives the columns of a view's SQL, for views stored without them."""
    executor = DdlExecutor(catalog, sql, database, view_columns)
    if expression is None:
        try:
            expression = sqlglot.parse_one(sql, read="athena")
        except sqlglot.errors.ParseError:
            return executor.run_text()
    handler = CATALOG_STATEMENTS.get(statement_kind(expression))
    return None if handler is None else handler(executor, expression)
