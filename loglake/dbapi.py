"""PEP 249 (DB-API 2.0) driver: the connection and cursor that pandas, SQLAlchemy and JupySQL expect.

``qmark`` parameters go to the engine's own ``?`` parameters, so a value is never spliced into
SQL text here. A SELECT is compiled at ``execute`` (errors carry line and column) and its rows
stream in batches from Polars' streaming engine: ``fetchmany`` and iteration hold one batch at a
time, however large the result. Errors from loglake are mapped onto the PEP 249 hierarchy.
``as_polars``/``as_pandas``/``as_arrow``, ``query_id`` and ``stats`` follow PyAthena's names.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
import weakref
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import polars as pl

from loglake.errors import ConflictError, LoglakeError, SqlError, StorageError, UserError

if TYPE_CHECKING:
    import pandas
    import pyarrow

    from loglake.lake import Lake
    from loglake.query.engine import QueryStats

apilevel = "2.0"
#: threads may share the module, not connections (a connection's engine keeps per-query state)
threadsafety = 1
paramstyle = "qmark"

#: rows Polars hands over per batch when a result streams
BATCH_ROWS = 65_536


# ---------------------------------------------------------------------- exceptions (PEP 249)


class Warning(Exception):
    """Important warnings, such as data truncation."""


class Error(Exception):
    """Base class of every error this driver raises."""


class InterfaceError(Error):
    """Misuse of the driver itself rather than of the lake."""


class DatabaseError(Error):
    """An error from the lake; SQL errors carry ``line`` and ``column`` (1-based) when known."""

    def __init__(self, message: str, *, line: int | None = None, column: int | None = None):
        super().__init__(message)
        self.line = line
        self.column = column


class DataError(DatabaseError):
    """A value the query could not process (bad cast, overflow, invalid argument at run time)."""


class OperationalError(DatabaseError):
    """The lake's storage failed, or another writer changed the catalog first."""


class IntegrityError(DatabaseError):
    """Relational integrity failed (loglake has no constraints; kept for PEP 249)."""


class InternalError(DatabaseError):
    """loglake hit a state it does not expect: a bug to report."""


class ProgrammingError(DatabaseError):
    """Bad SQL, a missing table, wrong parameters, or a closed connection or cursor."""


class NotSupportedError(DatabaseError):
    """An operation loglake does not offer, such as transactions."""


def translate_error(err: BaseException) -> Error:
    """The PEP 249 error for a loglake, Polars or storage failure (message kept, no traceback text)."""
    if isinstance(err, Error):
        return err
    if isinstance(err, ConflictError | StorageError):
        return OperationalError(str(err))
    if isinstance(err, SqlError):
        message = str(err)
        if message.startswith("query failed:"):
            return DataError(message, line=err.line, column=err.column)
        return ProgrammingError(message, line=err.line, column=err.column)
    if isinstance(err, UserError):
        return ProgrammingError(str(err))
    if isinstance(err, LoglakeError):
        return DatabaseError(str(err))
    if isinstance(err, pl.exceptions.PolarsError):
        from loglake.query.engine import polars_message

        return DataError(f"query failed: {polars_message(err)}")
    if isinstance(err, OSError):
        return OperationalError(f"storage error: {err.strerror or type(err).__name__}")
    if isinstance(err, ValueError) and "out of range" in str(err):
        # a date or timestamp past year 9999 (Trino allows it; Python's datetime does not)
        return DataError(
            f"a value cannot be returned as a Python object ({err}); CAST it to varchar"
        )
    return InternalError(f"internal error ({type(err).__name__}); please report the query")


# ---------------------------------------------------------------------- types (PEP 249)


class DBAPITypeObject:
    """Compares equal to every type code (a Trino type name) of its group."""

    def __init__(self, *names: str):
        self.names = frozenset(names)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, DBAPITypeObject):
            return self.names == other.names
        return isinstance(other, str) and type_family(other) in self.names

    def __hash__(self) -> int:
        return hash(self.names)

    def __repr__(self) -> str:
        return f"DBAPITypeObject({', '.join(sorted(self.names))})"


def type_family(type_code: str) -> str:
    """``decimal(10, 2)`` -> ``decimal``, ``array(varchar)`` -> ``array``."""
    return type_code.split("(", 1)[0].strip().lower()


