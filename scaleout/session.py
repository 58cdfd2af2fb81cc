"""A Spark session for lake queries: ``local[N]`` on this machine, or a cluster's master.

Settings that make Spark answer as loglake does: UTC session time (loglake's timestamps are UTC),
ANSI mode (errors where Trino raises them instead of silent NULLs), partition values read as
text and cast to the catalog's types, and a driver bound to loopback with no web UI, so a test
or a laptop session opens no port beyond 127.0.0.1.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from loglake.errors import UserError

#: Spark settings every loglake session starts with
SETTINGS: dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.ansi.enabled": "true",
    "spark.sql.sources.partitionColumnTypeInference.enabled": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.driver.host": "127.0.0.1",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "8",
}


def pyspark_module() -> Any:
    """pyspark, or an error saying how to install it (it is an optional dependency)."""
    try:
        import pyspark
    except ImportError:
        raise UserError(
            "Spark support needs pyspark and Java 17: pip install 'loglake[spark]' "
            "(and a Java 17 runtime, e.g. apt-get install openjdk-17-jre-headless)"
        ) from None
    return pyspark


def spark_session(master: str = "local[2]", app_name: str = "loglake", **settings: str) -> Any:
    """A SparkSession on ``master`` (two local cores by default) with :data:`SETTINGS` and
    ``settings`` on top; an existing session of this process is reused, as Spark does."""
    pyspark_module()
    from pyspark.sql import SparkSession

    local: dict[str, str] = {}
    if master.startswith("local"):
        # Python workers on this machine run this interpreter, where loglake is installed
        # (pyspark reads only the environment for this, not the session's settings), and do
        # not put their working folder first on the import path, where a checkout of loglake
        # would hide the installed package
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        local["spark.executorEnv.PYTHONSAFEPATH"] = "1"
    builder = SparkSession.builder.master(master).appName(app_name)
    for key, value in {**SETTINGS, **local, **settings}.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()
