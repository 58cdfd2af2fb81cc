"""Scale-out: the lake's catalog and Athena SQL on Apache Spark.

``tables`` registers every catalog table and view in a SparkSession (Delta tables by the files of
their current snapshot, so no Delta jars are needed); ``translate`` turns Athena SQL into Spark SQL
and refuses what Spark cannot answer the way Trino does; ``session`` builds a local session that
talks only to loopback. Nothing here is imported unless Spark is asked for: pyspark is an optional
dependency (``pip install 'loglake[spark]'``).
"""

from __future__ import annotations

from loglake.scaleout.naming import spark_name
from loglake.scaleout.session import spark_session
from loglake.scaleout.tables import register
from loglake.scaleout.translate import to_spark_sql

__all__ = ["register", "spark_name", "spark_session", "to_spark_sql"]