STRING = DBAPITypeObject("varchar", "char", "json", "ipaddress", "uuid")
BINARY = DBAPITypeObject("varbinary")
NUMBER = DBAPITypeObject("tinyint", "smallint", "integer", "bigint", "real", "double", "decimal")
DATETIME = DBAPITypeObject(
    "date", "time", "timestamp", "timestamp with time zone", "interval day to second"
)
ROWID = DBAPITypeObject()
BOOLEAN = DBAPITypeObject("boolean")
ARRAY = DBAPITypeObject("array")
MAP = DBAPITypeObject("map")
ROW = DBAPITypeObject("row")

Date = dt.date
Time = dt.time
Timestamp = dt.datetime
Binary = bytes


def DateFromTicks(ticks: float) -> dt.date:
    return dt.date.fromtimestamp(ticks)


def TimeFromTicks(ticks: float) -> dt.time:
    return dt.datetime.fromtimestamp(ticks).time()


def TimestampFromTicks(ticks: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ticks)


def type_code(dtype: pl.DataType) -> str:
    """The Trino type name a column reports, lower case (``varchar``, ``row("arn" varchar)``)."""
    from loglake.query.types import sql_name

    return sql_name(dtype).lower()


def describe(schema: pl.Schema) -> list[tuple[Any, ...]]:
    """PEP 249 ``description``: name, type code, display size, internal size, precision, scale, null_ok."""
    out = []
    for name, dtype in schema.items():
        precision = scale = None
        if isinstance(dtype, pl.Decimal):
            precision, scale = dtype.precision or 38, dtype.scale or 0
        out.append((name, type_code(dtype), None, None, precision, scale, True))
    return out


# ---------------------------------------------------------------------- connection


def connect(lake: str | Lake | None = None, **options: Any) -> Connection:
    """Open a lake (a folder, ``s3://bucket/prefix`` or an open ``Lake``) for PEP 249 use.

    ``options`` are those of ``loglake.connect``: ``database=``, ``endpoint_url=``, ``region=``,
    credentials and so on.
    """
    from loglake.lake import Lake

    if isinstance(lake, Lake):
        if options:
            raise InterfaceError("options cannot be given with an open Lake")
        return Connection(lake)
    import loglake

    try:
        return Connection(loglake.connect(lake, **options))
    except Exception as err:
        raise translate_error(err) from err


class Connection:
    """One lake, its catalog and query engine; cursors share them."""

    def __init__(self, lake: Lake):
        self._lake: Lake | None = lake
        self._cursors: weakref.WeakSet[Cursor] = weakref.WeakSet()

    @property
    def lake(self) -> Lake:
        if self._lake is None:
            raise ProgrammingError("the connection is closed")
        return self._lake

    @property
    def closed(self) -> bool:
        return self._lake is None

    def cursor(self) -> Cursor:
        self.lake  # noqa: B018  (a closed connection raises)
        cursor = Cursor(self)
        self._cursors.add(cursor)
        return cursor

    def close(self) -> None:
        for cursor in list(self._cursors):
            cursor.close()
        self._cursors.clear()
        self._lake = None

    def commit(self) -> None:
        """Each statement commits on its own (Delta commits); nothing is pending."""
        self.lake  # noqa: B018  (a closed connection raises)

    def rollback(self) -> None:
        raise NotSupportedError("loglake has no transactions: each statement commits on its own")

    def execute(self, operation: str, parameters: Sequence[Any] | None = None) -> Cursor:
        """A new cursor that has run ``operation`` (the shortcut sqlite3 and DuckDB offer)."""
        return self.cursor().execute(operation, parameters)

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    Warning = Warning
    Error = Error
    InterfaceError = InterfaceError
    DatabaseError = DatabaseError
    DataError = DataError
    OperationalError = OperationalError
    IntegrityError = IntegrityError
    InternalError = InternalError
    ProgrammingError = ProgrammingError
    NotSupportedError = NotSupportedError


# ---------------------------------------------------------------------- results


