"""SQLAlchemy 2 dialect: ``loglake:///path/to/lake`` and ``loglake+s3://bucket/prefix``.

It rides on ``loglake.dbapi``, answers reflection from the lake's catalog (column types as Trino
names them) and compiles statements the way Athena's Trino engine reads them, so that
``pandas.read_sql``, JupySQL's ``%sql``, Superset and other SQLAlchemy tools work unchanged.

URL query options are the settings of ``loglake.connect``: ``?database=aws`` chooses the
current database, ``?endpoint_url=http://127.0.0.1:9000&region=us-east-1&path_style=true``
reaches an S3-compatible server.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import types as sqltypes
from sqlalchemy.engine import URL, default, reflection
from sqlalchemy.engine.interfaces import (
    IsolationLevel,
    ReflectedColumn,
    ReflectedPrimaryKeyConstraint,
    ReflectedTableComment,
)
from sqlalchemy.sql import compiler
from sqlalchemy.sql.elements import BindParameter

from loglake import dbapi
from loglake.catalog import DEFAULT_DATABASE

# ---------------------------------------------------------------------- types


class _TrinoNamed(sqltypes.TypeEngine):
    """A nested Trino type (ROW, MAP, ARRAY of nested) known by its full name."""

    __visit_name__ = "trino_named"

    def __init__(self, type_name: str):
        self.type_name = type_name

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.type_name!r})"


class ROW(_TrinoNamed):
    python_type = dict


class MAP(_TrinoNamed):
    python_type = dict


class IPADDRESS(sqltypes.String):
    __visit_name__ = "IPADDRESS"


class JSON(sqltypes.String):
    __visit_name__ = "JSON"


_SIMPLE_TYPES: dict[str, type[sqltypes.TypeEngine]] = {
    "boolean": sqltypes.BOOLEAN,
    "tinyint": sqltypes.SMALLINT,
    "smallint": sqltypes.SMALLINT,
    "integer": sqltypes.INTEGER,
    "bigint": sqltypes.BIGINT,
    "real": sqltypes.REAL,
    "double": sqltypes.DOUBLE,
    "varchar": sqltypes.VARCHAR,
    "char": sqltypes.CHAR,
    "varbinary": sqltypes.VARBINARY,
    "date": sqltypes.DATE,
    "time": sqltypes.TIME,
    "json": JSON,
    "ipaddress": IPADDRESS,
    "interval day to second": sqltypes.Interval,
    "unknown": sqltypes.NullType,
}


def sqlalchemy_type(type_name: str) -> sqltypes.TypeEngine:
    """The SQLAlchemy type of a Trino type name as ``dbapi.type_code`` spells it."""
    family = dbapi.type_family(type_name)
    if family in _SIMPLE_TYPES:
        return _SIMPLE_TYPES[family]()
    if family == "timestamp":
        return sqltypes.TIMESTAMP(timezone=False)
    if family == "timestamp with time zone":
        return sqltypes.TIMESTAMP(timezone=True)
    if family == "decimal":
        numbers = [int(n) for n in re.findall(r"\d+", type_name)]
        precision = numbers[0] if numbers else None
        scale = numbers[1] if len(numbers) > 1 else None
        return sqltypes.DECIMAL(precision, scale)
    if family == "array":
        inner = type_name[type_name.index("(") + 1 : type_name.rindex(")")]
        inner_type = sqlalchemy_type(inner)
        if isinstance(inner_type, _TrinoNamed | sqltypes.ARRAY):
            return _TrinoNamed(type_name)  # nested arrays keep their full Trino name
        return sqltypes.ARRAY(inner_type)
    if family == "row":
        return ROW(type_name)
    if family == "map":
        return MAP(type_name)
    return sqltypes.NullType()


# ---------------------------------------------------------------------- compilation


class _LowerCase(sqltypes.TypeDecorator):
    """A string bound lower-cased (the pattern of ILIKE)."""

    impl = sqltypes.String
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    def process_literal_param(self, value: Any, dialect: Any) -> Any:
        return self.process_bind_param(value, dialect)


class LoglakeTypeCompiler(compiler.GenericTypeCompiler):
    """Trino spellings for CAST targets and CREATE TABLE columns."""

    def visit_TEXT(self, type_: Any, **kw: Any) -> str:
        return "VARCHAR"

    def visit_string(self, type_: Any, **kw: Any) -> str:
        return "VARCHAR"

    def visit_VARCHAR(self, type_: Any, **kw: Any) -> str:
        return "VARCHAR" if type_.length is None else f"VARCHAR({type_.length})"

    def visit_unicode(self, type_: Any, **kw: Any) -> str:
        return "VARCHAR"

    def visit_unicode_text(self, type_: Any, **kw: Any) -> str:
        return "VARCHAR"

    def visit_FLOAT(self, type_: Any, **kw: Any) -> str:
        return "DOUBLE"

    def visit_float(self, type_: Any, **kw: Any) -> str:
        return "DOUBLE"

    def visit_DOUBLE(self, type_: Any, **kw: Any) -> str:
        return "DOUBLE"

    def visit_double(self, type_: Any, **kw: Any) -> str:
        return "DOUBLE"

    def visit_datetime(self, type_: Any, **kw: Any) -> str:
        return "TIMESTAMP"

    def visit_TIMESTAMP(self, type_: Any, **kw: Any) -> str:
        return "TIMESTAMP WITH TIME ZONE" if getattr(type_, "timezone", False) else "TIMESTAMP"

    def visit_large_binary(self, type_: Any, **kw: Any) -> str:
        return "VARBINARY"

    def visit_BLOB(self, type_: Any, **kw: Any) -> str:
        return "VARBINARY"

    def visit_VARBINARY(self, type_: Any, **kw: Any) -> str:
        return "VARBINARY"

    def visit_ARRAY(self, type_: Any, **kw: Any) -> str:
        return f"ARRAY({self.process(type_.item_type, **kw)})"

    def visit_IPADDRESS(self, type_: Any, **kw: Any) -> str:
        return "IPADDRESS"

    def visit_JSON(self, type_: Any, **kw: Any) -> str:
        return "JSON"

    def visit_trino_named(self, type_: Any, **kw: Any) -> str:
        return type_.type_name.upper()


class LoglakeCompiler(compiler.SQLCompiler):
    """Trino's SELECT: ``OFFSET n LIMIT m`` with integer literals, ``?`` parameters."""

    def limit_clause(self, select: Any, **kw: Any) -> str:
        literal = {**kw, "literal_binds": True}
        text = ""
        if select._offset_clause is not None:
            text += "\n OFFSET " + self.process(select._offset_clause, **literal)
        if select._limit_clause is not None:
            text += "\n LIMIT " + self.process(select._limit_clause, **literal)
        return text

    def visit_ilike_op_binary(self, binary: Any, operator: Any, **kw: Any) -> str:
        return self._ilike(binary, "LIKE", **kw)

    def visit_not_ilike_op_binary(self, binary: Any, operator: Any, **kw: Any) -> str:
        return self._ilike(binary, "NOT LIKE", **kw)

    def _ilike(self, binary: Any, operator: str, **kw: Any) -> str:
        """``lower(x) LIKE pattern``; a bound pattern is lower-cased as a value, since the engine
        wants LIKE patterns as plain literals, not expressions."""
        right = binary.right
        if isinstance(right, BindParameter):
            pattern = self.process(right._with_binary_element_type(_LowerCase()), **kw)
        else:
            pattern = f"lower({self.process(right, **kw)})"
        text = f"lower({self.process(binary.left, **kw)}) {operator} {pattern}"
        escape = binary.modifiers.get("escape")
        if escape is not None:
            text += " ESCAPE " + self.render_literal_value(escape, sqltypes.STRINGTYPE)
        return text

    def visit_regexp_match_op_binary(self, binary: Any, operator: Any, **kw: Any) -> str:
        return f"regexp_like({self.process(binary.left, **kw)}, {self.process(binary.right, **kw)})"

    def visit_not_regexp_match_op_binary(self, binary: Any, operator: Any, **kw: Any) -> str:
        return "NOT " + self.visit_regexp_match_op_binary(binary, operator, **kw)

    def visit_regexp_replace_op_binary(self, binary: Any, operator: Any, **kw: Any) -> str:
        pattern, replacement = binary.right.clauses
        return (
            f"regexp_replace({self.process(binary.left, **kw)}, "
            f"{self.process(pattern, **kw)}, {self.process(replacement, **kw)})"
        )

    def visit_char_length_func(self, fn: Any, **kw: Any) -> str:
        return f"length({self.function_argspec(fn, **kw)})"

    def render_literal_value(self, value: Any, type_: Any) -> str:
        """Literal text the engine reads back as the same value (strings quote-doubled only)."""
        from loglake.query.frontend import sql_literal

        if value is not None and isinstance(value, str | int | float | bool):
            return sql_literal(value)
        return super().render_literal_value(value, type_)


