"""Query commands: ``query`` (run SQL, print or save the result), ``insights``, ``explain``, ``history``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import polars as pl

from loglake.cli_spark import add_engine_options
from loglake.errors import UserError
from loglake.render import add_output_options, emit


def _read_sql(args: argparse.Namespace) -> str:
    if args.file:
        return Path(args.file).read_text()
    if args.sql == "-" or args.sql is None:
        text = sys.stdin.read()
        if not text.strip():
            raise UserError("no SQL given: pass it as an argument, with --file, or on stdin")
        return text
    return args.sql


def _params(values: list[str] | None) -> list[Any] | None:
    """``--param`` values: integers and decimals as numbers, everything else as text."""
    if values is None:
        return None
    out: list[Any] = []
    for value in values:
        try:
            out.append(int(value))
        except ValueError:
            try:
                out.append(float(value))
            except ValueError:
                out.append(value)
    return out


def _query(args: argparse.Namespace, lake: Any) -> int:
    sql = _read_sql(args)
    if args.engine == "spark":
        from loglake.cli_spark import spark_query

        return spark_query(args, lake, sql, _params(args.param))
    frame = lake.sql(sql, _params(args.param))
    fmt = emit(frame, args)
    if not args.quiet and lake.last_query is not None:
        # the statistics line goes with a table on the screen, else aside from the data
        on_screen = fmt == "table" and not args.output
        print(lake.last_query.summary(), file=sys.stdout if on_screen else sys.stderr)
    return 0


def _explain(args: argparse.Namespace, lake: Any) -> int:
    print(lake.explain(_read_sql(args), _params(args.param)))
    return 0


def _insights(args: argparse.Namespace, lake: Any) -> int:
    text = args.query
    if args.file:
        text = Path(args.file).read_text()
    elif text in (None, "-"):
        text = sys.stdin.read()
    options = {
        "log_group": args.log_group,
        "table": args.table,
        "start": getattr(args, "from"),
        "end": args.to,
    }
    if args.show_sql:
        print(lake.insights(text, show_sql=True, **options))
        return 0
    emit(lake.insights(text, **options), args)
    return 0


def _history(args: argparse.Namespace, lake: Any) -> int:
    from loglake.query.history import read_history

    records = read_history(lake.settings, last=args.limit)
    columns = ["query_id", "submitted_at", "status", "rows", "bytes_scanned", "elapsed_s", "query"]
    frame = pl.DataFrame(
        [{c: r.get(c) for c in columns} for r in records],
        schema={
            "query_id": pl.String,
            "submitted_at": pl.String,
            "status": pl.String,
            "rows": pl.Int64,
            "bytes_scanned": pl.Int64,
            "elapsed_s": pl.Float64,
            "query": pl.String,
        },
    ).with_columns(pl.col("query").str.replace_all(r"\s+", " "))
    emit(frame, args)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    query = sub.add_parser("query", help="run one Athena SQL statement")
    query.add_argument("sql", nargs="?", help="the statement ('-' or omitted: read stdin)")
    query.add_argument("--file", "-f", help="read the statement from a file")
    add_output_options(query)
    query.add_argument(
        "--param", "-p", action="append", help="value for the next ? placeholder (repeatable)"
    )
    query.add_argument(
        "--quiet", "-q", action="store_true", help="do not print the statistics line"
    )
    add_engine_options(query, "answer on loglake (default) or on Spark (docs/scale-out.md)")
    query.set_defaults(handler=_query)

    insights = sub.add_parser(
        "insights", help="run a CloudWatch Logs Insights query (fields | filter | stats ...)"
    )
    insights.add_argument("query", nargs="?", help="the query ('-' or omitted: read stdin)")
    insights.add_argument("--file", "-f", help="read the query from a file")
    insights.add_argument(
        "--log-group", action="append", help="log group of cloudwatch_logs (repeatable)"
    )
    insights.add_argument(
        "--table",
        default="cloudwatch_logs",
        help="table to query: cloudwatch_logs (default), cloudtrail, vpc_flow_logs, db.table",
    )
    insights.add_argument("--from", help="start of the time range (ISO 8601, inclusive)")
    insights.add_argument("--to", help="end of the time range (ISO 8601, exclusive)")
    add_output_options(insights)
    insights.add_argument("--show-sql", action="store_true", help="print the SQL it runs")
    insights.set_defaults(handler=_insights)

    explain = sub.add_parser("explain", help="show a query's plan and the files it reads")
    explain.add_argument("sql", nargs="?", help="the query ('-' or omitted: read stdin)")
    explain.add_argument("--file", "-f", help="read the query from a file")
    explain.add_argument(
        "--param", "-p", action="append", help="value for the next ? placeholder (repeatable)"
    )
    explain.set_defaults(handler=_explain)

    history = sub.add_parser("history", help="recent statements from the lake's query history")
    history.add_argument("--limit", type=int, default=20, help="how many (default 20)")
    add_output_options(history)
    history.set_defaults(handler=_history)
