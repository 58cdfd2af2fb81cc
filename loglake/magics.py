"""IPython magics: ``%load_ext loglake``, ``%loglake connect``, ``%sql`` and ``%%sql``.

Notebook values reach SQL only as bound parameters: ``:name`` in the query is replaced by a ``?``
mark and the value of the notebook variable ``name`` is bound to it, so a value never becomes SQL
text. IPython's ``{var}`` and ``$var`` expansion is turned off for ``%sql`` for the same reason.
A result shows as a table with types and a statistics line; ``--out name`` (or ``name <<``) also
keeps its rows in a notebook variable as a Polars DataFrame.
"""

from __future__ import annotations

import argparse
import itertools
import os
import shlex
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

import sqlglot
from IPython.core.error import UsageError
from IPython.core.magic import (
    Magics,
    line_cell_magic,
    line_magic,
    magics_class,
    no_var_expand,
)
from sqlglot.tokens import TokenType

from loglake import dbapi
from loglake.display import Result, with_progress

_Method = TypeVar("_Method", bound=Callable[..., Any])


def _registered(marker: Any, name: str) -> Callable[[_Method], _Method]:
    """IPython's magic markers, typed as the plain decorators they are when given a name: IPython
    9 types them as returning either the function or a decorator, which no caller can use."""
    return cast(Callable[[_Method], _Method], marker(name))


#: the folder ``make demo`` builds, looked for from the working folder upwards
DEMO_LAKE = "demo-lake"


def named_parameters(sql: str, lookup: dict[str, Any]) -> tuple[str, list[Any]]:
    """``:name`` marks (outside strings and comments) to ``?`` marks, with their values in order."""
    tokens = sqlglot.Dialect.get_or_raise("athena").tokenize(sql)
    out, values, last = [], [], 0
    for colon, name in itertools.pairwise(tokens):
        if colon.token_type != TokenType.COLON or name.start != colon.end + 1:
            continue
        if not name.text.isidentifier():
            continue
        if name.text not in lookup:
            raise UsageError(f"no notebook variable named {name.text!r} for :{name.text}")
        out.append(sql[last : colon.start] + "?")
        values.append(lookup[name.text])
        last = name.end + 1
    out.append(sql[last:])
    return "".join(out), values


def find_lake(root: str | None) -> str:
    """The lake to open: the given root, else ``LOGLAKE_LAKE``, else the nearest ``demo-lake``
    folder in the working folder or one of its parents. A missing local folder is an error:
    a typo never creates an empty lake."""
    chosen = root or os.environ.get("LOGLAKE_LAKE")
    if chosen is None:
        for folder in (Path.cwd(), *Path.cwd().parents):
            if (folder / DEMO_LAKE / "_catalog").is_dir():
                return str(folder / DEMO_LAKE)
        raise UsageError(
            f"no lake given and no {DEMO_LAKE}/ found from {Path.cwd()} upwards: "
            "pass a path (%loglake connect ./lake), set LOGLAKE_LAKE, or run `make demo`"
        )
    if "://" not in chosen and not Path(chosen).expanduser().is_dir():
        raise UsageError(
            f"no lake at {Path(chosen).expanduser().resolve()} "
            "(`loglake init PATH` creates one; `make demo` builds demo-lake)"
        )
    return chosen


def _connect_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="%loglake connect", add_help=False, exit_on_error=False)
    parser.add_argument("root", nargs="?")
    parser.add_argument("--database", "-d")
    parser.add_argument("--endpoint-url")
    parser.add_argument("--region")
    parser.add_argument("--profile")
    return parser


def _sql_options(line: str) -> tuple[str | None, str]:
    """Split ``--out name`` or ``name <<`` from the start of a %sql line; the rest is SQL."""
    words = line.strip().split(None, 2)
    if len(words) >= 2 and words[0] == "--out":
        if not words[1].isidentifier():
            raise UsageError(f"--out needs a variable name, not {words[1]!r}")
        return words[1], words[2] if len(words) > 2 else ""
    if len(words) >= 2 and words[1] == "<<" and words[0].isidentifier():
        return words[0], words[2] if len(words) > 2 else ""
    return None, line