class _Rows:
    """A result as a stream of Polars batches, read once: fetches and iteration share it."""

    def __init__(self, schema: pl.Schema, batches: Iterator[pl.DataFrame]):
        self.schema = schema
        self._batches = batches
        self._frame: pl.DataFrame | None = None  # the batch being read
        self._tuples: list[tuple[Any, ...]] | None = None
        self._offset = 0
        self.seen = 0  # rows pulled from Polars so far
        self.exhausted = False

    def _next_batch(self) -> bool:
        while not self.exhausted:
            try:
                frame = next(self._batches)
            except StopIteration:
                self.exhausted = True
                self._batches = iter(())
                break
            if frame.height:
                self._frame, self._tuples, self._offset = frame, None, 0
                self.seen += frame.height
                return True
        self._frame, self._tuples = None, None
        return False

    def take(self, limit: int | None) -> list[tuple[Any, ...]]:
        out: list[tuple[Any, ...]] = []
        while limit is None or len(out) < limit:
            at_end = self._frame is None or self._offset >= self._frame.height
            if at_end and not self._next_batch():
                break
            assert self._frame is not None
            if self._tuples is None:
                self._tuples = self._frame.rows()
            stop = self._frame.height if limit is None else self._offset + limit - len(out)
            chunk = self._tuples[self._offset : stop]
            self._offset += len(chunk)
            out.extend(chunk)
        return out

    def rest(self) -> pl.DataFrame:
        """Every row not fetched yet, as one frame."""
        frames = []
        if self._frame is not None and self._offset < self._frame.height:
            frames.append(self._frame.slice(self._offset))
        self._frame, self._tuples = None, None
        while self._next_batch():
            assert self._frame is not None
            frames.append(self._frame)
        self._frame = None
        if not frames:
            return pl.DataFrame(schema=self.schema)
        return frames[0] if len(frames) == 1 else pl.concat(frames, rechunk=False)

    def close(self) -> None:
        self._frame, self._tuples = None, None
        self._batches = iter(())
        self.exhausted = True


def _parameters(parameters: Sequence[Any] | None) -> list[Any] | None:
    if parameters is None:
        return None
    if isinstance(parameters, Mapping):
        raise ProgrammingError(
            "parameters are positional (paramstyle 'qmark'): pass a list or tuple for the ? marks"
        )
    if isinstance(parameters, str | bytes):
        raise ProgrammingError("parameters must be a list or tuple, not a single string")
    values = list(parameters)
    return values or None