# ---------------------------------------------------------------------- the dialect


class LoglakeColumn(ReflectedColumn):
    """A reflected column with its type's Trino name beside SQLAlchemy's type."""

    trino_type: str


class LoglakeDialect(default.DefaultDialect):
    """``loglake:///path/to/lake``: a lake in a local folder."""

    name = "loglake"
    driver = "dbapi"
    paramstyle = "qmark"
    default_paramstyle = "qmark"
    statement_compiler = LoglakeCompiler
    type_compiler_cls = LoglakeTypeCompiler
    # names are quoted with double quotes, as Trino does: SQLAlchemy's default preparer's way
    supports_statement_cache = True
    supports_native_boolean = True
    supports_native_decimal = True
    supports_alter = False
    supports_sequences = False
    supports_comments = True
    inline_comments = False
    supports_default_values = False
    supports_empty_insert = False
    supports_multivalues_insert = True
    supports_is_distinct_from = True
    postfetch_lastrowid = False
    insert_returning = update_returning = delete_returning = False
    requires_name_normalize = False
    max_identifier_length = 255
    default_schema_name = DEFAULT_DATABASE

    @classmethod
    def import_dbapi(cls) -> Any:
        return dbapi

    def create_connect_args(self, url: URL) -> tuple[list[Any], dict[str, Any]]:
        options = _options(url)
        if url.host:
            raise dbapi.InterfaceError(
                f"loglake:// takes a local path (loglake:///relative/lake or loglake:////abs/lake);"
                f" for a bucket use loglake+s3://{url.host}/prefix"
            )
        return [url.database or None], options

    def do_rollback(self, dbapi_connection: Any) -> None:
        """Nothing to undo: every statement commits on its own."""

    def do_commit(self, dbapi_connection: Any) -> None:
        """Nothing pending: every statement commits on its own."""

    def do_ping(self, dbapi_connection: Any) -> bool:
        return not dbapi_connection.closed

    def get_isolation_level(self, dbapi_connection: Any) -> IsolationLevel:
        return "AUTOCOMMIT"

    def get_default_isolation_level(self, dbapi_conn: Any) -> IsolationLevel:
        return "AUTOCOMMIT"

    def _get_default_schema_name(self, connection: Any) -> str:
        return _lake(connection).database

    # ------------------------------------------------------------------ reflection

    @reflection.cache
    def get_schema_names(self, connection: Any, **kw: Any) -> list[str]:
        return _lake(connection).catalog.list_databases()

    def has_schema(self, connection: Any, schema_name: str, **kw: Any) -> bool:
        return _lake(connection).catalog.database_exists(schema_name.lower())

    @reflection.cache
    def get_table_names(self, connection: Any, schema: str | None = None, **kw: Any) -> list[str]:
        lake = _lake(connection)
        return lake.catalog.list_tables(_schema(lake, schema))

    @reflection.cache
    def get_view_names(self, connection: Any, schema: str | None = None, **kw: Any) -> list[str]:
        lake = _lake(connection)
        return lake.catalog.list_views(_schema(lake, schema))

    def get_view_definition(
        self, connection: Any, view_name: str, schema: str | None = None, **kw: Any
    ) -> str:
        lake = _lake(connection)
        return lake.catalog.get_view(_schema(lake, schema), view_name.lower()).sql

    def has_table(
        self, connection: Any, table_name: str, schema: str | None = None, **kw: Any
    ) -> bool:
        lake = _lake(connection)
        database, name = _schema(lake, schema), table_name.lower()
        return lake.catalog.table_exists(database, name) or lake.catalog.view_exists(database, name)

    @reflection.cache
    def get_columns(
        self, connection: Any, table_name: str, schema: str | None = None, **kw: Any
    ) -> list[ReflectedColumn]:
        """Columns as a query sees them (partition keys last), typed by their Trino names."""
        from sqlalchemy.exc import NoSuchTableError

        lake = _lake(connection)
        database, name = _schema(lake, schema), table_name.lower()
        if not self.has_table(connection, name, database):
            raise NoSuchTableError(f"{database}.{name}")
        try:
            columns = lake.engine.tables.schema(database, name)
        except Exception as err:
            raise dbapi.translate_error(err) from err
        comments = _comments(lake, database, name)
        return [
            LoglakeColumn(
                name=column,
                type=sqlalchemy_type(dbapi.type_code(dtype)),
                nullable=True,
                default=None,
                comment=comments.get(column),
                trino_type=dbapi.type_code(dtype),
            )
            for column, dtype in columns.items()
        ]

    def get_pk_constraint(
        self, connection: Any, table_name: str, schema: str | None = None, **kw: Any
    ) -> ReflectedPrimaryKeyConstraint:
        return {"constrained_columns": [], "name": None}

    def get_foreign_keys(
        self, connection: Any, table_name: str, schema: str | None = None, **kw: Any
    ) -> list[Any]:
        return []

    def get_indexes(
        self, connection: Any, table_name: str, schema: str | None = None, **kw: Any
    ) -> list[Any]:
        return []

    def get_unique_constraints(
        self, connection: Any, table_name: str, schema: str | None = None, **kw: Any
    ) -> list[Any]:
        return []

    def get_check_constraints(
        self, connection: Any, table_name: str, schema: str | None = None, **kw: Any
    ) -> list[Any]:
        return []

    def get_table_comment(
        self, connection: Any, table_name: str, schema: str | None = None, **kw: Any
    ) -> ReflectedTableComment:
        lake = _lake(connection)
        database, name = _schema(lake, schema), table_name.lower()
        if not lake.catalog.table_exists(database, name):
            return {"text": None}
        return {"text": lake.catalog.get_table(database, name).comment}


