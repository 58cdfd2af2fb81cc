"""JSON, regular-expression, date-parsing and IP functions over a catalog table of 32 Parquet
files, each query run 20 times in a row.

On a table of many files Polars evaluates several batches at once; a translation that waited on
Polars from inside one of its callbacks could leave every pool thread waiting, and the query
would hang (it did, for json_extract_scalar and from_iso8601_timestamp in WHERE clauses). Each
answer is also compared with the same query over the same rows held in one in-memory frame.
"""

from __future__ import annotations

import datetime as dt
import json
import random

import polars as pl
import pytest

import loglake
from loglake.errors import SqlError
from loglake.query.engine import Engine

FILES = 32
ROWS_PER_FILE = 40
RUNS = 20


def _events() -> pl.DataFrame:
    rng = random.Random(12)
    names = ["GetObject", "PutObject", "AssumeRole", "ConsoleLogin", "RunInstances"]
    rows = []
    for i in range(FILES * ROWS_PER_FILE):
        name = rng.choice(names)
        params: dict | None
        if name in ("GetObject", "PutObject"):
            params = {"bucketName": f"bucket-{i % 7}", "key": f"logs/{i}.gz", "size": i}
        elif name == "AssumeRole":
            params = {
                "roleArn": f"arn:aws:iam::1111:role/r{i % 5}",
                "policy": '{"Version":"2012-10-17"}',
                "tags": [{"key": "team", "value": f"t{i % 3}"}],
            }
        elif name == "RunInstances":
            params = {"instancesSet": {"items": [{"imageId": f"ami-{i % 4}"}] * (1 + i % 3)}}
        else:
            params = None
        zone = rng.choice(["Z", "+02:00", "-05:30"])
        rows.append(
            {
                "id": i,
                "eventname": name,
                "eventtime": f"2024-03-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:07{zone}",
                "requestparameters": None if params is None else json.dumps(params),
                "useragent": rng.choice(["aws-cli/2.15.1 Python/3.11", "Boto3/1.34.1", None]),
                "sourceip": rng.choice(
                    [f"10.{i % 256}.0.{i % 200}", f"52.{i % 256}.1.9", "2600:1f18::10", "::1"]
                ),
                "day": f"2024/03/{1 + i % 28:02d}",
            }
        )
    return pl.DataFrame(rows)


EVENTS = _events()

QUERIES = [
    # the shapes that hung: JSON members and ISO times in WHERE, and NOT EXISTS with two of them
    "SELECT count(*) FROM events "
    "WHERE json_extract_scalar(requestparameters, '$.bucketName') IS NOT NULL",
    "SELECT id FROM events e WHERE json_extract_scalar(requestparameters, '$.roleArn') IS NOT NULL "
    "AND NOT EXISTS (SELECT 1 FROM events o WHERE json_extract_scalar(o.requestparameters, "
    "'$.bucketName') = json_extract_scalar(e.requestparameters, '$.roleArn'))",
    "SELECT count(*) FROM events WHERE from_iso8601_timestamp(eventtime) > "
    "TIMESTAMP '2024-03-10 00:00:00'",
    "SELECT date_trunc('day', from_iso8601_timestamp(eventtime)) AS d, count(*) FROM events "
    "GROUP BY 1",
    # every JSON function
    "SELECT id, json_extract(requestparameters, '$.key'), "
    "json_extract_scalar(requestparameters, '$.size'), "
    "json_size(requestparameters, '$.instancesSet.items'), "
    "json_array_length(json_extract(requestparameters, '$.instancesSet.items')), "
    "json_array_get(json_extract(requestparameters, '$.tags'), 0), "
    "json_array_contains(json_extract(requestparameters, '$.tags[0].value'), 't1'), "
    "is_json_scalar(json_extract(requestparameters, '$.policy')), "
    "json_format(json_parse(requestparameters)), "
    "CAST(json_extract(requestparameters, '$.size') AS BIGINT) FROM events",
    # SQL/JSON functions, and JSON arrays cast to ARRAY(JSON)
    "SELECT id, json_value(requestparameters, 'lax $.bucketName'), "
    "json_query(requestparameters, 'lax $.tags'), json_exists(requestparameters, 'lax $.roleArn'), "
    "CAST(json_extract(requestparameters, '$.tags') AS ARRAY(JSON)) FROM events",
    # regular expressions
    "SELECT id, regexp_extract(useragent, '([a-z-]+)/([0-9.]+)', 2), "
    "regexp_replace(useragent, '[0-9]', '#'), regexp_count(useragent, '[0-9]+'), "
    "regexp_split(useragent, '/'), regexp_extract_all(useragent, '[0-9]+') FROM events "
    "WHERE regexp_like(useragent, '^(aws-cli|Boto3)/')",
    # date parsing
    "SELECT id, from_iso8601_date(substr(eventtime, 1, 10)), "
    "date_parse(day, '%Y/%m/%d'), parse_datetime(substr(eventtime, 1, 19), "
    "'yyyy-MM-dd''T''HH:mm:ss'), date(substr(eventtime, 1, 10)) FROM events "
    "WHERE date_parse(day, '%Y/%m/%d') >= TIMESTAMP '2024-03-05 00:00:00'",
    "SELECT id, from_iso8601_timestamp_nanos(eventtime), "
    "to_date(substr(eventtime, 1, 10), 'yyyy-mm-dd'), "
    "to_timestamp(replace(substr(eventtime, 1, 19), 'T', ' '), 'yyyy-mm-dd hh24:mi:ss'), "
    "parse_duration(concat(CAST(id % 60 AS VARCHAR), 's')) FROM events",
    # the functions that run a Python callback on each batch (which must not call Polars)
    "SELECT id, crc32(to_utf8(eventname)), from_utf8(to_utf8(useragent)), "
    "to_ieee754_32(CAST(id AS REAL)), word_stem(eventname), beta_cdf(2, 3, (id % 10) / 10.0) "
    "FROM events",
    "SELECT eventname, numeric_histogram(4, id) FROM events GROUP BY 1",
    # IP addresses
    "SELECT id, contains('10.0.0.0/8', sourceip), is_subnet_of(IPPREFIX '52.0.0.0/8', sourceip), "
    "CAST(sourceip AS IPADDRESS) FROM events WHERE NOT contains('2600:1f18::/32', sourceip)",
]


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> loglake.Lake:
    root = tmp_path_factory.mktemp("many-files")
    folder = root / "raw" / "events"
    folder.mkdir(parents=True)
    for part in range(FILES):
        rows = EVENTS.slice(part * ROWS_PER_FILE, ROWS_PER_FILE)
        rows.write_parquet(folder / f"part-{part:02d}.parquet")
    lake = loglake.connect(str(root / "lake"), create=True)
    lake.catalog.update_lake_settings(allowed_locations=[str(root / "raw")])
    lake.sql(
        "CREATE EXTERNAL TABLE events (id bigint, eventname string, eventtime string, "
        "requestparameters string, useragent string, sourceip string, day string) "
        f"STORED AS PARQUET LOCATION '{folder}'"
    )
    return lake