@magics_class
class LoglakeMagics(Magics):
    """The notebook's connection to one lake, and SQL cells run on it."""

    connection: dbapi.Connection | None = None

    @_registered(line_magic, "loglake")
    def loglake(self, line: str) -> Any:
        """``%loglake connect [PATH|s3://...] [--database DB] [--endpoint-url URL] [--region R]``
        opens a lake (no PATH: ``LOGLAKE_LAKE``, else the nearest demo-lake) and returns its
        ``Lake``; ``%loglake explain SQL`` prints a plan with the files and Athena's charge."""
        command, _, rest = line.strip().partition(" ")
        if command == "connect":
            return self._connect(rest)
        if command == "explain":
            sql, values = named_parameters(rest, self.shell.user_ns if self.shell else {})
            with self._cursor() as cursor:
                try:
                    plan = cursor.execute(f"EXPLAIN {sql}", values or None).fetchall()
                except dbapi.Error as err:
                    raise UsageError(str(err)) from None
            print("\n".join(line for (line,) in plan))
            return None
        raise UsageError("usage: %loglake connect [PATH] [--database DB] | %loglake explain SQL")

    def _connect(self, rest: str) -> Any:
        try:
            args = _connect_parser().parse_args(shlex.split(rest))
        except (argparse.ArgumentError, SystemExit) as err:
            raise UsageError(f"%loglake connect: {err}") from None
        root = find_lake(args.root)
        options = {
            key: value
            for key, value in (
                ("database", args.database),
                ("endpoint_url", args.endpoint_url),
                ("region", args.region),
                ("profile", args.profile),
            )
            if value
        }
        try:
            connection = dbapi.connect(root, **options)
            if args.database is None and "aws" in connection.lake.catalog.list_databases():
                # the AWS tables live in `aws`: make it the notebook's current database
                connection = dbapi.connect(root, database="aws", **options)
            lake = connection.lake
            tables = lake.catalog.list_tables(lake.database)
        except dbapi.Error as err:
            raise UsageError(str(err)) from None
        if self.connection is not None:
            self.connection.close()
        self.connection = connection
        print(f"connected to {lake.settings.root} (database {lake.database}: {len(tables)} tables)")
        return lake

    def _cursor(self) -> dbapi.Cursor:
        if self.connection is None or self.connection.closed:
            raise UsageError("no lake connected: run %loglake connect [PATH] first")
        return self.connection.cursor()

    @no_var_expand
    @_registered(line_cell_magic, "sql")
    def sql(self, line: str, cell: str | None = None) -> Result | None:
        """Run one statement: ``%sql SELECT ...`` or a ``%%sql`` cell. ``:name`` binds the notebook
        variable ``name``; ``--out name`` or ``name <<`` keeps the rows as a Polars DataFrame."""
        out, text = _sql_options(line)
        if cell is not None:
            text = (text + "\n" + cell).strip()
        if not text.strip():
            raise UsageError("no SQL given")
        sql, values = named_parameters(text, self.shell.user_ns if self.shell else {})
        cursor = self._cursor()
        started = time.perf_counter()
        try:
            cursor.execute(sql, values or None)
            stats = cursor.stats
            assert stats is not None and cursor.description is not None
            types = [column[1] for column in cursor.description]
            frame = with_progress(
                cursor.as_polars,
                lambda: (stats.files_scanned, stats.bytes_scanned, cursor.rows_received),
                started,
            )
        except dbapi.Error as err:
            raise UsageError(str(err)) from None
        finally:
            cursor.close()
        if out is not None and self.shell is not None:
            self.shell.user_ns[out] = frame
        return Result(frame, stats, types)


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext loglake``."""
    ipython.register_magics(LoglakeMagics)
