"""One way to show or save a result, for every command: a text table, CSV, JSON lines or Parquet.

Nested values follow Athena. In a text table and in CSV (as in Athena's CSV results) an array
reads ``[a, b]``, a map ``{key=value, ...}`` and a struct ``{field=value, ...}``, with ``null``
inside; JSON lines keep them nested (a map becomes an object); Parquet keeps them typed (a map
stays a map). Every conversion is a Polars expression over whole columns, never a loop per row.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import IO

import polars as pl
from polars.datatypes import DataTypeClass

from loglake.errors import UserError

FORMATS = ("table", "csv", "json", "parquet")
#: output file extensions and the format they mean
EXTENSIONS = {
    ".csv": "csv",
    ".json": "json",
    ".jsonl": "json",
    ".ndjson": "json",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".txt": "table",
    ".md": "table",
}
#: rows a text table shows on a screen; the rest are counted in a line below it
SCREEN_ROWS = 200
#: characters of a cell a text table shows unless --wide
CELL_WIDTH = 80
#: Athena's text form of timestamps in results
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S%.3f"


def add_output_options(
    parser: argparse.ArgumentParser, *, default: str = "table", output: bool = True
) -> None:
    """``--format``, ``--wide`` and (if the command can save) ``--output/-o``."""
    parser.add_argument(
        "--format",
        choices=FORMATS if output else ("table", "csv", "json"),
        default=None,
        help=f"output format (default: {default}; with -o, taken from the file's extension)",
    )
    parser.add_argument(
        "--wide", action="store_true", help="show every row and whole cells in a text table"
    )
    if output:
        parser.add_argument("--output", "-o", help="write the result to this file")
    parser.set_defaults(default_format=default)


def output_format(fmt: str | None, output: str | None, default: str = "table") -> str:
    """The format asked for, else the one the output file's extension names, else ``default``."""
    if fmt is not None:
        return fmt
    if output:
        suffix = Path(output).suffix.lower()
        if suffix not in EXTENSIONS:
            known = ", ".join(sorted(EXTENSIONS))
            raise UserError(
                f"cannot tell the format of {output} from its extension (known: {known}); "
                "add --format table|csv|json|parquet"
            )
        return EXTENSIONS[suffix]
    return default


def emit(frame: pl.DataFrame, args: argparse.Namespace, *, total_rows: int | None = None) -> str:
    """Show or save ``frame`` as the command's ``--format``, ``--wide`` and ``-o`` ask; returns
    the format used."""
    output = getattr(args, "output", None)
    fmt = output_format(
        getattr(args, "format", None), output, getattr(args, "default_format", "table")
    )
    write(frame, fmt, output, wide=getattr(args, "wide", False), total_rows=total_rows)
    return fmt


def write(
    frame: pl.DataFrame,
    fmt: str = "table",
    output: str | None = None,
    *,
    wide: bool = False,
    total_rows: int | None = None,
    stream: IO[str] | None = None,
) -> None:
    """Write ``frame`` as ``fmt`` to the file ``output`` or to ``stream`` (standard output)."""
    stream = stream if stream is not None else sys.stdout
    if fmt == "table":
        text = table_text(frame, wide=wide or output is not None, total_rows=total_rows)
        _deliver(text + "\n", output, stream)
    elif fmt == "csv":
        _deliver(csv_text(frame), output, stream)
    elif fmt == "json":
        _deliver(json_lines(frame), output, stream)
    elif fmt == "parquet":
        if not output:
            raise UserError("--format parquet writes a file: add -o FILE.parquet")
        write_parquet(frame, output)
    else:
        raise UserError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")


def _deliver(text: str, output: str | None, stream: IO[str]) -> None:
    if output:
        Path(output).write_text(text)
    else:
        stream.write(text)
        stream.flush()


# ---------------------------------------------------------------------------------- text forms


def text_expr(expr: pl.Expr, dtype: pl.DataType | DataTypeClass) -> pl.Expr:
    """A column's values as Athena writes them in results (nested ones JSON-like)."""
    if dtype == pl.String:
        return expr
    if dtype == pl.Null:
        return expr.cast(pl.String)
    if isinstance(dtype, pl.Datetime):
        # a zoned timestamp ends with its zone, as Trino prints TIMESTAMP WITH TIME ZONE
        return expr.dt.to_string(TIMESTAMP_FORMAT + (" %Z" if dtype.time_zone else ""))
    if dtype == pl.Binary:
        return expr.bin.encode("hex")
    if isinstance(dtype, pl.Map):
        entries = expr.cast(pl.List(pl.Struct({"key": dtype.key, "value": dtype.value})))
        pair = pl.concat_str(
            [
                _nested(pl.element().struct.field("key"), dtype.key),
                pl.lit("="),
                _nested(pl.element().struct.field("value"), dtype.value),
            ]
        )
        return _wrap(expr, entries.list.eval(pair).list.join(", "), "{", "}")
    if isinstance(dtype, pl.List):
        items = expr.list.eval(_nested(pl.element(), dtype.inner)).list.join(", ")
        return _wrap(expr, items, "[", "]")
    if isinstance(dtype, pl.Array):
        items = expr.arr.to_list().list.eval(_nested(pl.element(), dtype.inner)).list.join(", ")
        return _wrap(expr, items, "[", "]")
    if isinstance(dtype, pl.Struct):
        if not dtype.fields:
            return _wrap(expr, pl.lit(""), "{", "}")
        members = [
            pl.concat_str([pl.lit(f"{f.name}="), _nested(expr.struct.field(f.name), f.dtype)])
            for f in dtype.fields
        ]
        return _wrap(expr, pl.concat_str(members, separator=", "), "{", "}")
    return expr.cast(pl.String)