def _rows(frame: pl.DataFrame) -> list[tuple]:
    return sorted(frame.rows(), key=repr)


# 20 rounds take about 40 s on a busy 2-core machine; a hang fails here instead of stalling
@pytest.mark.timeout(300)
def test_functions_over_many_files_answer_every_time(lake: loglake.Lake) -> None:
    in_memory = Engine(tables={"events": EVENTS})
    expected = [_rows(in_memory.execute(sql).df) for sql in QUERIES]
    assert lake.sql(QUERIES[0]).item() == sum(
        1 for p in EVENTS["requestparameters"] if p and "bucketName" in json.loads(p)
    )
    # a Python datetime passed as a ? value (it hung too)
    since = dt.datetime(2024, 3, 10, tzinfo=dt.UTC)
    by_param = "SELECT count(*) FROM events WHERE from_iso8601_timestamp(eventtime) > ?"
    param_answer = in_memory.execute(by_param, [since]).df.item()
    assert 0 < param_answer < len(EVENTS)
    for _ in range(RUNS):
        for sql, answer in zip(QUERIES, expected, strict=True):
            result = lake.sql(sql)
            assert lake.last_query.files_scanned >= FILES
            assert _rows(result) == answer, sql
        assert lake.sql(by_param, [since]).item() == param_answer


def test_address_order_is_numeric_across_files(lake: loglake.Lake) -> None:
    ordered = lake.sql("SELECT DISTINCT CAST(sourceip AS IPADDRESS) AS ip FROM events ORDER BY ip")[
        "ip"
    ].to_list()
    assert ordered[0] == "::1" and ordered[-1] == "2600:1f18::10"
    v4 = [tuple(int(o) for o in ip.split(".")) for ip in ordered if "." in ip]
    assert v4 == sorted(v4) and len(v4) > 100


def test_a_bad_value_in_one_file_fails_the_query_and_names_it(tmp_path) -> None:
    folder = tmp_path / "times"
    folder.mkdir()
    good = [f"2024-03-01T00:00:{s:02d}Z" for s in range(30)]
    for part in range(FILES):
        values = good if part != 17 else [*good[:5], "2024-03-01 at noon", *good[5:]]
        pl.DataFrame({"eventtime": values}).write_parquet(folder / f"part-{part:02d}.parquet")
    lake = loglake.connect(str(tmp_path / "lake"), create=True)
    lake.catalog.update_lake_settings(allowed_locations=[str(folder)])
    lake.sql(f"CREATE EXTERNAL TABLE t (eventtime string) STORED AS PARQUET LOCATION '{folder}'")
    with pytest.raises(SqlError) as error:
        lake.sql("SELECT max(from_iso8601_timestamp(eventtime)) FROM t")
    assert error.value.bare_message == (
        "Invalid format for from_iso8601_timestamp: '2024-03-01 at noon'"
    )
    assert error.value.sql is not None and error.value.start is not None
    assert error.value.sql[error.value.start :].startswith("from_iso8601_timestamp(")
    lenient = lake.sql("SELECT count(try(from_iso8601_timestamp(eventtime))) FROM t").item()
    assert lenient == 30 * FILES
    latest = lake.sql(
        "SELECT max(from_iso8601_timestamp(eventtime)) FROM t WHERE eventtime LIKE '%Z'"
    )
    assert latest.item() == dt.datetime(2024, 3, 1, 0, 0, 29, tzinfo=dt.UTC)
