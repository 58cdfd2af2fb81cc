"""Spark commands: ``spark-shell`` (a Python shell with the lake's tables in a SparkSession) and
the Spark side of ``query --engine spark``."""

from __future__ import annotations

import argparse
import code
import sys
import time
from typing import Any

from loglake.render import emit


def spark_query(args: argparse.Namespace, lake: Any, sql: str, params: list[Any] | None) -> int:
    """Run ``sql`` on Spark and print it as ``query`` prints loglake's answers."""
    from loglake.scaleout.session import spark_session  # on use: it loads the catalog and sqlglot

    started = time.perf_counter()
    lake.spark_runner(spark_session(args.spark_master))
    frame = lake.sql(sql, params, engine="spark")
    fmt = emit(frame, args)
    if not args.quiet:
        on_screen = fmt == "table" and not args.output
        line = f"{frame.height:,} rows on Spark ({args.spark_master}) in {time.perf_counter() - started:.2f} s"
        print(line, file=sys.stdout if on_screen else sys.stderr)
    return 0


def _shell(args: argparse.Namespace, lake: Any) -> int:
    from loglake.scaleout.session import spark_session

    spark = lake.spark(spark_session(args.master))
    registration = lake.spark_runner().registration
    banner = (
        f"loglake {lake.settings.root} on Spark {spark.version} ({args.master})\n"
        f"{registration}\n"
        "spark: the SparkSession (spark.sql('SELECT ... FROM cloudtrail')); lake: the loglake Lake "
        "(lake.sql(..., engine='spark') runs Athena SQL on Spark)"
    )
    code.interact(banner=banner, local={"spark": spark, "lake": lake}, exitmsg="")
    spark.stop()
    return 0


def add_engine_options(parser: argparse.ArgumentParser, help_text: str) -> None:
    """``--engine loglake|spark`` and ``--spark-master``, as ``query`` and ``ingest`` take them."""
    parser.add_argument("--engine", choices=("loglake", "spark"), default="loglake", help=help_text)
    parser.add_argument(
        "--spark-master", default="local[2]", help="Spark master for --engine spark (local[2])"
    )


def register(sub: argparse._SubParsersAction) -> None:
    shell = sub.add_parser(
        "spark-shell", help="a Python shell with every table and view in a SparkSession"
    )
    shell.add_argument("--master", default="local[2]", help="Spark master (default local[2])")
    shell.set_defaults(handler=_shell)
