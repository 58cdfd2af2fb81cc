"""The statement table: each statement's kind comes from its sqlglot tree and picks one handler."""

from __future__ import annotations

import polars as pl
import pytest
import sqlglot

import loglake
from loglake.errors import SqlError
from loglake.query.ddl import CATALOG_STATEMENTS
from loglake.query.engine import STATEMENTS
from loglake.query.statement_kind import statement_kind

KINDS = [
    ("SELECT 1", "SELECT"),
    ("WITH a AS (SELECT 1 AS x) SELECT x FROM a", "SELECT"),
    ("VALUES 1, 2", "SELECT"),
    ("SELECT 1 UNION ALL SELECT 2", "SELECT"),
    ("EXPLAIN SELECT 1", "EXPLAIN"),
    ("explain analyze select 1", "EXPLAIN"),
    ("UNLOAD (SELECT 1) TO 's3://bucket/out/' WITH (format = 'PARQUET')", "UNLOAD"),
    ("CREATE TABLE t AS SELECT 1 AS a", "CREATE TABLE AS"),
    ("CREATE EXTERNAL TABLE t (a INT) LOCATION 's3://b/t/'", "CREATE TABLE"),
    ("CREATE OR REPLACE VIEW v AS SELECT 1 AS a", "CREATE VIEW"),
    ("CREATE SCHEMA s", "CREATE DATABASE"),
    ("CREATE DATABASE IF NOT EXISTS s", "CREATE DATABASE"),
    ("DROP TABLE IF EXISTS t", "DROP TABLE"),
    ("DROP VIEW v", "DROP VIEW"),
    ("DROP SCHEMA s CASCADE", "DROP DATABASE"),
    ("INSERT INTO t SELECT 1", "INSERT"),
    ("DESCRIBE t", "DESCRIBE"),
    ("DESCRIBE FORMATTED t", "DESCRIBE"),
    ("SHOW TABLES IN aws", "SHOW"),
    ("SHOW CREATE TABLE t", "SHOW"),
    ("MSCK REPAIR TABLE t", "MSCK REPAIR"),
    ("ALTER TABLE t ADD PARTITION (dt = '2024-01-01')", "ALTER TABLE"),
    (
        "ALTER TABLE t ADD PARTITION (dt = '1') LOCATION 's3://b/1/' PARTITION (dt = '2')",
        "ALTER TABLE",
    ),
    ("ALTER TABLE t DROP PARTITION (dt = '2024-01-01')", "ALTER TABLE"),
]


@pytest.mark.parametrize(("sql", "kind"), KINDS)
def test_every_statement_has_one_kind_and_one_handler(sql, kind):
    assert statement_kind(sqlglot.parse_one(sql, read="athena")) == kind
    assert kind in STATEMENTS


def test_the_table_holds_every_catalog_statement():
    assert set(CATALOG_STATEMENTS) <= set(STATEMENTS)


def test_in_memory_engine_runs_queries_and_names_what_needs_a_lake():
    engine = loglake.Engine(tables={"t": pl.DataFrame({"a": [1, 2, 3]})})
    result = engine.execute("SELECT sum(a) AS s FROM t")
    assert result.df is not None and result.df.to_dicts() == [{"s": 6}]
    assert result.stats.statement == "SELECT"
    with pytest.raises(SqlError, match="SHOW needs a lake catalog"):
        engine.execute("SHOW TABLES")
    with pytest.raises(SqlError, match="unsupported statement: DELETE"):
        engine.execute("DELETE FROM t")


def test_lake_sql_is_typed_by_laziness(tmp_path):
    lake = loglake.connect(str(tmp_path / "lake"), create=True)
    eager = lake.sql("SELECT 1 AS a")
    assert isinstance(eager, pl.DataFrame) and eager.to_dicts() == [{"a": 1}]
    lazy = lake.sql("SELECT 1 AS a", lazy=True)
    assert isinstance(lazy, pl.LazyFrame) and lazy.collect().to_dicts() == [{"a": 1}]
    # a statement without a plan answers with its summary rows, lazily too
    shown = lake.sql("SHOW DATABASES", lazy=True)
    assert isinstance(shown, pl.LazyFrame)
    assert "default" in shown.collect()["database_name"].to_list()
    assert lake.last_query is not None and lake.last_query.statement == "SHOW"
