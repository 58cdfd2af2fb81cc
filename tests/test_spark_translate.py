"""Athena SQL to Spark SQL, side by side: what each Trino meaning becomes, and what is refused.

These run without Spark (the translation is pure sqlglot over the lake's catalog); the answers
Spark gives are compared with loglake's in tests/test_spark.py.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

import loglake
from loglake.errors import SqlError
from loglake.scaleout.translate import to_spark_sql


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> loglake.Lake:
    root: Path = tmp_path_factory.mktemp("spark-translate")
    data = root / "data" / "events"
    data.mkdir(parents=True)
    pl.DataFrame(
        {
            "n": [7, -7],
            "d": [dt.date(2024, 1, 31), dt.date(2024, 2, 29)],
            "payload": ['{"a": {"b": 1}, "s": "x"}', "{}"],
            "url": ["https://example.com:8443/p?q=1#f", "bad"],
            "tags": [["a", None], []],
        }
    ).write_parquet(data / "part-0.parquet")
    lake = loglake.connect(str(root / "lake"), create=True)
    lake.catalog.update_lake_settings(allowed_locations=[str(root / "data")])
    lake.sql(
        "CREATE EXTERNAL TABLE events (n bigint, d date, payload string, url string, "
        f"tags array<string>) STORED AS PARQUET LOCATION '{data}'"
    )
    return lake


CASES = [
    # integer division truncates in Trino; a double operand keeps the double division
    ("SELECT n / 2 AS q FROM events", "SELECT events.n DIV 2 AS q FROM default__events AS events"),
    (
        "SELECT n / 2.0 AS q FROM events",
        "SELECT events.n / 2.0 AS q FROM default__events AS events",
    ),
    # date_add keeps a DATE a DATE for calendar units; a timestamp moves by timestampadd
    (
        "SELECT date_add('month', 1, d) AS m FROM events",
        "SELECT ADD_MONTHS(events.d, 1) AS m FROM default__events AS events",
    ),
    (
        "SELECT date_add('week', 2, d) AS w FROM events",
        "SELECT DATE_ADD(events.d, 2 * 7) AS w FROM default__events AS events",
    ),
    (
        "SELECT date_add('hour', 3, CAST(d AS timestamp)) AS h FROM events",
        "SELECT TIMESTAMPADD(HOUR, 3, CAST(events.d AS TIMESTAMP)) AS h "
        "FROM default__events AS events",
    ),
    # to_unixtime keeps the fraction of a second
    (
        "SELECT to_unixtime(CAST(d AS timestamp)) AS u FROM events",
        "SELECT UNIX_MICROS(CAST(events.d AS TIMESTAMP)) / 1000000.0 AS u "
        "FROM default__events AS events",
    ),
    # a JSON member that is an object or array is NULL in Trino's json_extract_scalar
    (
        "SELECT json_extract_scalar(payload, '$.s') AS s FROM events",
        "SELECT CASE WHEN JSON_OBJECT_KEYS(GET_JSON_OBJECT(events.payload, '$.s')) IS NULL "
        "AND JSON_ARRAY_LENGTH(GET_JSON_OBJECT(events.payload, '$.s')) IS NULL "
        "THEN GET_JSON_OBJECT(events.payload, '$.s') END AS s FROM default__events AS events",
    ),
    # json_extract keeps the member's JSON text
    (
        "SELECT json_extract(payload, '$.a') AS j FROM events",
        "SELECT TO_JSON(VARIANT_GET(TRY_PARSE_JSON(events.payload), '$.a')) AS j "
        "FROM default__events AS events",
    ),
    # Trino's DECIMAL literal keeps its digits; a bare DECIMAL is decimal(38, 0)
    (
        "SELECT DECIMAL '0.06' - DECIMAL '-12.345' AS x, CAST(n AS DECIMAL) AS y FROM events",
        "SELECT CAST('0.06' AS DECIMAL(2, 2)) - CAST('-12.345' AS DECIMAL(5, 3)) AS x, "
        "CAST(events.n AS DECIMAL(38, 0)) AS y FROM default__events AS events",
    ),
    # URL parts: NULL for a URL that does not parse, as in Trino
    (
        "SELECT url_extract_host(url) AS h, url_extract_parameter(url, 'q') AS q FROM events",
        "SELECT TRY_PARSE_URL(events.url, 'HOST') AS h, "
        "TRY_PARSE_URL(events.url, 'QUERY', 'q') AS q FROM default__events AS events",
    ),
    (
        "SELECT none_match(tags, t -> t = 'a') AS x FROM events",
        "SELECT NOT EXISTS(events.tags, t -> t = 'a') AS x FROM default__events AS events",
    ),
    # array_agg keeps NULL elements (collect_list alone drops them)
    (
        "SELECT array_agg(payload) AS a FROM events",
        "SELECT TRANSFORM(COLLECT_LIST(NAMED_STRUCT('v', events.payload)), e -> e.v) AS a "
        "FROM default__events AS events",
    ),
    # the unnamed column gets Trino's name, the qualified table its Spark view
    (
        "SELECT count(*) FROM default.events",
        "SELECT COUNT(*) AS _col0 FROM default__events AS events",
    ),
]


@pytest.mark.parametrize(("athena", "spark"), CASES, ids=[c[0][:60] for c in CASES])
def test_translation(lake: loglake.Lake, athena: str, spark: str) -> None:
    assert to_spark_sql(lake.engine, athena) == spark


REFUSED = [
    ("SELECT json_format(json_parse(payload)) FROM events", "json_format", "json_format("),
    ("SELECT CAST(url AS IPADDRESS) FROM events", "IPADDRESS", "IPADDRESS"),
    ("SELECT url_extract_port(url) FROM events", "url_extract_port", "url_extract_port("),
    (
        "SELECT x, i FROM events CROSS JOIN UNNEST(tags) WITH ORDINALITY AS t(x, i)",
        "ORDINALITY",
        "UNNEST",
    ),
    ("SELECT array_agg(n ORDER BY d) FROM events", "ORDER BY", "array_agg("),
    ("SELECT word_stem(url) FROM events", "word_stem", "word_stem("),
    ("INSERT INTO events SELECT * FROM events", "only queries", None),
]


@pytest.mark.parametrize(("sql", "named", "at"), REFUSED, ids=[r[1] for r in REFUSED])
def test_refusal_names_what_and_where(
    lake: loglake.Lake, sql: str, named: str, at: str | None
) -> None:
    spark_functions = {"levenshtein"}  # a stand-in for the session's function catalog
    with pytest.raises(SqlError) as caught:
        to_spark_sql(lake.engine, sql, function_exists=lambda name: name.lower() in spark_functions)
    message = str(caught.value)
    assert named in message
    assert "Spark" in message
    if at is not None:
        assert caught.value.start is not None
        assert sql[caught.value.start :].lower().startswith(at.lower())