class Cursor:
    """Runs statements and reads their rows; ``description`` is set once a statement has run."""

    def __init__(self, connection: Connection):
        self.connection = connection
        self.arraysize = 1
        self._closed = False
        self._rows: _Rows | None = None
        self._stats: QueryStats | None = None
        self._started = 0.0
        self.description: list[tuple[Any, ...]] | None = None
        self.rowcount = -1
        self.lastrowid = None

    # ------------------------------------------------------------------ running

    def execute(self, operation: str, parameters: Sequence[Any] | None = None) -> Cursor:
        """Run one statement; ``?`` marks in it take ``parameters`` in order."""
        lake = self._lake()
        self._discard()
        values = _parameters(parameters)
        self._started = time.perf_counter()
        try:
            result = lake.engine.execute(operation, params=values, lazy=True)
        except Exception as err:
            raise translate_error(err) from err
        self._stats = dataclasses.replace(result.stats)
        if result.df is not None:
            frame = result.df
            self._rows = _Rows(frame.schema, iter((frame,)))
            self.rowcount = _affected_rows(frame, self._stats.statement)
            self._stats.rows = frame.height
        else:
            assert result.lazy is not None
            try:
                schema = result.lazy.collect_schema()
                batches = result.lazy.collect_batches(chunk_size=BATCH_ROWS)
            except Exception as err:
                raise translate_error(err) from err
            self._rows = _Rows(schema, batches)
            self.rowcount = -1
        self.description = describe(self._rows.schema)
        return self

    def executemany(self, operation: str, seq_of_parameters: Sequence[Sequence[Any]]) -> Cursor:
        """Run ``operation`` once per parameter list; ``rowcount`` adds up the rows written."""
        total = 0
        counted = False
        for parameters in seq_of_parameters:
            self.execute(operation, parameters)
            if self.rowcount >= 0:
                total += self.rowcount
                counted = True
        self.rowcount = total if counted else -1
        return self

    # ------------------------------------------------------------------ fetching

    def fetchone(self) -> tuple[Any, ...] | None:
        rows = self._take(1)
        return rows[0] if rows else None

    def fetchmany(self, size: int | None = None) -> list[tuple[Any, ...]]:
        size = self.arraysize if size is None else size
        if size < 0:
            raise ProgrammingError(f"fetchmany size must be 0 or more, not {size}")
        return self._take(size)

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self._take(None)

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return self

    def __next__(self) -> tuple[Any, ...]:
        row = self.fetchone()
        if row is None:
            raise StopIteration
        return row

    def as_polars(self) -> pl.DataFrame:
        """The rows not fetched yet as a Polars DataFrame (all of them after ``execute``)."""
        rows = self._result()
        try:
            frame = rows.rest()
        except Exception as err:
            raise translate_error(err) from err
        self._finish()
        return frame

    def as_arrow(self) -> pyarrow.Table:
        return self.as_polars().to_arrow()

    def as_pandas(self) -> pandas.DataFrame:
        return self.as_polars().to_pandas()

    # ------------------------------------------------------------------ statistics

    @property
    def query_id(self) -> str | None:
        return self._stats.query_id if self._stats is not None else None

    @property
    def rows_received(self) -> int:
        """Rows the engine has handed over so far (a progress display reads it while fetching)."""
        return self._rows.seen if self._rows is not None else 0

    @property
    def stats(self) -> QueryStats | None:
        """Rows (once all are read), files scanned and skipped, bytes scanned, time, Athena's charge."""
        return self._stats

    # ------------------------------------------------------------------ PEP 249 odds and ends

    def setinputsizes(self, sizes: Any) -> None:
        """Accepted and ignored (PEP 249 allows it)."""

    def setoutputsize(self, size: Any, column: int | None = None) -> None:
        """Accepted and ignored (PEP 249 allows it)."""

    def close(self) -> None:
        self._discard()
        self._closed = True

    @property
    def closed(self) -> bool:
        return self._closed or self.connection.closed

    def __enter__(self) -> Cursor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ internals

    def _lake(self) -> Lake:
        if self._closed:
            raise ProgrammingError("the cursor is closed")
        return self.connection.lake

    def _result(self) -> _Rows:
        self._lake()
        if self._rows is None:
            raise ProgrammingError("no statement has been executed on this cursor")
        return self._rows

    def _take(self, limit: int | None) -> list[tuple[Any, ...]]:
        rows = self._result()
        try:
            out = rows.take(limit)
        except Exception as err:
            raise translate_error(err) from err
        if rows.exhausted:
            self._finish()
        return out

    def _finish(self) -> None:
        """Once every row has come out, the row count and elapsed time are known."""
        rows, stats = self._rows, self._stats
        if rows is None or stats is None or not rows.exhausted or stats.rows is not None:
            return
        stats.rows = rows.seen
        stats.elapsed_s = time.perf_counter() - self._started
        if self.rowcount < 0:
            self.rowcount = rows.seen

    def _discard(self) -> None:
        if self._rows is not None:
            self._rows.close()
        self._rows = None
        self._stats = None
        self.description = None
        self.rowcount = -1


def _affected_rows(frame: pl.DataFrame, statement: str) -> int:
    """Rows written by CTAS and INSERT (their summary row says), otherwise the rows returned."""
    if statement in ("INSERT", "CREATE TABLE AS") and "rows" in frame.columns and frame.height:
        return int(frame["rows"][0])
    return frame.height


__all__ = [
    "ARRAY",
    "BINARY",
    "BOOLEAN",
    "DATETIME",
    "MAP",
    "NUMBER",
    "ROW",
    "ROWID",
    "STRING",
    "Binary",
    "Connection",
    "Cursor",
    "DataError",
    "DatabaseError",
    "Date",
    "DateFromTicks",
    "Error",
    "IntegrityError",
    "InterfaceError",
    "InternalError",
    "NotSupportedError",
    "OperationalError",
    "ProgrammingError",
    "Time",
    "TimeFromTicks",
    "Timestamp",
    "TimestampFromTicks",
    "Warning",
    "apilevel",
    "connect",
    "paramstyle",
    "threadsafety",
]