class LoglakeS3Dialect(LoglakeDialect):
    """``loglake+s3://bucket/prefix?endpoint_url=...``: a lake in an S3-compatible bucket."""

    driver = "s3"
    supports_statement_cache = True

    def create_connect_args(self, url: URL) -> tuple[list[Any], dict[str, Any]]:
        if not url.host:
            raise dbapi.InterfaceError("loglake+s3:// needs a bucket: loglake+s3://bucket/prefix")
        root = f"s3://{url.host}" + (f"/{url.database}" if url.database else "")
        options = _options(url)
        if url.username:
            options.setdefault("access_key_id", url.username)
        if url.password:
            options.setdefault("secret_access_key", url.password)
        return [root], options


def _options(url: URL) -> dict[str, Any]:
    """URL query options as ``loglake.connect`` settings (one value each)."""
    options: dict[str, Any] = {}
    for key, value in url.query.items():
        if isinstance(value, tuple):
            if len(value) != 1:
                raise dbapi.InterfaceError(f"URL option {key} is given more than once")
            value = value[0]
        options[key] = value
    return options


def _lake(connection: Any) -> Any:
    """The ``Lake`` behind a SQLAlchemy connection."""
    return connection.connection.dbapi_connection.lake


def _schema(lake: Any, schema: str | None) -> str:
    return (schema or lake.database).lower()


def _comments(lake: Any, database: str, name: str) -> dict[str, str]:
    if not lake.catalog.table_exists(database, name):
        return {}
    table = lake.catalog.get_table(database, name)
    return {c.name: c.comment for c in table.all_columns if c.comment}