def _nested(expr: pl.Expr, dtype: pl.DataType | DataTypeClass) -> pl.Expr:
    """A value inside an array, map or struct: a missing one reads ``null``."""
    return text_expr(expr, dtype).fill_null("null")


def _wrap(whole: pl.Expr, inside: pl.Expr, left: str, right: str) -> pl.Expr:
    return (
        pl.when(whole.is_null())
        .then(pl.lit(None, pl.String))
        .otherwise(pl.concat_str([pl.lit(left), inside, pl.lit(right)]))
    )


def as_text(frame: pl.DataFrame) -> pl.DataFrame:
    """Every nested, temporal or binary column as its Athena text form (others unchanged)."""
    changes = [
        text_expr(pl.col(name), dtype).alias(name)
        for name, dtype in frame.schema.items()
        if dtype.is_nested() or dtype.is_temporal() or dtype == pl.Binary
    ]
    return frame.with_columns(changes) if changes else frame


def csv_text(frame: pl.DataFrame) -> str:
    return as_text(frame).write_csv()


def cell_texts(frame: pl.DataFrame) -> pl.DataFrame:
    """Every column as text the way results show it (a missing value stays null): the cells of
    the text table here and of the notebook's HTML table."""
    return frame.select(
        text_expr(pl.col(c), t).cast(pl.String).alias(c) for c, t in frame.schema.items()
    )


def table_text(
    frame: pl.DataFrame,
    *,
    wide: bool = False,
    total_rows: int | None = None,
    max_rows: int = SCREEN_ROWS,
    footer: bool = True,
) -> str:
    """An aligned text table; on a screen (not ``wide``) the first ``max_rows`` rows, cells cut at
    :data:`CELL_WIDTH` characters, and (with ``footer``) a line saying how many rows there are."""
    total = frame.height if total_rows is None else total_rows
    shown = frame if wide else frame.head(max_rows)
    if not shown.columns:
        return f"({total:,} rows, no columns)"
    if total == 0:
        shown = shown.clear()
    cells = cell_texts(shown).select(
        pl.col(c)
        .fill_null("null")
        .str.replace_all("\r", "\\r", literal=True)
        .str.replace_all("\n", "\\n", literal=True)
        .str.replace_all("\t", "\\t", literal=True)
        .alias(c)
        for c in shown.columns
    )
    if not wide:
        cells = cells.with_columns(
            pl.when(pl.col(c).str.len_chars() > CELL_WIDTH)
            .then(pl.col(c).str.slice(0, CELL_WIDTH - 3) + "...")
            .otherwise(pl.col(c))
            for c in cells.columns
        )
    lengths = cells.select(pl.col(c).str.len_chars().max() for c in cells.columns)
    widths = [max(len(c), 1, (lengths[c][0] or 0) if cells.height else 0) for c in cells.columns]
    header = "| " + " | ".join(c.ljust(w) for c, w in zip(cells.columns, widths, strict=True))
    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    lines = [header + " |", rule]
    if cells.height:
        body = cells.select(
            pl.concat_str(
                [
                    pl.lit("| "),
                    pl.concat_str(
                        [
                            pl.col(c).str.pad_end(w)
                            for c, w in zip(cells.columns, widths, strict=True)
                        ],
                        separator=" | ",
                    ),
                    pl.lit(" |"),
                ]
            )
        ).to_series()
        lines.extend(body.to_list())
    if footer and total == 0:
        lines.append("(no rows)")
    elif footer and shown.height < total:
        lines.append(
            f"(showing {shown.height:,} of {total:,} rows; --wide shows them all, "
            "-o FILE saves them)"
        )
    return "\n".join(lines)


# ---------------------------------------------------------------------------------- nested forms


def json_lines(frame: pl.DataFrame) -> str:
    """One JSON object per row; arrays and structs stay nested, a map becomes an object."""
    return frame.with_columns(
        text_expr(pl.col(c), t).alias(c) for c, t in frame.schema.items() if t.is_temporal()
    ).write_ndjson()


def write_parquet(frame: pl.DataFrame, output: str) -> None:
    """Parquet keeps every type: structs, arrays and maps stay what they are."""
    frame.write_parquet(output)
