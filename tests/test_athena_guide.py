"""Athena's own table definitions read raw exports as delivered, and give the rows ingest gives.

The definitions are the guides' (tests/athena_guide.py) with the bucket filled in; they run in
a lake of their own over the generated exports behind ``generated_lake``, and their rows are
compared with the ingested tables of that lake.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson
import polars as pl
import pytest
from athena_guide import (
    CLOUDTRAIL_JSON,
    CLOUDTRAIL_PROJECTED,
    CLOUDTRAIL_SERDE,
    VPC_FLOW,
    VPC_FLOW_PARTITION,
    VPC_FLOW_PROJECTED,
    fill,
)

import loglake


@pytest.fixture(scope="module")
def guide(generated_lake: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    raw = generated_lake.parent / "raw"
    (account,) = [p.name for p in (raw / "AWSLogs").iterdir()]
    trail = raw / "AWSLogs" / account / "CloudTrail"
    (region,) = [p.name for p in trail.iterdir()]
    lake = loglake.connect(str(tmp_path_factory.mktemp("guide") / "lake"), create=True)
    lake.catalog.update_lake_settings(allowed_locations=[str(raw)])  # the raw exports
    names = dict(trail=str(trail), region=region, logs=str(raw), account=account)
    for ddl in (CLOUDTRAIL_SERDE, CLOUDTRAIL_JSON, CLOUDTRAIL_PROJECTED, VPC_FLOW):
        lake.sql(fill(ddl, **names))
    lake.sql(fill(VPC_FLOW_PROJECTED, **names))
    for folder in (raw / "AWSLogs" / account / "vpcflowlogs" / region).glob("*/*/*"):
        slashed = "/".join(folder.parts[-3:])
        lake.sql(fill(VPC_FLOW_PARTITION, day=slashed.replace("/", "-"), slashed=slashed, **names))
    return {"lake": lake, "ingested": loglake.connect(str(generated_lake)), **names}


def _by_event(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.sort("eventid")


@pytest.mark.parametrize("table", ["cloudtrail_logs", "cloudtrail_logs_json"])
def test_cloudtrail_guide_tables_read_every_record_of_the_delivered_files(
    guide: dict, table: str
) -> None:
    columns = (
        "eventid, eventtime, eventname, useridentity.arn AS arn, "
        "useridentity.sessioncontext.sessionissuer.arn AS issuer, "
        "useridentity.sessioncontext.attributes.mfaauthenticated AS mfa, "
        "tlsdetails.tlsversion AS tls, errorcode, readonly, "
        "cardinality(resources) AS resources, "
        "json_extract_scalar(requestparameters, '$.bucketName') AS bucket"
    )
    got = _by_event(guide["lake"].sql(f"SELECT {columns} FROM {table}"))
    want = _by_event(guide["ingested"].sql(f"SELECT {columns} FROM aws.cloudtrail"))
    assert got.height == want.height > 300
    assert got.equals(want)
    assert got["arn"].null_count() < got.height and got["bucket"].null_count() < got.height


def test_cloudtrail_projection_table_reads_the_days_a_query_names(guide: dict) -> None:
    lake, ingested = guide["lake"], guide["ingested"]
    # the partition is the day of the delivery folder, which an event just before midnight
    # shares with the next day's events, as in Athena
    (day,) = ingested.sql("SELECT min(day) AS d FROM aws.cloudtrail")["d"]
    slashed = day.replace("-", "/")
    got = lake.sql(
        "SELECT eventname, count(*) AS n FROM cloudtrail_logs_pp "
        f"WHERE timestamp = '{slashed}' GROUP BY eventname ORDER BY eventname"
    )
    want = ingested.sql(
        "SELECT eventname, count(*) AS n FROM aws.cloudtrail "
        f"WHERE source_key LIKE '%/CloudTrail/%/{slashed}/%' GROUP BY eventname ORDER BY eventname"
    )
    assert got.equals(want) and got["n"].sum() > 0
    everything = ingested.sql("SELECT count(*) AS n FROM aws.cloudtrail")["n"][0]
    since = "SELECT count(*) AS n FROM cloudtrail_logs_pp WHERE timestamp >= '{}'"
    assert lake.sql(since.format("2024/05/01"))["n"][0] == everything
    assert lake.sql(since.format("2099/01/01"))["n"][0] == 0


def test_vpc_flow_guide_table_with_a_date_partition(guide: dict) -> None:
    lake, ingested = guide["lake"], guide["ingested"]
    rejected = lake.sql(
        "SELECT day_of_week(date) AS day, date, interface_id, srcaddr, action, protocol "
        "FROM vpc_flow_logs_guide WHERE action = 'REJECT' AND protocol = 6 LIMIT 100"
    )
    assert rejected.height > 0 and rejected.schema["date"] == pl.Date
    assert set(rejected["action"]) == {"REJECT"}
    got = lake.sql(
        "SELECT count(*) AS n, count(srcport) AS ports, sum(bytes) AS bytes, "
        "count(vpc_id) AS vpcs, count_if(srcaddr = '-') AS dashes FROM vpc_flow_logs_guide "
        "WHERE date >= DATE '2024-05-01'"
    ).row(0, named=True)
    want = ingested.sql(
        "SELECT count(*) AS n, count(srcport) AS ports, sum(bytes) AS bytes, "
        "count_if(srcaddr IS NULL) AS dashes FROM aws.vpc_flow_logs"
    ).row(0, named=True)
    # fields missing at the end of a line are null; "-" stays text in a string column and is
    # null in a number column, as the text SerDe reads it
    assert got == {**want, "vpcs": 0}


def test_vpc_flow_projection_table(guide: dict) -> None:
    lake, ingested = guide["lake"], guide["ingested"]
    account, region = guide["account"], guide["region"]
    got = lake.sql(
        "SELECT day, count(*) AS n FROM test_table_vpclogs "
        f"WHERE accid = '{account}' AND region = '{region}' AND day >= '2024/05/01' "
        "GROUP BY day ORDER BY day"
    )
    want = ingested.sql(
        "SELECT replace(day, '-', '/') AS day, count(*) AS n FROM aws.vpc_flow_logs "
        "GROUP BY 1 ORDER BY 1"
    )
    assert got.equals(want) and got.height > 0


OPENX_TEXT = '{"bucketname":"b","tags":[{"key":"K"}]}'
HIVE_TEXT = '{"bucketName":"b","Tags":[{"Key":"K"}]}'


def test_json_serde_keys_match_without_case_and_through_mapping(tmp_path: Path) -> None:
    folder = tmp_path / "events"
    folder.mkdir()
    lines = [
        {
            "eventTime": "2024-05-06T01:00:00Z",
            "EventName": "GetObject",
            "@timestamp": 1,
            "userIdentity": {"Type": "IAMUser", "userName": "alice"},
            "requestParameters": {"bucketName": "b", "Tags": [{"Key": "K"}]},
        },
        {
            "eventtime": "2024-05-06T02:00:00Z",
            "eventName": "PutObject",
            "@timestamp": 2,
            "useridentity": {"type": "Root"},
            "requestParameters": None,
        },
    ]
    data = b"\n".join(orjson.dumps(line) for line in lines) + b"\n"
    (folder / "part-0.json.gz").write_bytes(gzip.compress(data))
    lake = loglake.connect(str(tmp_path / "lake"), create=True)
    lake.catalog.update_lake_settings(allowed_locations=[str(folder)])
    for serde, extra in [
        ("org.openx.data.jsonserde.JsonSerDe", "WITH SERDEPROPERTIES ('mapping.seq'='@timestamp')"),
        ("org.apache.hive.hcatalog.data.JsonSerDe", ""),
    ]:
        name = "openx" if "openx" in serde else "hive"
        lake.sql(
            f"CREATE EXTERNAL TABLE {name} (eventtime string, eventname string, seq int, "
            "useridentity struct<type:string, username:string>, requestparameters string) "
            f"ROW FORMAT SERDE '{serde}' {extra} LOCATION '{folder}'"
        )
    rows = lake.sql(
        "SELECT eventtime, eventname, seq, useridentity.type AS type, "
        "useridentity.username AS username, requestparameters FROM openx ORDER BY eventtime"
    ).rows()
    assert rows == [
        # the OpenX parser lowers every key before a nested object becomes text
        ("2024-05-06T01:00:00Z", "GetObject", 1, "IAMUser", "alice", OPENX_TEXT),
        ("2024-05-06T02:00:00Z", "PutObject", 2, "Root", None, None),
    ]
    hive = lake.sql("SELECT eventname, seq, requestparameters FROM hive ORDER BY eventtime")
    # no mapping: no "seq" key; the Hive SerDe keeps the keys of the text as they are
    assert hive.rows() == [("GetObject", None, HIVE_TEXT), ("PutObject", None, None)]
    found = "json_extract_scalar(requestparameters, '$.bucketname') AS b FROM openx"
    assert lake.sql(f"SELECT {found} WHERE eventname = 'GetObject'").item() == "b"


def test_a_line_that_is_not_json_is_an_error_naming_the_file(tmp_path: Path) -> None:
    folder = tmp_path / "events"
    folder.mkdir()
    (folder / "bad.json").write_text('{"a": "x"}\n{"a": oops}\n')
    lake = loglake.connect(str(tmp_path / "lake"), create=True)
    lake.catalog.update_lake_settings(allowed_locations=[str(folder)])
    lake.sql(
        "CREATE EXTERNAL TABLE strict (a string) ROW FORMAT SERDE "
        f"'org.openx.data.jsonserde.JsonSerDe' LOCATION '{folder}'"
    )
    lake.sql(
        "CREATE EXTERNAL TABLE lenient (a string) ROW FORMAT SERDE "
        "'org.openx.data.jsonserde.JsonSerDe' WITH SERDEPROPERTIES "
        f"('ignore.malformed.json'='true') LOCATION '{folder}'"
    )
    with pytest.raises(loglake.errors.CatalogError, match=r"bad\.json line 2: not a JSON object"):
        lake.sql("SELECT * FROM strict")
    assert lake.sql("SELECT a FROM lenient").rows() == [("x",), (None,)]


def test_explain_of_a_json_table_reads_no_file(tmp_path: Path) -> None:
    """EXPLAIN lists the files a query would read and its plan, without reading them: a file
    that cannot be read fails the query, never its EXPLAIN."""
    folder = tmp_path / "events"
    for day, text in (("2024-05-06", '{"a": "x"}\n'), ("2024-05-07", '{"a": oops}\n')):
        (folder / f"day={day}").mkdir(parents=True)
        (folder / f"day={day}" / "part.json").write_text(text)
    lake = loglake.connect(str(tmp_path / "lake"), create=True)
    lake.catalog.update_lake_settings(allowed_locations=[str(folder)])
    lake.sql(
        "CREATE EXTERNAL TABLE events (a string) PARTITIONED BY (day string) ROW FORMAT SERDE "
        f"'org.openx.data.jsonserde.JsonSerDe' LOCATION '{folder}'"
    )
    lake.sql("MSCK REPAIR TABLE events")
    plan = lake.explain("SELECT a, count(*) FROM events WHERE day >= '2024-05-06' GROUP BY a")
    assert "2 file(s) kept, 0 skipped" in plan and "day=2024-05-07/part.json" in plan
    with pytest.raises(loglake.errors.CatalogError, match=r"part\.json line 1"):
        lake.sql("SELECT a, count(*) FROM events WHERE day >= '2024-05-06' GROUP BY a")
    # the statement after an EXPLAIN reads the files again
    assert lake.sql("SELECT a FROM events WHERE day = '2024-05-06'").rows() == [("x",)]
